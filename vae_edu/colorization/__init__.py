"""Diverse image colorization (lecture 09): P(colour field | grey image).

Deshpande et al., "Learning Diverse Image Colorization", CVPR 2017. Colorization is
ambiguous (a grey shirt may be blue, red or yellow), so instead of one answer we want
samples from P(C | G), the colour field C given the grey image G. The modules:

* :mod:`~vae_edu.colorization.lab`: sRGB <-> Lab in torch; G is L, C is ab;
* :mod:`~vae_edu.colorization.data`: the hued-MNIST ambiguity set, patches of the
  photographs shipped with scikit-image and scikit-learn, CIFAR-10 on request;
* :mod:`~vae_edu.colorization.losses`: L_hist, L_mah, L_grad (the decoder loss) and the
  MDN's negative log-likelihood;
* :mod:`~vae_edu.colorization.models`: L2 regression, a CVAE, the colour-field VAE and
  the mixture density network;
* :mod:`~vae_edu.colorization.metrics`: best-of-k and expected error, diversity, mode
  coverage (and their versions weighted by the mixture weights);
* :mod:`~vae_edu.colorization.baselines`: reference colourizers that put best-of-k on a
  scale (the oracle of the ambiguity set, fixed tints);
* :mod:`~vae_edu.colorization.plots` and :mod:`~vae_edu.colorization.widget`: figures and
  an explorer of the M colourizations of an image.
"""

from .baselines import InkTints, evenly_spaced_tints
from .data import HUES, ColorFields, hued_mnist, load_photos, photo_patches
from .lab import AB_SCALE, lab_to_rgb, merge_grey_color, rgb_to_lab, split_grey_color
from .losses import (
    ColorHistogram,
    ColorPCA,
    DecoderLoss,
    gradient_loss,
    histogram_loss,
    image_gradients,
    l2_loss,
    mahalanobis_loss,
    mdn_nearest_nll,
    mdn_nll,
)
from .metrics import (
    best_of_k_error,
    diversity,
    expected_error,
    field_distance,
    hue_of,
    mode_coverage,
    score_colorizer,
    weighted_coverage,
    weighted_diversity,
)
from .models import MDN, ColorCVAE, ColorFieldVAE, DiverseColorizer, L2Colorizer

__all__ = [
    "AB_SCALE",
    "HUES",
    "MDN",
    "ColorCVAE",
    "ColorFieldVAE",
    "ColorFields",
    "ColorHistogram",
    "ColorPCA",
    "DecoderLoss",
    "DiverseColorizer",
    "InkTints",
    "L2Colorizer",
    "best_of_k_error",
    "diversity",
    "evenly_spaced_tints",
    "expected_error",
    "field_distance",
    "gradient_loss",
    "histogram_loss",
    "hue_of",
    "hued_mnist",
    "image_gradients",
    "l2_loss",
    "lab_to_rgb",
    "load_photos",
    "mahalanobis_loss",
    "mdn_nearest_nll",
    "mdn_nll",
    "merge_grey_color",
    "mode_coverage",
    "photo_patches",
    "rgb_to_lab",
    "score_colorizer",
    "split_grey_color",
    "weighted_coverage",
    "weighted_diversity",
]
