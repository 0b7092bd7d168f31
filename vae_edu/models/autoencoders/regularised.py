"""Autoencoders with a penalty on the code: :class:`SparseAutoencoder` (L1 or KL(rho ||
rho_hat)) and :class:`ContractiveAutoencoder` (the Jacobian's Frobenius norm; tied or
untied weights)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...losses import (
    contractive_penalty_sigmoid,
    l1_activity_penalty,
    sparse_kl_penalty,
)
from ...validation import nonnegative_float, unit_interval
from .base import AutoencoderBase, batch_images, check_sizes, mlp

# ----------------------------------------------------------------------------- sparse


class SparseAutoencoder(AutoencoderBase):
    """An autoencoder with sigmoid hidden units that are pushed to be mostly off.

    ``loss = recon + weight * sparsity`` where, with ``h`` the code activations (B, H):

    * ``penalty="kl"``: ``sum_j KL(rho || rho_hat_j)`` with ``rho_hat_j`` the mean
      activation of unit ``j`` over the batch (Ng's lecture notes); zero when every unit
      is on a fraction ``rho`` of the time;
    * ``penalty="l1"``: ``mean_b sum_j |h_bj|`` (``rho`` is not used).

    Loss parts: ``{"loss", "recon", "sparsity"}`` (the sparsity unweighted, in nats for
    ``"kl"``).

    Args:
        sizes: layer widths, input first; every hidden layer (the code included) is
            sigmoid, the decoder mirrors the encoder and outputs logits.
        penalty: ``"kl"`` or ``"l1"``.
        rho: target mean activation for ``"kl"``, in (0, 1).
        weight: multiplies the penalty; ``None`` takes :attr:`DEFAULT_WEIGHT` of the penalty.
    """

    DEFAULT_WEIGHT = {"kl": 3.0, "l1": 0.5}

    def __init__(
        self,
        sizes: Sequence[int] = (784, 200),
        penalty: str = "kl",
        rho: float = 0.05,
        weight: float | None = None,
    ):
        super().__init__()
        if penalty not in self.DEFAULT_WEIGHT:
            raise ValueError(f"penalty must be 'kl' or 'l1', got {penalty!r}")
        if penalty == "kl":
            what = f"{type(self).__name__}: rho, the target mean activation,"
            unit_interval(rho, what, open_low=True, open_high=True)
        self.sizes = check_sizes(sizes, type(self).__name__)
        self.input_dim, self.code_dim = self.sizes[0], self.sizes[-1]
        self.penalty, self.rho = penalty, rho
        self.weight = self.DEFAULT_WEIGHT[penalty] if weight is None else weight
        self.encoder = mlp(self.sizes, "sigmoid", last_activation=True)  # codes in (0, 1)
        self.decoder = mlp(self.sizes[::-1], "sigmoid", last_activation=False)  # logits

    @torch.no_grad()
    def hidden(self, x: Tensor) -> Tensor:
        """The code activations (B, H), without gradients: histogram them."""
        return self.encode(x)

    def sparsity(self, h: Tensor) -> Tensor:
        """The (unweighted) penalty of activations ``h`` (B, H): a scalar."""
        if self.penalty == "kl":
            return sparse_kl_penalty(h, self.rho)  # rho_hat = mean over the batch
        return l1_activity_penalty(h)

    def loss(self, batch) -> dict[str, Tensor]:
        """Reconstruction NLL plus ``weight`` times the sparsity penalty, per image."""
        x = self._rows(batch_images(batch))
        h = self.encode(x)
        recon = self._recon(self.decode(h), x)
        sparsity = self.sparsity(h)
        return {"loss": recon + self.weight * sparsity, "recon": recon, "sparsity": sparsity}


# ----------------------------------------------------------------------------- contractive


class ContractiveAutoencoder(AutoencoderBase):
    """Contractive autoencoder (Rifai et al., 2011): a small encoder Jacobian is rewarded.

    Shapes, with ``D = input_dim`` pixels and ``H = hidden`` units:

    * input ``x``: images ``(B, 1, 28, 28)`` or rows ``(B, D)``, values in [0, 1];
    * encoder ``h = sigmoid(W x + b)``: ``self.encoder = Sequential(Linear(D, H),
      Sigmoid())``, ``W = encoder[0].weight`` of shape ``(H, D)``, ``b`` of shape ``(H,)``;
      ``encode(x)`` is ``h`` of shape ``(B, H)``;
    * decoder: logits ``decode(h) = h W_dec^T + c`` of shape ``(B, D)``, with
      ``W_dec = decoder.weight`` of shape ``(D, H)`` and ``c = decoder.bias`` of shape
      ``(D,)``.

    ``tied=False`` (the default): the decoder is ``Linear(H, D)`` with a weight of its own
    (parameters ``encoder.0.weight``, ``encoder.0.bias``, ``decoder.weight``,
    ``decoder.bias``).  ``tied=True``: the decoder reuses the encoder's weight,
    ``W_dec = W^T`` as in Rifai et al.'s CAE; ``decoder.weight`` is then a transposed VIEW
    of ``W`` (same storage, so the gradients of both uses add up in ``W.grad``) and the
    decoder's only parameter is ``decoder.bias`` (parameters ``encoder.0.weight``,
    ``encoder.0.bias``, ``decoder.bias``).  Tying closes a loophole of the untied model:
    it can lower the penalty by shrinking ``W`` alone, its decoder keeping a large weight
    that amplifies the smaller code changes; tied, one matrix has to do both jobs.

    The penalty is the squared Frobenius norm of the Jacobian ``dh/dx`` ``(H, D)``, which
    for one sigmoid layer is ``sum_j (h_j (1 - h_j))**2 * sum_i W_ji**2``; it depends on
    the encoder only, tied or not.  ``loss = recon + lam * contractive``.
    Loss parts: ``{"loss", "recon", "contractive"}``.

    Args:
        hidden: number of hidden units H.
        lam: weight of the penalty (lambda); ``0`` gives a plain sigmoid autoencoder.
        input_dim: number of pixels D.
        tied: share the encoder's weight with the decoder (``W_dec = W^T``).
    """

    class TiedDecoder(nn.Module):
        """``h (B, H) -> logits h W + c (B, D)``: the weight is the encoder's ``W (H, D)``.

        ``weight`` is ``W.T`` (shape ``(D, H)``, a view, like ``Linear(H, D).weight``), not
        a parameter of this module: only ``bias`` ``(D,)`` is.  It is initialised as
        ``Linear(H, D)`` initialises its bias.
        """

        def __init__(self, source: nn.Linear):
            super().__init__()
            self._source = (source,)  # a tuple: not a submodule, so W is stored once
            hidden, input_dim = source.out_features, source.in_features
            bound = 1.0 / hidden**0.5
            self.bias = nn.Parameter(torch.empty(input_dim).uniform_(-bound, bound))

        def extra_repr(self) -> str:
            source = self._source[0]
            return (f"in_features={source.out_features}, out_features={source.in_features}, "
                    "weight=encoder's weight transposed")

        @property
        def weight(self) -> Tensor:
            """The encoder's weight transposed: ``(D, H)``, sharing its storage."""
            return self._source[0].weight.t()

        def forward(self, code: Tensor) -> Tensor:
            """code (B, H) -> logits (B, D)."""
            return F.linear(code, self.weight, self.bias)

    def __init__(
        self, hidden: int = 200, lam: float = 1.0, input_dim: int = 784, tied: bool = False
    ):
        super().__init__()
        nonnegative_float(lam, f"{type(self).__name__}: lam, the weight of the penalty,")
        if not isinstance(tied, bool):
            raise TypeError(f"{type(self).__name__}: tied must be True or False, got {tied!r}")
        self.input_dim, self.code_dim, self.lam, self.tied = input_dim, hidden, lam, tied
        self.encoder = nn.Sequential(nn.Linear(input_dim, hidden), nn.Sigmoid())
        if tied:
            self.decoder = self.TiedDecoder(self.encoder[0])
        else:
            self.decoder = nn.Linear(hidden, input_dim)

    @torch.no_grad()
    def jacobian_norm(self, x: Tensor) -> Tensor:
        """Per-image squared Frobenius norm ``||dh/dx||_F**2`` of the encoder: shape (B,)."""
        h = self.encode(x)  # (B, H)
        row_norms_sq = (self.encoder[0].weight ** 2).sum(dim=1)  # (H,)
        return ((h * (1 - h)) ** 2 * row_norms_sq).sum(dim=1)

    def loss(self, batch) -> dict[str, Tensor]:
        """Reconstruction cross-entropy plus ``lam`` times the mean ``||J||_F**2``, per image.

        ``recon`` is the binary cross-entropy in nats (a Bernoulli NLL only on binary
        images; on grey levels it is at least :func:`~vae_edu.losses.bernoulli_nll_floor`).
        """
        x = self._rows(batch_images(batch))
        h = self.encode(x)
        recon = self._recon(self.decode(h), x)
        # the Jacobian is the encoder's: W alone, whether or not the decoder shares it
        contractive = contractive_penalty_sigmoid(h, self.encoder[0].weight)
        return {"loss": recon + self.lam * contractive, "recon": recon, "contractive": contractive}


