"""Reproducible randomness for property tests: hypothesis draws the seed, and every tensor is
drawn from a :class:`torch.Generator` made from it, so that a failing example replays (and
shrinks) with the very same inputs.

>>> bool(torch.equal(randn(7, 2, 3), randn(7, 2, 3))), randn(7, 2, dtype=torch.float64).dtype
(True, torch.float64)
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

seeds = st.integers(0, 2**32 - 1)
"""The seed of a property test's tensors (``@given(..., seed=seeds)``)."""


def generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed``."""
    return torch.Generator().manual_seed(seed)


def randn(seed: int, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``torch.randn(*shape)`` drawn from ``generator(seed)``."""
    return torch.randn(*shape, generator=generator(seed), dtype=dtype)
