"""Linear probes: how linearly separable the classes are in a set of features (lecture 05).

A *linear probe* is a multinomial logistic regression trained on fixed features (raw
pixels, or the codes of a frozen encoder) with a few labelled examples, and scored on
held-out test examples.  :func:`linear_probe` trains it to convergence (L-BFGS) and picks
its L2 strength ``C`` by stratified cross-validation **on the labelled training examples
only**: the test set is never used to choose anything.

:func:`mean_sd` formats a number measured over several seeds as ``"mean ± sd"``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["DEFAULT_CS", "linear_probe", "mean_sd"]

#: The inverse L2 strengths ``C`` that :func:`linear_probe` chooses from (on standardised
#: features; larger = weaker regularisation).
DEFAULT_CS = (1e-3, 1e-2, 1e-1, 1.0)


def _matrix(a, name: str) -> np.ndarray:
    if torch.is_tensor(a):
        a = a.detach().cpu().numpy()
    a = np.asarray(a)
    if a.ndim != 2:
        raise ValueError(
            f"linear_probe: {name} must be a 2-d array (N, D) of features, got shape "
            f"{a.shape}; flatten images with split.flat() or encode them first"
        )
    if not np.isfinite(a).all():
        raise ValueError(f"linear_probe: {name} holds NaN or infinite values")
    return a.astype(np.float64)


def _labels(a, name: str, n: int) -> np.ndarray:
    if torch.is_tensor(a):
        a = a.detach().cpu().numpy()
    a = np.asarray(a)
    if a.ndim != 1 or len(a) != n or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(
            f"linear_probe: {name} must be {n} integer class labels (shape ({n},)), got "
            f"shape {a.shape} of dtype {a.dtype}"
        )
    return a


def linear_probe(
    train_features,
    train_labels,
    test_features,
    test_labels,
    *,
    Cs: Sequence[float] = DEFAULT_CS,
    folds: int = 3,
    seed: int = 0,
    max_iter: int = 2000,
) -> dict[str, float]:
    """Test accuracy of a converged logistic regression on fixed features.

    The features are standardised with the mean and sd of the training examples; ``C``
    (inverse L2 strength) is chosen from ``Cs`` by ``folds``-fold stratified
    cross-validation on the training examples (accuracy), then the model is refitted on
    all of them with that ``C`` and scored once on the test examples.

    Args:
        train_features: ``(N, D)`` features of the labelled training examples (tensor
            or array), e.g. ``split.flat()`` or ``encode_split(model, split)``.
        train_labels: ``(N,)`` integer labels; every class needs at least ``folds``
            examples.
        test_features: ``(M, D)`` features of the test examples.
        test_labels: ``(M,)`` integer labels.
        Cs: the candidate values of ``C``.
        folds: number of cross-validation folds (>= 2).
        seed: shuffles the folds.
        max_iter: the most L-BFGS iterations of each fit.

    Returns:
        ``{"accuracy": fraction in [0, 1] of test examples classified correctly,
        "C": the chosen C, "train_accuracy": accuracy on the training examples,
        "n_iter": L-BFGS iterations of the final fit, "converged": whether it stopped
        before ``max_iter``, "cv_unconverged": how many of the ``len(Cs) * folds``
        cross-validation fits reached ``max_iter``}``.  Convergence is reported, not
        silenced: a fit that reaches ``max_iter`` is counted, never hidden.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_train = _matrix(train_features, "train_features")
    x_test = _matrix(test_features, "test_features")
    if x_train.shape[1] != x_test.shape[1]:
        raise ValueError(
            f"linear_probe: train and test features differ in width ({x_train.shape[1]} "
            f"vs {x_test.shape[1]}); compute both with the same encoder"
        )
    y_train = _labels(train_labels, "train_labels", len(x_train))
    y_test = _labels(test_labels, "test_labels", len(x_test))
    if not isinstance(folds, int) or folds < 2:
        raise ValueError(f"linear_probe: folds must be an int >= 2, got {folds!r}")
    Cs = [float(c) for c in Cs]
    if not Cs or not all(c > 0 and math.isfinite(c) for c in Cs):
        raise ValueError(f"linear_probe: Cs must be positive finite numbers, got {Cs!r}")
    if not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"linear_probe: max_iter must be an int >= 1, got {max_iter!r}")
    counts = np.bincount(y_train)
    if counts[counts > 0].min() < folds:
        raise ValueError(
            f"linear_probe: the rarest class has {counts[counts > 0].min()} training "
            f"examples, fewer than folds={folds}; use fewer folds or more labels"
        )

    def model(c: float):
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter))

    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings(record=True) as caught:  # counted below, not silenced
        warnings.simplefilter("always", ConvergenceWarning)
        scores = [cross_val_score(model(c), x_train, y_train, cv=split).mean() for c in Cs]
        best = Cs[int(np.argmax(scores))]
        cv_unconverged = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
        clf = model(best).fit(x_train, y_train)
    for w in caught:  # other warnings pass through unchanged
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    n_iter = int(np.max(clf[-1].n_iter_))
    return {
        "accuracy": float(clf.score(x_test, y_test)),
        "C": best,
        "train_accuracy": float(clf.score(x_train, y_train)),
        "n_iter": n_iter,
        "converged": n_iter < max_iter,
        "cv_unconverged": int(cv_unconverged),
    }


def mean_sd(values, digits: int = 3) -> str:
    """``"mean ± sd"`` of numbers measured over seeds (sample sd, ``n - 1``; ``digits``
    after the point).  Needs at least two values: one seed has no spread."""
    values = [float(v) for v in values]
    if len(values) < 2:
        raise ValueError(f"mean_sd needs at least two values (seeds), got {values!r}")
    a = np.asarray(values)
    return f"{a.mean():.{digits}f} ± {a.std(ddof=1):.{digits}f}"
