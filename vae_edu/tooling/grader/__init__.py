"""The batch side of grading: what an instructor runs, never a student.

* ``notebook``: reading a solution notebook (its graded questions) and making the exercise;
  ``exercises``: ``vae-edu exercises``, writing ``exercises/`` from ``solutions/``;
* ``batch``: grading a folder of submissions (``vae-edu grade``), each kernel in a
  ``sandbox`` (``isolation``: bubblewrap or basic limits; ``kernel``: the kernel's entry
  point); ``classroom``: the class layer (bands, written answers, hints, twins, report);
* ``shards``: ``--shard K/N`` and ``vae-edu grade merge``;
* ``gradescope``, ``canvas``: exporters; ``release``: the student release;
* ``commands``, ``bands_command``: their command-line parts.

The checks the notebooks call (``grading.check``, ``grading.hint``) and the questions
with their references are in :mod:`vae_edu.grading`.
"""
