"""analyzer: what kind of circuit is a PyTorch model?

>>> import torch, analyzer
>>> result = analyzer.analyze(torch.nn.Linear(4, 2), (torch.randn(1, 4),))
>>> result.circuit_class
['matmul']

The package is the pipeline, one folder per stage, data flowing down:
``frontend`` (specs, tracing, stored traces) → ``passes`` (registry, dataflow, sites)
→ ``analysis`` → ``empirical`` (``validate``) → ``symbolic`` (``cost``, ``expand``)
→ ``render`` (reports) → ``cli``.
Everything a user needs is importable from here; heavy modules (torch's tracing,
transformers, graphviz, sympy) load on first use, so ``import analyzer`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from analyzer.errors import AnalyzerError, MissingToolError, SpecError, TraceError

if TYPE_CHECKING:
    from analyzer.analysis import Analysis, analyze
    from analyzer.census import CensusOptions, run_census
    from analyzer.claims import claim, run_claims
    from analyzer.empirical.validate import ValidationReport, validate
    from analyzer.frontend.dialect import TracedModel
    from analyzer.frontend.storage import load_trace, save_trace
    from analyzer.frontend.tracing import trace
    from analyzer.frontend.training import TrainingStep
    from analyzer.symbolic.cost import CostReport, cost
    from analyzer.symbolic.expand import Expansion, expand

__all__ = [
    "Analysis",
    "AnalyzerError",
    "CensusOptions",
    "CostReport",
    "Expansion",
    "MissingToolError",
    "SpecError",
    "TraceError",
    "TracedModel",
    "TrainingStep",
    "ValidationReport",
    "analyze",
    "claim",
    "cost",
    "expand",
    "load_trace",
    "run_census",
    "run_claims",
    "save_trace",
    "trace",
    "validate",
]
__version__ = "0.2.0"

_LAZY = {
    "analyze": "analyzer.analysis",
    "Analysis": "analyzer.analysis",
    "trace": "analyzer.frontend.tracing",
    "TracedModel": "analyzer.frontend.dialect",
    "TrainingStep": "analyzer.frontend.training",
    "save_trace": "analyzer.frontend.storage",
    "load_trace": "analyzer.frontend.storage",
    "validate": "analyzer.empirical.validate",
    "ValidationReport": "analyzer.empirical.validate",
    "claim": "analyzer.claims",
    "run_claims": "analyzer.claims",
    "cost": "analyzer.symbolic.cost",
    "CostReport": "analyzer.symbolic.cost",
    "expand": "analyzer.symbolic.expand",
    "Expansion": "analyzer.symbolic.expand",
    "run_census": "analyzer.census",
    "CensusOptions": "analyzer.census",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'analyzer' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
