"""What a family claim receives: one drawn model with its analysis, truth and validation.

>>> from analyzer.testing.blocks import Block
>>> from analyzer.testing.strategies import Architecture
>>> drawn = Architecture((Block("lstm", 1, 1),), batch=1, time=2, features=1, seed=0)
>>> model = Model.of(drawn)
>>> model.analysis.circuit_class, model.description
(['gating', 'matmul', 'nonlinearity'], 'a single LSTM layer, input 1, hidden 1')
>>> model.findings()
'gating site at rnn'
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from analyzer.analysis import Analysis, analyze

VALIDATION_SAMPLES = 4  # per drawn model: its checks are exact in float64, so few suffice
VALIDATION_PAIRS = 16


@dataclass
class Model:
    """A drawn model: ``module`` and ``args``, the static ``analysis``, the ``truth`` its
    strategy built in (None for a drawn value that is not an architecture) and, for an
    ``empirical=True`` claim, the ``validation`` report."""

    drawn: Any
    module: Any
    args: tuple[Any, ...]
    analysis: Analysis
    truth: Any = None
    validation: Any = None

    @classmethod
    def of(
        cls, drawn: Any, *, empirical: bool = False, device: str | None = None, seed: int = 0
    ) -> Model:
        """Build, analyse and (with ``empirical``) validate a drawn architecture or any
        value with ``module`` and ``args`` (an :class:`~analyzer.testing.opgraphs.OpGraph`)."""
        if not (hasattr(drawn, "module") and hasattr(drawn, "args")):
            from analyzer.errors import SpecError

            raise SpecError(
                f"the family drew a {type(drawn).__name__}, not a model: a family must draw "
                "values with .module and .args (architectures(), op_graphs(), or your own "
                "objects); to draw bare modules, pair each with its input, e.g. "
                "st.builds(Drawn, module=..., args=...)"
            )
        module, args = drawn.module, tuple(drawn.args)
        label = "drawn:" + type(drawn).__name__.lower()
        analysis = analyze(module, args, model=label)
        validation = None
        if empirical:
            from analyzer.empirical.validate import validate

            # validate casts what it is given to float64: hand it a copy, keep the drawn one
            validation = validate(
                copy.deepcopy(module), args, model=label, device=device, samples=VALIDATION_SAMPLES,
                pairs=VALIDATION_PAIRS, seed=seed,
            )  # fmt: skip
        return cls(drawn, module, args, analysis, getattr(drawn, "truth", None), validation)

    @property
    def description(self) -> str:
        describe = getattr(self.drawn, "describe", None)
        return describe() if callable(describe) else repr(self.drawn)

    def findings(self) -> str:
        """What the analysis found, in words: the sites (``"gating site at rnn"``), else the
        primitive set and degree."""
        analysis = self.analysis
        if analysis.sites:
            return _sites_in_words(analysis, analysis.sites)
        classes = ", ".join(analysis.circuit_class) or "none"
        return f"no input-by-input site; primitive set {classes}; degree {analysis.degree}"


def _sites_in_words(analysis: Analysis, sites: Sequence[Any], limit: int = 3) -> str:
    words = []
    for site in sites[:limit]:
        where = analysis.module_of(site.node) or site.node.name
        # a fused recurrent cell's only part, "gates", would repeat the kind
        part = f" ({site.part})" if site.part and site.part != "gates" else ""
        words.append(f"{site.kind} site{part} at {where}")
    more = len(sites) - limit
    return ", ".join(words) + (f" and {more} more" if more > 0 else "")
