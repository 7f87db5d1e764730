"""Testing architectures: strategies with ground truth, assertions, and a pytest plugin.

>>> from analyzer.testing import assert_piecewise_affine
>>> import torch
>>> assert_piecewise_affine(torch.nn.Linear(2, 2), args=(torch.randn(1, 2),))

``analyzer.testing.strategies`` (also ``analyzer.strategies``) draws models;
``analyzer.testing.plugin`` is the pytest plugin (``--analyzer-device``).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "analysis_of",
    "assert_claim",
    "assert_degree",
    "assert_no_input_products",
    "assert_piecewise_affine",
    "assert_primitive_set",
]


def __getattr__(name: str) -> Any:
    # lazy: the pytest plugin lives in this package and must not import torch at start-up
    if name in __all__:
        return getattr(importlib.import_module("analyzer.testing.assertions"), name)
    raise AttributeError(f"module 'analyzer.testing' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
