"""analyzer: what kind of circuit is a PyTorch model?

>>> import torch, analyzer
>>> result = analyzer.analyze(torch.nn.Linear(4, 2), (torch.randn(1, 4),))
>>> result.circuit_class
['matmul']

Heavy modules (torch's tracing, transformers) load on first use, so ``import
analyzer`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from analyzer.errors import AnalyzerError, SpecError, TraceError

if TYPE_CHECKING:
    from analyzer.analysis import Analysis, analyze
    from analyzer.tracing import trace

__all__ = ["Analysis", "AnalyzerError", "SpecError", "TraceError", "analyze", "trace"]
__version__ = "0.1.0"

_LAZY = {
    "analyze": "analyzer.analysis",
    "Analysis": "analyzer.analysis",
    "trace": "analyzer.tracing",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'analyzer' has no attribute {name!r}")
