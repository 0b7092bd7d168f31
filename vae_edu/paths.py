"""Where things are on disk: the folder that holds this package, and the course folder.

The course folder is the one that holds ``course/toc.toml`` (beside ``lectures/``,
``exercises/`` and ``solutions/``). Every command finds it the same way:
:func:`find_course_root` looks at and above a starting folder, then beside the package (an
editable install of the course repository); :func:`course_folder` gives one of its
sub-folders, for a ``--course DIR`` option or for none.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

__all__ = ["COURSE_OPTION_HELP", "PACKAGE_PARENT", "TOC_FILE", "course_folder", "find_course_root"]

#: The folder that holds the ``vae_edu`` package: the course checkout for an editable
#: install, ``site-packages`` for a wheel.
PACKAGE_PARENT = Path(__file__).resolve().parents[1]
#: The file that marks a course folder, relative to it.
TOC_FILE = PurePosixPath("course/toc.toml")
#: The help of every command's ``--course DIR`` option.
COURSE_OPTION_HELP = "the course folder (default: the current one, else the one beside the package)"


def find_course_root(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest folder at or above ``start`` that holds ``course/toc.toml``.

    With ``start=None``: at or above the current folder, else beside the package.
    ``None`` if there is none.
    """
    starts = [Path(start)] if start is not None else [Path.cwd(), PACKAGE_PARENT]
    for here in starts:
        here = here.resolve()
        if here.is_file():
            here = here.parent
        for folder in (here, *here.parents):
            if (folder / TOC_FILE).is_file():
                return folder
    return None


def course_folder(name: str, course: str | os.PathLike[str] | None = None) -> Path:
    """The folder ``name`` (``"solutions"``, ``"lectures"``...) of the course.

    course: the course folder given on the command line (``--course DIR``); by default
    ``./name`` when it exists, else ``name`` in :func:`find_course_root`'s folder.

    Raises:
        FileNotFoundError: naming where it looked and how to point at the course.
    """
    if course is not None:
        path = Path(course) / name
        if not path.is_dir():
            raise FileNotFoundError(f"no {name}/ folder in {course}; --course takes the "
                                    f"course folder, the one that holds {name}/")
        return path
    here = Path.cwd() / name
    if here.is_dir():
        return here
    root = find_course_root()
    if root is not None and (root / name).is_dir():
        return root / name
    raise FileNotFoundError(f"no {name}/ folder in {Path.cwd()} or in a course folder above "
                            f"it or beside the package; run the command in the course "
                            f"folder or pass --course DIR")
