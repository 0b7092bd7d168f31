"""Profiles: how much training a notebook does, chosen by one environment variable.

``VAE_EDU_PROFILE`` picks one of

* ``smoke``   — CI: seconds per notebook, just enough to prove every cell runs;
* ``default`` — a laptop CPU: each lecture in a few minutes, results worth looking at;
* ``full``    — a GPU: published-quality results.

Notebooks never hard-code epochs or data sizes; they ask for a :class:`Budget`::

    from vae_edu.profiles import budget
    b = budget("vae")            # b.epochs, b.train_size, b.test_size, b.batch_size

so the same cell runs unchanged in CI, on a laptop and on a GPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

PROFILE_ENV = "VAE_EDU_PROFILE"
# "0" turns the training progress bars of fit() off.  `vae-edu execute` and the test suite
# set it: a stored notebook keeps no widget state, so a stored bar would read 0 % forever;
# the per-epoch lines fit() prints are kept.
PROGRESS_ENV = "VAE_EDU_PROGRESS"
PROFILE_NAMES = ("smoke", "default", "full")

PROFILE_DESCRIPTIONS = {
    "smoke": "CI smoke run: seconds per notebook, results not meaningful",
    "default": "laptop CPU: a lecture in a few minutes, results worth looking at",
    "full": "GPU: long runs for published-quality results",
}


@dataclass(frozen=True)
class Budget:
    """How much one experiment trains under the profile in force.

    ``train_size`` / ``test_size`` are numbers of images (``None`` = the whole split);
    ``epochs`` counts passes over those ``train_size`` images.
    """

    profile: str
    epochs: int
    train_size: int | None
    test_size: int | None
    batch_size: int = 128


# epochs, train_size, test_size for each profile, per experiment.  One table, so an
# instructor tunes the course in one place.  Lectures add their experiments here.
_SMOKE = (1, 512, 256)
BUDGETS: dict[str, dict[str, tuple[int, int | None, int | None]]] = {
    # the generic budget for a small model on MNIST
    "generic": {"smoke": _SMOKE, "default": (5, None, None), "full": (50, None, None)},
    # lecture 00: the one explicit training loop of the course, compared with
    # fit(epochs=1), so one pass (epochs stays 1) over train_size images in batches of 128:
    # 235 steps on 30,000 images, ~3.5 s on one CPU thread (47 on the shipped subset)
    "loop": {"smoke": _SMOKE, "default": (1, 30000, None), "full": (1, None, None)},
    # the reference MLP VAE (784-400-20); the PyTorch example trains it for 10 epochs
    "vae": {"smoke": _SMOKE, "default": (10, None, None), "full": (200, None, None)},
    # a VAE on dynamically binarised MNIST, scored by IWAE (published: hundreds of epochs)
    "vae_binarized": {"smoke": _SMOKE, "default": (10, None, None), "full": (1000, None, None)},
    # a small MLP autoencoder (784-256-32), lectures 01-02
    "ae": {"smoke": _SMOKE, "default": (10, None, None), "full": (50, None, None)},
    # the denoising autoencoder of lecture 02 (one model per corruption type)
    "denoising": {"smoke": _SMOKE, "default": (5, None, None), "full": (50, None, None)},
    # lecture 02: every MNIST autoencoder it trains (one denoising AE per corruption, three
    # seeds of the masking DAE and of the plain AE, the overcomplete 784-1000 AE and its
    # masking DAE), all at the same number of steps: 4 passes over 30,000 images = 940
    # steps, four points per curve.
    # At 390 steps the masking DAE was no better than the plain AE on masked inputs (66 vs
    # 66 nats above the floor); at 938 steps (2 passes over 60,000) ~19 nats better, seed
    # spread < 1
    "denoising_compare": {"smoke": _SMOKE, "default": (4, 30000, None), "full": (50, None, None)},
    # lecture 02: the denoising autoencoder of 2-D points (vae_edu.toys.ring_of_gaussians);
    # train_size, test_size count points, trained in batches of 1000
    "dae_toy": {"smoke": (2, 2000, 500), "default": (20, 50000, 5000),
                "full": (100, 200000, 5000)},
    # the sparse autoencoders of lecture 03 (KL and L1 penalties)
    "sparse": {"smoke": _SMOKE, "default": (5, None, None), "full": (50, None, None)},
    # lecture 03: plain, KL- and L1-sparse AEs with weight decay, 3 seeds each, and a KL AE
    # without it (10 models, Adam lr 1e-2). After 2 epochs many KL filters were still
    # whole-digit shapes; after 4 (1876 steps) their median footprint is 15-16 pixels (a
    # digit's: 44) and many are single strokes; at lr 1e-3, 1600 steps left templates
    "sparse_compare": {"smoke": _SMOKE, "default": (4, None, None), "full": (30, None, None)},
    # the contractive autoencoder of lecture 04
    "contractive": {"smoke": _SMOKE, "default": (5, None, None), "full": (50, None, None)},
    # the deep 784-1000-500-250-30 autoencoder of Hinton & Salakhutdinov (2006)
    "ae_deep": {"smoke": _SMOKE, "default": (10, None, None), "full": (200, None, None)},
    # lecture 01: the 784-1000-500-250-2 autoencoder of H&S's Fig. 3, from a random start
    # (ReLU, Adam 1e-3): 5 passes over 60,000 images = 2345 steps, about 100 s of one thread
    # on a 2-core Intel CPU (2026-12-03, the epoch times of the stored run, scoring included).
    # Measured once (seed 0, 5-NN on 2,500 + 2,500 test codes, the lecture's own test
    # halves: there is no validation split): 0.758 after 5 epochs, 0.760 after 10, 0.786
    # after 14, 0.791 after 20 (stopped there); the lecture's cold run (168-201 s wall, one
    # thread, full MNIST) must stay under 5 minutes
    "ae_deep_fig3": {"smoke": _SMOKE, "default": (5, None, None), "full": (50, None, None)},
    # lecture 01: the linear autoencoder (784-8-784, squared error) compared with PCA: epochs
    # at Adam lr 1e-2, then one more at 1e-3 (at 1e-2 alone the angles stop at 2-5 degrees)
    "linear_ae": {"smoke": _SMOKE, "default": (3, None, None), "full": (20, None, None)},
    # greedy layer-wise pretraining of a stacked autoencoder: epochs per layer
    "stacked_pretrain": {"smoke": _SMOKE, "default": (3, None, None), "full": (30, None, None)},
    # fine-tuning the pretrained stack with few labels (the labelled set is tiny)
    "stacked_finetune": {"smoke": (2, 1000, 256), "default": (100, None, None),
                         "full": (300, None, None)},
    # lecture 05: every few-label classifier (scratch, fine-tuned, frozen) gets the same
    # number of OPTIMISER STEPS whatever its label count: epochs = steps of 100 labelled
    # images (500 epochs of 100 labels, 50 of 1000). At 500 steps the 100- and 1000-label
    # networks fit their training labels (mean train loss 0.02-0.11 nats); 100 steps (the old
    # 100 epochs of 100 labels) left the frozen head far from converged. train_size: the
    # training images whose codes are the kNN reference set of the closing table
    "stacked_labelled": {"smoke": (20, 1000, 256), "default": (500, 10000, None),
                         "full": (2000, None, None)},
    # Gaussian-decoder VAEs with a fixed sigma (lecture 06): 3 passes over 30,000 images
    # (705 steps) under default: KL per image 4.9 (sigma 1) vs 75.1 (sigma 0.1) nats
    "vae_sigma": {"smoke": _SMOKE, "default": (3, 30000, None), "full": (50, None, None)},
    # lecture 06: the 2-D autoencoder and VAE whose latent planes are drawn (5 epochs)
    "vae_2d": {"smoke": _SMOKE, "default": (5, None, None), "full": (50, None, None)},
    # lecture 06, the amortisation gap: epochs = Adam steps (lr 0.02, falling to 0) on each
    # test image's (mu, log sigma^2), test_size = test images so optimised (train_size: not
    # used). Lecture 06 measures the gap on its 100 images after 300 and 1000 steps
    "amortisation": {"smoke": (20, 0, 8), "default": (300, 0, 100), "full": (1000, 0, 1000)},
    # the convolutional VAE of lecture 07 and the MLP VAE it is compared with, three seeds
    # each, on dynamically binarised MNIST: default 3 passes over 30,000 images = 705 steps
    # (a conv VAE training step is 6.5x the multiply-adds of an MLP VAE step, forward and
    # backward; in the stored run, on one thread of a 2-core AMD CPU with the other core idle,
    # a conv VAE epoch took 13-16 s and an MLP VAE epoch 2.6-2.9 s), test curves on 2,000
    # test images
    "conv_vae": {"smoke": _SMOKE, "default": (3, 30000, 2000), "full": (100, None, None)},
    # `vae-edu bench quality --only conv07`: the same comparison trained longer, outside the
    # lecture (all training images but 5,000 held out for validation; 500 test images are
    # scored with IWAE_200 and test_size for the curves)
    "conv_vae_long": {"smoke": (1, 512, 256), "default": (20, None, 2000),
                      "full": (100, None, None)},
    # the conditional VAE of lecture 08 (MLP, 2-d latent) and the 2-d VAE it is compared with
    # lecture 08: the 2-D CVAE and VAE whose latent planes are drawn, 5 epochs (to fit the
    # lecture's CPU budget; the 2-D CVAE's test loss: 136.2 after 5, 133.8 after 10)
    "cvae": {"smoke": _SMOKE, "default": (5, None, None), "full": (100, None, None)},
    # lecture 08: CVAEs conditioned on [digit, 4 measured attributes] on dynamically
    # binarised MNIST, N(0, I) and learned prior, 3 seeds each, 4 passes over 60,000 images
    # (1876 steps; ~9 s of one loaded CPU thread per pass); the test loss still falls about
    # 3 nats per pass at the end: the priors are compared at equal budget, not converged
    "cvae_attributes": {"smoke": _SMOKE, "default": (4, None, None), "full": (100, None, None)},
    # end-to-end fine-tuning of the unrolled, pretrained deep autoencoder (lecture 05)
    "stacked_finetune_ae": {"smoke": _SMOKE, "default": (2, None, None),
                            "full": (30, None, None)},
    # lecture 09: the colorization models on the hued-MNIST ambiguity set (L2, CVAE, VAE;
    # test_size also sets the number of validation digits held out of the training digits)
    "colorization_mnist": {"smoke": (1, 256, 64), "default": (10, 3000, 500),
                           "full": (30, None, None)},
    # lecture 09: the CVAE baseline on the ambiguity set, trained longer than the others
    # (its test loss fell by a third over epochs 15-25 in the stored run of stop 24); every
    # model there keeps its best epoch on 500 validation digits, so a longer budget costs
    # time, not fairness
    "colorization_cvae": {"smoke": (2, 256, 64), "default": (40, 3000, 500),
                          "full": (60, None, None)},
    # lecture 09: the photo CVAE baseline (epochs only; the sizes are colorization_photos')
    "colorization_photo_cvae": {"smoke": (2, 256, 64), "default": (15, 3000, 500),
                                "full": (60, None, 2000)},
    # lecture 09: the same on 32 x 32 patches of the shipped photographs (training and
    # test from different photographs), and the decoder-loss ablation
    "colorization_photos": {"smoke": (1, 256, 64), "default": (5, 3000, 500),
                            "full": (30, None, 2000)},
    # lecture 09: the mixture density network G -> z, trained on the codes of (up to
    # train_size of) the colour-field VAE's training images
    "colorization_mdn": {"smoke": (2, 256, 64), "default": (20, None, None),
                         "full": (100, None, None)},
    # problem sets (solutions/): train-and-report questions, on the shipped MNIST subset
    # (at most 6000 training images) so that every machine trains the same thing. Even
    # smoke trains enough to beat the bands' baselines (a model that outputs the mean
    # image: ~200 nats; random features for the stack): 2 epochs of 1024 images did not
    "ps_vae": {"smoke": (3, 6000, 256), "default": (10, 6000, 1000), "full": (50, 6000, 1000)},
    "ps_iwae": {"smoke": (3, 6000, 256), "default": (8, 6000, 1000), "full": (50, 6000, 1000)},
    # 4 epochs left three seeds 20 nats apart (144-164); 8 agree within ~1 nat
    "ps_conv_vae": {"smoke": (5, 6000, 256), "default": (8, 6000, 1000),
                    "full": (30, 6000, 1000)},
    "ps_cvae": {"smoke": (3, 6000, 256), "default": (10, 6000, 1000), "full": (50, 6000, 1000)},
    # smoke as default: with 8 epochs per layer one random 784-64 layer reached the band
    "ps_stacked": {"smoke": (20, 6000, 256), "default": (20, 6000, 1000),
                   "full": (60, 6000, 1000)},
    # the mixture density network of problem set 06, on vae_edu.toys.two_branch_colours
    "ps_mdn": {"smoke": (5, 2048, 1000), "default": (60, 8192, 1000), "full": (200, 8192, 1000)},
}


#: IWAE estimates of log p(x): (importance samples k, test images scored; None = all), per
#: profile.  Used by ``vae-edu bench quality`` and lecture 06.
IWAE_BUDGETS: dict[str, tuple[int, int | None]] = {
    "smoke": (20, 100),
    "default": (5000, 500),
    "full": (5000, None),
}


class UnknownProfileError(ValueError):
    """Raised for a profile name that is not one of :data:`PROFILE_NAMES`."""


def check_profile(name: str) -> str:
    """Return ``name`` if it is a valid profile, else raise one clear error."""
    if name not in PROFILE_NAMES:
        raise UnknownProfileError(
            f"unknown profile {name!r}; valid profiles are {', '.join(PROFILE_NAMES)} "
            f"(set {PROFILE_ENV} to one of them, or unset it for 'default')"
        )
    return name


def current_profile() -> str:
    """The profile in force: ``$VAE_EDU_PROFILE``, or ``default`` when it is unset or empty."""
    name = os.environ.get(PROFILE_ENV, "").strip() or "default"
    return check_profile(name)


def budget(experiment: str = "generic", *, profile: str | None = None, **overrides) -> Budget:
    """The training budget of ``experiment`` under ``profile`` (default: the profile in force).

    Keyword overrides (``epochs=3``) replace single fields, for "try this" cells.
    """
    name = check_profile(profile) if profile is not None else current_profile()
    if experiment not in BUDGETS:
        raise KeyError(
            f"no budget named {experiment!r}; known experiments: {', '.join(sorted(BUDGETS))}"
        )
    epochs, train_size, test_size = BUDGETS[experiment][name]
    result = Budget(profile=name, epochs=epochs, train_size=train_size, test_size=test_size)
    return replace(result, **overrides) if overrides else result


def iwae_budget(profile: str | None = None) -> tuple[int, int | None]:
    """``(k, n_images)`` of an IWAE estimate under ``profile`` (default: the one in force)."""
    name = check_profile(profile) if profile is not None else current_profile()
    return IWAE_BUDGETS[name]
