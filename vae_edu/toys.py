"""Small synthetic data sets whose true distribution is known (for the problem sets).

:func:`two_branch_colours`: a 1-D "grey level" g and a 2-D "colour code" z that is
ambiguous given g: with probability 1/2 z lies on one branch, else on the other, as the
colour of a grey pixel can be red or blue. A model of p(z | g) must be multimodal (a
mixture density network); a regression to the mean falls between the branches.
"""

from __future__ import annotations

import torch

from .validation import positive_int

__all__ = ["two_branch_colours"]

#: Standard deviation of the noise around each branch.
BRANCH_NOISE = 0.05


def two_branch_colours(n: int, generator: torch.Generator | None = None):
    """``(g, z)``: ``g: (n, 1)`` uniform in [-1, 1]; ``z: (n, 2)`` on one of two branches,
    ``(g, g^2)`` or ``(-g, 1 - g^2)``, with probability 1/2 each, plus N(0, 0.05^2 I)."""
    n = positive_int(n, "two_branch_colours: n")
    g = 2 * torch.rand(n, 1, generator=generator) - 1
    branch = torch.rand(n, 1, generator=generator) < 0.5
    first = torch.cat([g, g**2], dim=1)
    second = torch.cat([-g, 1 - g**2], dim=1)
    z = torch.where(branch, first, second)
    return g, z + BRANCH_NOISE * torch.randn(n, 2, generator=generator)
