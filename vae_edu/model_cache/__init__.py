"""Trained models kept on disk, so that a lecture re-opens in seconds with the same results.

Every training cell of the lectures names its experiment::

    history = fit(model, train, test, epochs=b.epochs, device=device, cache="06-vae2")

The first run trains as usual and stores the weights, the :class:`~vae_edu.train.History`
and the random state after training; the next run of the same experiment (a restarted
kernel, another day, another machine with the same cache) loads them instead and prints one
line saying what it loaded and how long the training took originally.  What follows the
cell then sees exactly what it would have seen after training: the same weights, the same
history and the same state of torch's random generator.

The key of an entry covers everything that changes the result of training:

* the experiment name and the profile in force;
* the model: its class (and, for a class defined in the notebook, the code of its
  methods), the settings held by each of its modules (``lam``, ``sigma``, ...), its
  initial weights (which also capture the seed and the constructor arguments) and which
  parameters are frozen;
* the arguments of :func:`~vae_edu.train.fit` (epochs, learning rate, batch size, seed,
  ``restore_best``, ``loss_fn`` by its code, an explicit optimizer by its settings and
  state);
* the data, by a SHA-256 fingerprint of the tensors trained, validated and evaluated on (full MNIST,
  the shipped subset and any other folder or subset differ), computed once per tensor
  and process;
* torch's random state when training starts;
* the training code: :data:`vae_edu.train.TRAINING_CODE_VERSION`, a digest of the
  library's modelling and training sources, the Python and torch versions.

Anything else that changes (a budget, a data source, a penalty weight) trains anew.

Where: ``$VAE_EDU_CACHE/models`` (default ``~/.cache/vae_edu/models``).
``VAE_EDU_CACHE_MODELS=off`` always trains; ``VAE_EDU_CACHE_MODELS=/some/folder`` keeps
the models there instead.  Entries are written atomically and read with
``torch.load(weights_only=True)``: loading never runs code from the file.  A broken,
foreign or unwritable entry gives one line and the cell trains as if there were no cache.

Modules: :mod:`~vae_edu.model_cache.keys` (fingerprints and the key),
:mod:`~vae_edu.model_cache.store` (entries on disk, :func:`cached_fit`),
:mod:`~vae_edu.model_cache.archive` (``vae-edu cache list|clear|export|import``),
:mod:`~vae_edu.model_cache.results` (:func:`cached_call`: measurements kept the same way).
"""

from .. import __version__
from .archive import (
    ARCHIVE_FORMAT,
    MANIFEST,
    ArchiveError,
    clear,
    export_cache,
    import_cache,
    list_entries,
)
from .keys import (
    data_fingerprint,
    describe,
    experiment_key,
    module_fingerprint,
    tensor_digest,
    training_code_digest,
    training_code_files,
)
from .results import cached_call
from .store import (
    ENTRY_FORMAT,
    MODELS_ENV,
    CacheEntryError,
    EntryInfo,
    cached_fit,
    entry_info,
    models_dir,
)

__all__ = [
    "ARCHIVE_FORMAT", "ENTRY_FORMAT", "MANIFEST", "MODELS_ENV", "ArchiveError",
    "CacheEntryError", "EntryInfo", "__version__", "cached_call", "cached_fit", "clear",
    "data_fingerprint",
    "describe", "entry_info", "experiment_key", "export_cache", "import_cache",
    "list_entries", "models_dir", "module_fingerprint", "tensor_digest",
    "training_code_digest", "training_code_files",
]
