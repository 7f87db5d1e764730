"""Claims about architectures, checked statically and empirically (docs/claims.md).

>>> from analyzer.claims import claim, run_claim
>>> @claim("a linear map doubles when its input does", identity=True, tolerance=1e-12)
... def doubling(check):
...     import torch
...     layer = torch.nn.Linear(3, 2, bias=False).double()
...     x = torch.randn(4, 3, dtype=torch.float64)
...     return (layer(2 * x) - 2 * layer(x)).abs().max().item()
>>> run_claim(doubling).verdict
'holds'

Write claims with :func:`claim`, run them with :func:`run_claim` / :func:`run_claims` (or
``analyzer claims FILE.py``, or pytest); :func:`seed_suite` is the seed's S1–S8.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "Check",
    "Claim",
    "ClaimResult",
    "ClaimsReport",
    "Fails",
    "Measurement",
    "claim",
    "fails",
    "identity",
    "load_claims",
    "run_claim",
    "run_claims",
    "seed_suite",
]

_LAZY = {
    "Check": "analyzer.claims.core",
    "Claim": "analyzer.claims.core",
    "Measurement": "analyzer.claims.core",
    "claim": "analyzer.claims.core",
    "Fails": "analyzer.claims.expect",
    "fails": "analyzer.claims.expect",
    "identity": "analyzer.claims.core",
    "ClaimResult": "analyzer.claims.runner",
    "ClaimsReport": "analyzer.claims.runner",
    "run_claim": "analyzer.claims.runner",
    "run_claims": "analyzer.claims.runner",
    "load_claims": "analyzer.claims.loading",
    "seed_suite": "analyzer.claims.seed",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'analyzer.claims' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
