"""PCA is the best linear autoencoder: the model, the principal components and the angles.

A linear autoencoder maps an image ``x`` (784 pixels) to a code ``h = W_e x + b_e`` of
``k`` numbers and back to ``x_hat = W_d h + b_d``, and is trained on the squared error
``sum_i (x_i - x_hat_i)**2``.  At every global minimum of that loss (Bourlard & Kamp,
Biological Cybernetics 1988; Baldi & Hornik, Neural Networks 1989) ``W_d W_e`` is the
orthogonal projection onto the span of the top-``k`` principal directions of the centred
data: the **column space** of the decoder ``W_d`` (784 x k) is the PCA subspace.  The
columns themselves are any basis of it (``W_d A`` and ``A^-1 W_e`` give the same map for
every invertible ``A``), so a learned decoder is compared with PCA by the **principal
angles** between the two subspaces (:func:`principal_angles`), not column by column.

* :class:`LinearAutoencoder` -- the model (``loss`` for :func:`vae_edu.train.fit`);
* :func:`principal_components` -- the top-k principal directions, ``(D, k)``;
* :func:`principal_angles` -- the angles between two column spaces, in degrees.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from .models.autoencoders.base import as_rows, batch_images
from .validation import positive_int

__all__ = ["LinearAutoencoder", "principal_angles", "principal_components"]


class LinearAutoencoder(nn.Module):
    """``x (B, D) -> h = W_e x + b_e (B, k) -> x_hat = W_d h + b_d (B, D)``, squared error.

    No nonlinearity anywhere, no sigmoid on the output: ``x_hat`` is a real vector, and
    the loss is the squared error summed over the ``D`` pixels, averaged over the batch
    (``{"loss", "recon"}``, squared pixel units per image, the measure of
    :func:`vae_edu.evaluate.reconstruction_sq_error`).

    Args:
        input_dim: D, pixels per image (784 for MNIST; images ``(B, 1, 28, 28)`` are
            flattened).
        code_dim: k, numbers in the code.

    ``decoder.weight`` is ``W_d``, shape ``(D, k)``: compare its column space with
    :func:`principal_components` by :func:`principal_angles`.
    """

    def __init__(self, input_dim: int = 784, code_dim: int = 2):
        super().__init__()
        self.input_dim = positive_int(input_dim, "LinearAutoencoder: input_dim")
        self.code_dim = positive_int(code_dim, "LinearAutoencoder: code_dim")
        if self.code_dim >= self.input_dim:
            raise ValueError(
                f"LinearAutoencoder: code_dim ({code_dim}) must be smaller than input_dim "
                f"({input_dim}); with k >= D the identity is a perfect solution and the "
                "decoder's column space says nothing about the data"
            )
        self.encoder = nn.Linear(self.input_dim, self.code_dim)
        self.decoder = nn.Linear(self.code_dim, self.input_dim)

    def _rows(self, x: Tensor) -> Tensor:
        return as_rows(x, self.input_dim, type(self).__name__)

    def encode(self, x: Tensor) -> Tensor:
        """x: (B, 1, 28, 28) or (B, D) -> code (B, k)."""
        return self.encoder(self._rows(x))

    def decode(self, code: Tensor) -> Tensor:
        """code: (B, k) -> reconstruction (B, D), real-valued (no sigmoid)."""
        return self.decoder(code)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, 1, 28, 28) or (B, D) -> reconstruction (B, D)."""
        return self.decode(self.encode(x))

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """The reconstruction, clipped to [0, 1], in the shape of ``x``."""
        return self(x).clamp(0, 1).reshape(x.shape)

    def loss(self, batch) -> dict[str, Tensor]:
        """Squared error summed over the D pixels, averaged over the batch."""
        x = self._rows(batch_images(batch))
        recon = (self(x) - x).pow(2).sum(dim=1).mean()
        return {"loss": recon, "recon": recon}


def _matrix(a, name: str, who: str) -> np.ndarray:
    if torch.is_tensor(a):
        a = a.detach().cpu().double().numpy()
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{who}: {name} must be a 2-D array, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{who}: {name} holds NaN or infinite values")
    return a


def principal_components(x, k: int) -> Tensor:
    """The top-``k`` principal directions of the rows of ``x``: ``(D, k)``, orthonormal.

    The eigenvectors of the covariance ``(x - mean)^T (x - mean) / N`` with the ``k``
    largest eigenvalues, largest first (computed in float64; the same directions as the
    right singular vectors of the centred data, at the cost of one ``D x D`` product).

    Args:
        x: ``(N, D)`` data, one example per row (a tensor or an array; ``split.flat()``).
        k: how many directions, ``1 <= k <= min(N, D)``.

    Returns:
        ``(D, k)`` float64 tensor with orthonormal columns.
    """
    x = _matrix(x, "x", "principal_components")
    k = positive_int(k, "principal_components: k")
    if k > min(x.shape):
        raise ValueError(
            f"principal_components: k = {k} directions asked of {x.shape[0]} examples of "
            f"{x.shape[1]} numbers; k can be at most {min(x.shape)}"
        )
    centred = x - x.mean(axis=0, keepdims=True)
    _, vectors = np.linalg.eigh(centred.T @ centred / len(x))  # eigenvalues ascending
    return torch.from_numpy(np.ascontiguousarray(vectors[:, ::-1][:, :k]))


def principal_angles(a, b) -> Tensor:
    """Principal angles between the column spaces of ``a (D, k)`` and ``b (D, m)``, in degrees.

    The i-th angle is ``arccos`` of the i-th singular value of ``Q_a^T Q_b``, with ``Q_a``,
    ``Q_b`` orthonormal bases of the two spaces (computed by
    :func:`scipy.linalg.subspace_angles`, which is accurate for small angles too).  All
    angles 0: the spaces are the same (or one holds the other); 90: a direction of one
    space is orthogonal to the whole other.  The columns need not be orthonormal, only
    independent: a basis of a space and any mixture ``a @ A`` of it (``A`` invertible)
    have the same angles to anything.

    Args:
        a, b: ``(D, k)`` and ``(D, m)`` tensors or arrays, the same ``D``, columns
            linearly independent (e.g. a decoder's ``weight`` and
            :func:`principal_components`).

    Returns:
        ``(min(k, m),)`` float64 tensor of angles in degrees, smallest first.
    """
    from scipy.linalg import subspace_angles

    a = _matrix(a, "a", "principal_angles")
    b = _matrix(b, "b", "principal_angles")
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"principal_angles: the columns of a {a.shape} and b {b.shape} must live in the "
            f"same space (the same number of rows); pass a decoder weight (D, k), not its "
            "transpose"
        )
    for name, m in (("a", a), ("b", b)):
        if m.shape[1] > m.shape[0]:
            raise ValueError(
                f"principal_angles: {name} has more columns than rows {m.shape}: columns are "
                "the basis vectors; transpose it"
            )
        if np.linalg.matrix_rank(m) < m.shape[1]:
            raise ValueError(
                f"principal_angles: the columns of {name} {m.shape} are linearly dependent, so "
                "they do not span a space of that dimension; drop the dependent columns"
            )
    angles = np.degrees(subspace_angles(a, b))  # largest first
    return torch.from_numpy(np.sort(angles))
