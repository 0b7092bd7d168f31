"""Problem set 08 (lecture 05): a closed-form ridge probe of codes, and a greedily
pretrained stack whose codes the grader probes with labels the notebook never sees."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..hints import register
from .base import Call, randint, randn
from .simple import FunctionQuestion
from .train import TrainCases, TrainQuestion, secret_images, subset_train

__all__ = ["RidgeProbeQuestion", "TrainStackQuestion", "ridge_probe"]


def _ridge_calls(gen):
    calls = []
    for _ in range(3):
        n, h, c = randint(gen, 20, 40), randint(gen, 3, 8), randint(gen, 2, 5)
        codes = randn(gen, n, h) + 2.0
        labels = torch.randint(0, c, (n,), generator=gen)
        lam = round(float(torch.rand((), generator=gen)) * 2 + 0.1, 3)
        calls.append(Call((codes, labels, c, lam),
                          label=f"ridge_probe(codes, labels, {c}, {lam})"))
    return calls


def ridge_probe(codes, labels, num_classes, lam, penalise_bias=False, bias=True,
                one_hot=True):
    """``W: (H + 1, C)`` minimising ``||[codes, 1] W - Y||^2 + lam ||W[:H]||^2`` (float64)."""
    x = codes.double()
    if bias:
        x = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
    y = F.one_hot(labels, num_classes).double() if one_hot else labels.double()[:, None]
    reg = torch.full((x.shape[1],), float(lam), dtype=x.dtype)
    if bias and not penalise_bias:
        reg[-1] = 0.0
    return torch.linalg.solve(x.T @ x + torch.diag(reg), x.T @ y)


RidgeProbeQuestion = FunctionQuestion(
    "ridge_probe", "probe weights", _ridge_calls, ridge_probe,
    mistakes=(
        ("leave the bias unpenalised: the penalty is lam times the squared norm of the "
         "weights of the H code units only", lambda *a: ridge_probe(*a, penalise_bias=True)),
    ),
    # a class has no code object of its own: watch the methods that do the fitting
    twins=("sklearn.linear_model:Ridge.fit", "sklearn.linear_model:RidgeClassifier.fit"),
)
register("ridge_probe",
         "Regress one-hot targets Y (N, C) on the codes with a constant column appended, "
         "X = [codes, 1] (N, H + 1): least squares plus a penalty (your derivation).",
         "Setting the gradient to zero gives the normal equations (X^T X + lam R) W = X^T Y, "
         "with R the identity except a 0 for the bias.",
         "torch.linalg.solve(X.T @ X + torch.diag(r), X.T @ Y) in float64, r = [lam] * H + [0].")

PROBE_FIT, PROBE_TEST, PROBE_LAM = 1000, 1000, 1.0
#: the size of the top code the question asks for
STACK_CODE = 64


def probe_accuracy(codes_fit, y_fit, codes_test, y_test, lam=PROBE_LAM) -> float:
    """Accuracy of the ridge probe fitted on ``codes_fit`` and scored on ``codes_test``."""
    w = ridge_probe(codes_fit, y_fit, 10, lam)
    x = torch.cat([codes_test.double(), torch.ones(len(codes_test), 1, dtype=torch.float64)],
                  dim=1)
    return float(((x @ w).argmax(1) == y_test).double().mean())


class _PCACodes(torch.nn.Module):
    """``encode(x)``: the projection of ``x`` on the top ``k`` principal directions of the
    training images (a linear, label-free code to compare a stack with)."""

    def __init__(self, train, k: int):
        super().__init__()
        x = train.images.reshape(len(train), -1).double()
        mean = x.mean(0)
        _, _, vh = torch.linalg.svd(x - mean, full_matrices=False)
        self.register_buffer("mean", mean.float())
        self.register_buffer("basis", vh[:k].T.float())

    def encode(self, x):
        return (x.reshape(len(x), -1) - self.mean) @ self.basis


def train_stack(profile: str, seed: int, experiment: str = "ps_stacked"):
    """The reference: ``StackedAutoencoder((784, 256, 64))`` pretrained greedily (no labels)
    on the shipped subset's training images with the budget of ``profile``."""
    from ...models import StackedAutoencoder
    from ...profiles import budget
    from ...seeding import seed_everything

    b = budget(experiment, profile=profile)
    seed_everything(seed)
    stack = StackedAutoencoder((784, 256, 64))
    stack.pretrain(subset_train(b.train_size), epochs_per_layer=b.epochs, seed=seed,
                   device="cpu", progress=False, verbose=False)
    return stack.eval()


class TrainStackQuestion(TrainQuestion):
    """``stack``: a greedily pretrained stack of one-layer autoencoders with ``encode(x)``
    (``x: (B, 784)``) giving the top code ``(B, H)``. The grader encodes the 2000 test images of
    the shipped subset, fits a ridge probe (``lam = 1``) on the codes of a secret half with
    their labels, and scores it on the other half: the accuracy must reach the band, and
    it must beat random sigmoid features of the same size (measured as a baseline)."""

    id = "train_stack"
    answer = "stack"
    reference_model = "`StackedAutoencoder((784, 256, 64))`"
    experiment = "ps_stacked"
    held_out = (f"the {PROBE_FIT + PROBE_TEST} test images, split at random into "
                f"{PROBE_FIT} to fit the probe and {PROBE_TEST} to score it")
    band_note = ("The top code must be 64 wide. The band grades the codes, not how they "
                 "were made (see course/grading.md).")
    metric = "held-out probe accuracy"
    unit = ""
    direction = "above"
    resolution = 0.001
    seconds = {"smoke": 60.0, "default": 300.0, "full": 3600.0}

    def cases(self, gen):
        x, y, ref = secret_images(gen, PROBE_FIT + PROBE_TEST)
        return TrainCases([Call((ref,), label="stack.encode(x)", method="encode")], {"y": y})

    def measure(self, cases, outputs):
        codes = outputs[0]["output"]
        y = cases.held["y"]
        if not torch.is_tensor(codes) or tuple(codes.shape) != (len(y), STACK_CODE):
            shape = tuple(codes.shape) if torch.is_tensor(codes) else type(codes).__name__
            raise ValueError(f"encode should return the top codes, shape ({len(y)}, "
                             f"{STACK_CODE}), got {shape}")
        if not bool(torch.isfinite(codes).all()):
            raise ValueError("the codes contain NaN or inf")
        return probe_accuracy(codes[:PROBE_FIT], y[:PROBE_FIT], codes[PROBE_FIT:],
                              y[PROBE_FIT:])

    def train_reference(self, profile, seed):
        return train_stack(profile, seed)

    def comparisons(self, profile):
        from ...profiles import budget

        return {"PCA-64 of the training images": _PCACodes(
            subset_train(budget("ps_stacked", profile=profile).train_size), STACK_CODE)}

    def baselines(self, profile):
        from ...models import StackedAutoencoder
        from ...seeding import seed_everything

        seed_everything(0)  # random sigmoid features of the same size
        return {"untrained": StackedAutoencoder((784, 256, STACK_CODE)).eval(),
                "one random 784-64 sigmoid layer": StackedAutoencoder((784, STACK_CODE)).eval()}

    def advice(self):
        return ("pretrain every layer (each on the codes of the layer below) for the "
                "budget's epochs, and let encode return the TOP layer's sigmoid codes")


register("train_stack",
         "Lecture 05, 'Greedy pretraining': layer k is a one-layer autoencoder "
         "(vae_edu.models.AutoencoderLayer) of the codes of layers 0..k-1, trained alone.",
         "Compute the codes of the layer below once, without gradients, train the next "
         "layer on them with vae_edu.train.fit, repeat; then encode runs the encoders in "
         "order.",
         "StackedAutoencoder((784, 256, 64)) pretrained with b.epochs epochs per layer "
         "reaches the band; its .layers are AutoencoderLayer objects you can fit one by one.")
