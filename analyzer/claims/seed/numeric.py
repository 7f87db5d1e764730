"""Tolerances and small numeric helpers shared by the seed claims (the seed's rules).

>>> import torch
>>> f"{relative_error(torch.tensor([3.0, 8.0]), torch.tensor([3.0, 8.5])):.4f}"
'0.0588'
"""

from __future__ import annotations

import torch

IDENTITY = 1e-12
"""An identity holds in float64 to ≤ 1e-12·max(1, |f|) (docs/claims.md)."""
FLOAT = torch.float64


def figure_tolerance(figure: str) -> float:
    """Half a unit in the last digit the seed gives: a figure reproduces when it rounds
    to the same digits. Such figures were measured on the seed's own random draws, so
    they report and do not decide.

    >>> figure_tolerance("0.77"), figure_tolerance("1.1e-1"), figure_tolerance("3.0000")
    (0.005, 0.005, 5e-05)
    """
    mantissa, _, exponent = figure.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return round(0.5 * 10.0 ** (-decimals + int(exponent or 0)), 15)


def relative_error(measured: torch.Tensor, reference: torch.Tensor) -> float:
    """``max |measured − reference| / max(1, max |reference|)``: the identity tolerance's
    scale."""
    scale = max(1.0, reference.abs().max().item()) if reference.numel() else 1.0
    return (measured - reference).abs().max().item() / scale


def bound(value: float, limit: float, what: str) -> None:
    """Assert ``value ≤ limit`` with a message naming ``what``."""
    assert value <= limit, f"{what}: {value:.3g} exceeds {limit:.3g}"
