"""What one submission may use while it is graded: :class:`Limits`, and the ``vae-edu
grade`` options that set them (:data:`LIMIT_OPTIONS`, whose defaults are the class's).

Kept apart from the grader so that building the command-line parser imports nothing
heavy.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LIMIT_OPTIONS", "Limits"]


@dataclass(frozen=True)
class Limits:
    """What one submission may use.

    Attributes:
        cell_timeout: seconds one of the student's cells may run before it is interrupted.
        question_timeout: seconds the hidden tests of one question may run.
        notebook_timeout: seconds for the whole notebook, kernel start included; then the
            kernel is killed and what was not recorded earns nothing.
        memory_mb: memory of the kernel (``RLIMIT_DATA`` and resident memory), in MB;
            torch alone needs about 800.
        max_output_mb: output of the student's cells kept, in MB (the rest is dropped).
        max_file_mb: largest file the kernel may write, in MB.
        profile: ``VAE_EDU_PROFILE`` in the kernel (``smoke``: least training).
    """

    cell_timeout: float = 120.0
    question_timeout: float = 60.0
    notebook_timeout: float = 600.0
    memory_mb: int = 2048
    max_output_mb: float = 2.0
    max_file_mb: int = 100
    profile: str = "smoke"

    def validate(self) -> Limits:
        for name in ("cell_timeout", "question_timeout", "notebook_timeout", "max_output_mb"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if not isinstance(self.memory_mb, int) or self.memory_mb < 1024:
            raise ValueError(
                f"memory_mb must be an int >= 1024 (importing torch alone needs ~800 MB), "
                f"got {self.memory_mb!r}"
            )
        if not isinstance(self.max_file_mb, int) or self.max_file_mb < 1:
            raise ValueError(f"max_file_mb must be a positive int, got {self.max_file_mb!r}")
        from ...profiles import check_profile

        check_profile(self.profile)
        return self


#: ``vae-edu grade`` options of :class:`Limits`: (option, field, what it sets); the type and
#: the default are the field's.
LIMIT_OPTIONS = (
    ("--cell-timeout", "cell_timeout", "seconds per student cell"),
    ("--question-timeout", "question_timeout", "seconds for the hidden tests of one question"),
    ("--timeout", "notebook_timeout", "seconds per notebook, kernel start included"),
    ("--memory-mb", "memory_mb", "memory per kernel in MB (torch needs ~800)"),
    ("--max-output-mb", "max_output_mb", "output kept per notebook in MB"),
    ("--max-file-mb", "max_file_mb", "largest file a kernel may write, in MB"),
)
