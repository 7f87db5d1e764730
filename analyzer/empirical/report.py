"""The result of a validation: measurements, verdicts and the ``analyzer.validation/1``
document (``ValidationReport.to_json``); rendered by :mod:`analyzer.render.validation`.

>>> order("3") < order("inf"), order("undefined"), order("≥ 3")
(True, 0, 3)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from analyzer.analysis import Analysis
from analyzer.empirical.fidelity import Fidelity

SCHEMA = "analyzer.validation/1"


RELATIVE_TOLERANCE = 1e-8  # float64: a vanishing derivative is ~1e-16 of its scale


RANK_TOLERANCE = 1e-6  # a 2×2 determinant of tangents, relative to its terms


@dataclass
class SiteCheck:
    """The measurement of one published site."""

    node: str
    kind: str
    module: str
    operands_vary: bool
    mixed_derivative: float
    part: str | None = None
    operands: list[str] = field(default_factory=list)
    scale: float = 0.0

    @property
    def confirmed(self) -> bool:
        return (
            self.operands_vary
            and self.mixed_derivative > 0
            and self.mixed_derivative > RELATIVE_TOLERANCE * self.scale
        )


@dataclass
class ValidationReport:
    """The measurements and verdicts of one validation (``to_json`` is the schema)."""

    model: str
    device: str
    dtype: str
    samples: int
    max_degree: int
    degree_static: str
    degree_empirical: str
    derivative_norms: list[float]
    checked_nodes: int
    violations: list[str]
    unconfirmed: list[str]
    sites: list[SiteCheck]
    cross_pairs: int
    cross_nonzero: int
    cross_max: float
    seconds: float
    batching: str
    analysis: Analysis | None = field(repr=False)  # None: the model could not be traced
    mode: str = "eval"
    frontend: str = "export"
    warnings: list[str] = field(default_factory=list)
    violation_reasons: dict[str, str] = field(default_factory=dict)
    degree_violations: dict[str, tuple[str, str]] = field(default_factory=dict)
    node_degrees: dict[str, str] = field(default_factory=dict)
    fallbacks: list[str] = field(default_factory=list)
    seconds_by_check: dict[str, float] = field(default_factory=dict)
    memory_budget_gib: float = 0.0
    scope: str = "the model's input"
    degree_method: str = ""
    fidelity: Fidelity = field(default_factory=Fidelity)
    peak_memory_gib: float = 0.0  # the most any chunk of samples was measured to add
    missing_sites: list[dict[str, Any]] = field(default_factory=list)
    missing_transposes: list[dict[str, Any]] = field(default_factory=list)
    untraced: str = ""  # why no frontend traced the model: only the model alone was measured

    @property
    def compared(self) -> bool:
        """Whether there were static claims to compare with: ``False`` when the model could
        not be traced and only the model itself was measured (:mod:`.model_alone`)."""
        return not self.untraced

    @property
    def degree_agrees(self) -> bool:
        """The measured degree is the claimed one (a lower bound ``≥ k`` confirms none)."""
        return self.compared and self.degree_static == self.degree_empirical

    @property
    def degree_sound(self) -> bool:
        """The output's measured degree is not above its claim (no claim: not sound)."""
        return self.compared and order(self.degree_empirical) <= order(self.degree_static)

    @property
    def cross_contradicts(self) -> bool:
        """Cross-entry terms measured for a model claimed piecewise affine."""
        analysis = self.analysis
        return analysis is not None and analysis.piecewise_affine and self.cross_nonzero > 0

    @property
    def sound(self) -> bool:
        """No published claim is contradicted (over-approximations allowed); ``False``
        when there were no claims to compare (:attr:`compared`): nothing was confirmed."""
        return (
            self.compared
            and not self.violations
            and not self.degree_violations
            and self.degree_sound
            and not self.cross_contradicts
            and self.fidelity.mismatched == 0
            and not self.missing_sites
            and not self.missing_transposes
        )

    @property
    def agree(self) -> bool:
        """Sound, the output degree equal to the claim, and every site confirmed."""
        return self.sound and self.degree_agrees and all(s.confirmed for s in self.sites)

    @property
    def graph_checked(self) -> bool:
        """Whether the traced graph was compared with the model at some input."""
        return self.fidelity.checked > 0

    @property
    def verdict(self) -> str:
        """The closing verdict in a few words: ``agree``, ``over-approximated`` or
        ``DISAGREE``, qualified when the graph could not be compared with the model (the
        other checks then only show that the claims hold of the graph); ``not compared:
        …`` when the model could not be traced (no claims, only the model measured)."""
        if not self.compared:
            return f"not compared: the model could not be traced: {self.untraced}"
        word = "agree" if self.agree else "over-approximated" if self.sound else "DISAGREE"
        notes = []
        if self.degree_empirical.startswith("≥"):
            notes.append(f"degree only bounded: {self.degree_empirical}")
        if not self.graph_checked:
            notes.append(f"graph {self.fidelity.note or 'not checked'}")
        return f"{word} ({'; '.join(notes)})" if notes else word

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "model": self.model,
            "frontend": self.frontend,
            "mode": self.mode,
            "scope": self.scope,
            "device": self.device,
            "dtype": self.dtype,
            "agree": self.agree,
            "sound": self.sound,
            "verdict": self.verdict,
            "compared": self.compared,
            "untraced": self.untraced,
            "graph_checked": self.graph_checked,
            "degree": {
                "static": self.degree_static if self.compared else None,
                "empirical": self.degree_empirical,
                "max_degree": self.max_degree,
                "derivative_norms": self.derivative_norms,
                "method": self.degree_method,
                "node_violations": [
                    {"node": n, "static": s, "empirical": e}
                    for n, (s, e) in sorted(self.degree_violations.items())
                ],
            },
            "dependence": {
                "nodes": self.checked_nodes,
                "violations": len(self.violations),
                "unconfirmed": len(self.unconfirmed),
                "violation_nodes": self.violations,
                "violation_reasons": self.violation_reasons,
                "unconfirmed_nodes": self.unconfirmed,
            },
            "products": [
                {
                    "node": s.node,
                    "kind": s.kind,
                    **({"part": s.part} if s.part is not None else {}),
                    "module": s.module,
                    "operands": s.operands,
                    "confirmed": s.confirmed,
                    "operands_vary": s.operands_vary,
                    "mixed_derivative": s.mixed_derivative,
                }
                for s in self.sites
            ],
            "missing_products": self.missing_sites,
            "missing_transposes": self.missing_transposes,
            "cross_entry": {
                "pairs": self.cross_pairs,
                "nonzero": self.cross_nonzero,
                "max_abs": self.cross_max,
                "contradicts_claim": self.cross_contradicts,
            },
            "graph_fidelity": self.fidelity.to_json(),
            "fallbacks": self.fallbacks,
            "warnings": self.warnings,
            "samples": self.samples,
            "batching": self.batching,
            "memory_budget_gib": round(self.memory_budget_gib, 3),
            "peak_memory_gib": round(self.peak_memory_gib, 3),
            "seconds": round(self.seconds, 3),
            "seconds_by_check": {k: round(v, 3) for k, v in self.seconds_by_check.items()},
        }


def order(degree: str) -> float:
    """A degree string as a number; ``undefined`` (no sample in the domain) as 0, so
    that it never reads as a contradiction; a lower bound ``≥ k`` as ``k``."""
    if degree == "undefined":
        return 0
    if degree.startswith("≥"):
        return int(degree[1:].strip())
    return math.inf if degree == "inf" else int(degree)
