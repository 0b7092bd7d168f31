"""The course tooling: everything that runs the course rather than teaches it.

The teaching library (``vae_edu.data``, ``models``, ``losses``, ``train``, ``evaluate``,
``viz``, ``widgets``, ``colorization``, ...) is what lectures import; it imports nothing
from here (``tests/test_import_graph.py`` checks it). Here:

* ``cli``: the ``vae-edu`` command; ``cache_cli``: its ``cache`` sub-commands;
* ``notebooks``: executing notebooks in place in a clean kernel (``vae-edu execute``);
* ``course``: the table of contents ``course/toc.toml``; ``colab``: the Colab badge and
  install cell;
* ``pretrain``: training every model of the lectures into the model cache;
* ``bench``: benchmarks (data pipeline, published figures, widgets, lectures, grading);
* ``grader``: the batch side of grading: generating ``exercises/`` from ``solutions/``,
  grading a class in a sandbox, shards, exporters, the student release.

The checks a student calls inside an exercise notebook are :mod:`vae_edu.grading`.
"""
