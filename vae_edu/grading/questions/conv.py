"""Problem set 07 (lecture 07): convolution output sizes, the parameter count of a
convolutional VAE as a function of the image size, and a trained conv VAE."""

from __future__ import annotations

import math

from ..hints import register
from .base import Call, randint
from .simple import FunctionQuestion
from .vae_nn import TrainVAEQuestion, train_conv_vae

__all__ = ["ConvOutQuestion", "ConvParamsQuestion", "ConvTransposeOutQuestion",
           "TrainConvVAEQuestion"]


def _conv_calls(gen):
    calls = []
    for _ in range(10):
        size, k = randint(gen, 5, 64), randint(gen, 1, 5)
        s, p, d = randint(gen, 1, 3), randint(gen, 0, 2), randint(gen, 1, 2)
        if size + 2 * p < d * (k - 1) + 1:
            size = d * (k - 1) + 1
        calls.append(Call((size, k), {"stride": s, "padding": p, "dilation": d},
                          label=f"conv2d_out_size({size}, {k}, stride={s}, padding={p}, "
                          f"dilation={d})"))
    return calls


def conv_out(size, kernel, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


ConvOutQuestion = FunctionQuestion(
    "conv2d_out_size", "size", _conv_calls, conv_out,
    mistakes=(
        ("the dilated kernel spans dilation * (kernel - 1) + 1 pixels, not kernel",
         lambda n, k, stride=1, padding=0, dilation=1: (n + 2 * padding - k) // stride + 1),
        ("round DOWN: a window that does not fit entirely is dropped (floor, not ceil)",
         lambda n, k, stride=1, padding=0, dilation=1: math.ceil(
             (n + 2 * padding - dilation * (k - 1) - 1) / stride) + 1),
        ("padding is added on both sides: 2 * padding",
         lambda n, k, stride=1, padding=0, dilation=1: (n + padding - dilation * (k - 1) - 1)
         // stride + 1),
    ),
    # building a layer and reading its output shape answers it without the arithmetic
    # (torch.nn.functional.conv2d is a C function: a profile hook cannot see it)
    twins=tuple(f"torch.nn.modules.conv:Conv{d}d.forward" for d in (1, 2, 3)),
)
register("conv2d_out_size",
         "Lecture 07's shape trace: count the positions a window can take along one axis.",
         "The window covers dilation * (kernel - 1) + 1 input pixels; the padded input has "
         "size + 2 * padding; the window moves by stride.",
         "floor((size + 2 padding - dilation (kernel - 1) - 1) / stride) + 1, with // in Python.")


def _convt_calls(gen):
    calls = []
    for _ in range(10):
        size, k = randint(gen, 2, 30), randint(gen, 1, 5)
        s, p, d = randint(gen, 1, 3), randint(gen, 0, 2), randint(gen, 1, 2)
        op = randint(gen, 0, s - 1)
        out = (size - 1) * s - 2 * p + d * (k - 1) + op + 1
        if out < 1:
            p = 0
        calls.append(Call((size, k), {"stride": s, "padding": p, "output_padding": op,
                                      "dilation": d},
                          label=f"conv_transpose2d_out_size({size}, {k}, stride={s}, "
                          f"padding={p}, output_padding={op}, dilation={d})"))
    return calls


def convt_out(size, kernel, stride=1, padding=0, output_padding=0, dilation=1):
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


ConvTransposeOutQuestion = FunctionQuestion(
    "conv_transpose2d_out_size", "size", _convt_calls, convt_out,
    mistakes=(
        ("a transposed convolution has (size - 1) * stride between its first and last "
         "window, not size * stride",
         lambda n, k, stride=1, padding=0, output_padding=0, dilation=1:
         n * stride - 2 * padding + dilation * (k - 1) + output_padding + 1),
        ("output_padding is added to one side of the output: + output_padding",
         lambda n, k, stride=1, padding=0, output_padding=0, dilation=1:
         (n - 1) * stride - 2 * padding + dilation * (k - 1) + 1),
        ("padding REMOVES 2 * padding from a transposed convolution's output",
         lambda n, k, stride=1, padding=0, output_padding=0, dilation=1:
         (n - 1) * stride + 2 * padding + dilation * (k - 1) + output_padding + 1),
    ),
    twins=tuple(f"torch.nn.modules.conv:ConvTranspose{d}d.forward" for d in (1, 2, 3)),
)
register("conv_transpose2d_out_size",
         "A transposed convolution is the gradient of a convolution: its output size is the "
         "input size of the convolution it inverts.",
         "Solve your conv2d formula for the input size; output_padding resolves the "
         "ambiguity that floor creates when stride > 1.",
         "(size - 1) * stride - 2 padding + dilation (kernel - 1) + output_padding + 1.")


def _params_calls(gen):
    calls = []
    for _ in range(6):
        side = 4 * randint(gen, 2, 40)
        c1, c2, z = randint(gen, 2, 64), randint(gen, 2, 128), randint(gen, 2, 64)
        calls.append(Call((side, c1, c2, z), label=f"conv_vae_parameters({side}, {c1}, {c2}, "
                          f"{z})"))
    return calls


def conv_vae_params(side, c1, c2, z, biases=True, flat_side=None, decoder_linear=True):
    b = 1 if biases else 0
    flat = c2 * (flat_side or side // 4) ** 2
    enc = (16 * c1 + b * c1) + (16 * c1 * c2 + b * c2)
    heads = flat * 2 * z + b * 2 * z
    dec = (z * flat + b * flat if decoder_linear else 0) + (16 * c2 * c1 + b * c1) + (
        16 * c1 + b)
    return enc + heads + dec


ConvParamsQuestion = FunctionQuestion(
    "conv_vae_parameters", "parameter count", _params_calls, conv_vae_params,
    mistakes=(
        ("count the biases too: one per output channel of a convolution, one per output of a "
         "Linear", lambda *a: conv_vae_params(*a, biases=False)),
        ("the flattened features have c2 * (side / 4)^2 values: two stride-2 layers halve "
         "the side twice", lambda s, c1, c2, z: conv_vae_params(s, c1, c2, z,
                                                                  flat_side=s // 2)),
        ("the decoder starts with a Linear from the code to c2 * (side / 4)^2 features; count "
         "it", lambda *a: conv_vae_params(*a, decoder_linear=False)),
    ),
    # building the layers and counting their parameters answers it without the formula
    twins=("torch.nn.modules.conv:Conv2d.__init__",
           "torch.nn.modules.conv:ConvTranspose2d.__init__",
           "torch.nn.modules.linear:Linear.__init__",
           "vae_edu.models.conv_vae:ConvVAE.__init__"),
)
register("conv_vae_parameters",
         "Lecture 07, 'The convolutional VAE', prints the layers of ConvVAE and their shapes "
         "for 28 x 28: redo that table for a side s (a multiple of 4).",
         "A Conv2d(c_in, c_out, 4) has c_out * c_in * 16 weights and c_out biases; a "
         "Linear(n, m) has n * m + m. After two stride-2 layers the maps are s/4 x s/4.",
         "Sum: two convolutions, the Linear(c2 (s/4)^2, 2z) heads, the decoder's Linear(z, "
         "c2 (s/4)^2) and two transposed convolutions.")


class TrainConvVAEQuestion(TrainVAEQuestion):
    """``conv_vae``: a convolutional VAE (``encode(x) -> (mu, logvar)`` with ``Z = 16`` for
    ``x: (B, 1, 28, 28)``, ``decode(z)`` -> logits ``(B, 1, 28, 28)``), measured like
    ``train_vae``."""

    id = "train_conv_vae"
    answer = "conv_vae"
    reference_model = "`ConvVAE(16, (32, 64))`"
    experiment = "ps_conv_vae"
    flat = False
    seconds = {"smoke": 90.0, "default": 300.0, "full": 3600.0}

    def train_reference(self, profile, seed):
        return train_conv_vae(profile, seed, experiment=self.experiment)

    def untrained(self):
        from ...models import ConvVAE
        from ...seeding import seed_everything

        seed_everything(0)
        return ConvVAE(latent_dim=16, channels=(32, 64)).eval()


register("train_conv_vae",
         "Build it as lecture 07 does (vae_edu.models.ConvVAE has the interface asked for) "
         "and train it with vae_edu.train.fit and the loss of problem set 03.",
         "ConvVAE(latent_dim=16, channels=(32, 64)) trained for b.epochs epochs reaches the "
         "band; check that decode returns logits, not probabilities.")
