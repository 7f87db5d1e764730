"""Run the tool on a case through its public API and judge what it says against the truth.

An *over-approximation* (a degree above the truth, ``inf`` for a polynomial, a dependence
above the truth, a site where there is no product, an unknown op) is allowed and counted. A
*false claim* never is: a degree below the truth, ``piecewise_affine`` for a model that is
not, a dependence below the truth, fewer sites of the right kind than the model has
products; so is breaking the contract a case's class pins (``checks``) or changing the
caller's module. Results are cached per case: the tests and the summary share one run.

>>> from tests.adversarial.catalogue import all_cases
>>> outcome = analyze_case(all_cases()["pow_two"])
>>> outcome.status, outcome.false_claims
('exact', [])
"""

from __future__ import annotations

import copy
import functools
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

import analyzer
from tests.adversarial.catalogue import Case, Truth

LEVELS = {"static": 0, "discrete": 1, "continuous": 2}
SAMPLES, PAIRS, MAX_DEGREE = 4, 16, 4  # validate's settings for the suite (its default cap)


@dataclass
class AnalyzeOutcome:
    """What ``analyzer.analyze`` said about a case, and how it compares with the truth."""

    case: Case
    doc: dict[str, Any] | None = None
    error: str | None = None  # "AnalyzerError: …" (a refusal) or "crash: …"
    false_claims: list[str] = field(default_factory=list)  # about the model's facts
    broken: list[str] = field(default_factory=list)  # class contract: parts, mode, warnings…
    changed: list[str] = field(default_factory=list)  # what analyze changed in the module
    over: list[str] = field(default_factory=list)

    @property
    def crashed(self) -> bool:
        return self.error is not None and self.error.startswith("crash")

    @property
    def status(self) -> str:
        """``FALSE CLAIM`` (a fact or the class contract), ``crashed``, ``refused``,
        ``over-approximated`` or ``exact``; changes to the module are reported apart."""
        if self.false_claims or self.broken:
            return "FALSE CLAIM"
        if self.error is not None:
            return "crashed" if self.crashed else "refused"
        return "over-approximated" if self.over else "exact"


@dataclass
class ValidateOutcome:
    """What ``analyzer.validate`` said about a case."""

    case: Case
    report: Any = None
    error: str | None = None
    changed: list[str] = field(default_factory=list)

    @property
    def crashed(self) -> bool:
        return self.error is not None and self.error.startswith("crash")

    def expected_degree(self) -> str:
        """The empirical degree a correct measurement gives: the truth, ``inf`` above the cap."""
        degree = self.case.truth.degree
        return "inf" if degree == math.inf or degree > MAX_DEGREE else str(int(degree))

    def problems(self, analysis: AnalyzeOutcome) -> list[str]:
        """Crashes, refusals, agreement with a false claim, a wrong measured degree, and
        changes to the module."""
        found = []
        if self.error is not None:
            found.append(self.error)
        else:
            if self.report.agree and analysis.false_claims:
                found.append("agrees with a false claim: " + "; ".join(analysis.false_claims))
            if self.report.degree_empirical != self.expected_degree():
                found.append(
                    f"measured degree {self.report.degree_empirical}, "
                    f"true degree {self.expected_degree()}"
                )
        found += [f"changed the module: {c}" for c in self.changed]
        return found


# --- running the tool ---------------------------------------------------------------------
def _fresh(case: Case) -> tuple[nn.Module, tuple[Any, ...], dict[str, Any], dict[str, Any]]:
    module, args, kwargs = case.build()
    return module, args, kwargs, snapshot(module)


@functools.cache
def analyze_case(case: Case) -> AnalyzeOutcome:
    """``analyzer.analyze`` on a fresh build of ``case`` (keyword inputs through
    ``analyzer.trace(..., example_kwargs=...)``), judged against its truth."""
    module, args, kwargs, before = _fresh(case)
    outcome = AnalyzeOutcome(case)
    try:
        with warnings.catch_warnings(action="ignore"):  # torch's notices while tracing
            if kwargs:
                traced = analyzer.trace(
                    module, _clone(args), example_kwargs=_clone(kwargs), frontend=case.frontend
                )
                result = analyzer.analyze(traced)
            else:
                result = analyzer.analyze(module, _clone(args), frontend=case.frontend)
            outcome.doc = result.to_json()
    except analyzer.AnalyzerError as error:
        outcome.error = f"{type(error).__name__}: {_first_line(error)}"
    except Exception as error:  # a crash is a finding, not a reason to stop judging
        outcome.error = f"crash: {type(error).__name__}: {_first_line(error)}"
    outcome.changed = changes(before, snapshot(module), case.stateful)
    if outcome.doc is not None:
        outcome.false_claims, outcome.over = judge(case.truth, outcome.doc)
        outcome.broken = [claim for check in case.checks for claim in check(outcome.doc)]
    return outcome


@functools.cache
def validate_case(case: Case) -> ValidateOutcome:
    """``analyzer.validate`` on a fresh build of ``case`` with the suite's small settings."""
    module, args, kwargs, before = _fresh(case)
    outcome = ValidateOutcome(case)
    try:
        with warnings.catch_warnings(action="ignore"):  # torch's notices while tracing
            outcome.report = analyzer.validate(
                module, _clone(args), example_kwargs=_clone(kwargs) or None, samples=SAMPLES,
                pairs=PAIRS, max_degree=MAX_DEGREE, frontend=case.frontend,
            )  # fmt: skip
    except analyzer.AnalyzerError as error:
        outcome.error = f"refused: {type(error).__name__}: {_first_line(error)}"
    except Exception as error:
        outcome.error = f"crash: {type(error).__name__}: {_first_line(error)}"
    outcome.changed = changes(before, snapshot(module), case.stateful)
    return outcome


# --- judging ------------------------------------------------------------------------------
def parse_degree(text: str) -> float:
    """The JSON's degree (``"0"``, ``"1"``, …, ``"inf"``) as a number."""
    return math.inf if text == "inf" else int(text)


def judge(truth: Truth, doc: dict[str, Any]) -> tuple[list[str], list[str]]:
    """``(false_claims, over_approximations)`` of an analysis document against the truth."""
    false, over = [], []
    claimed = parse_degree(doc["degree"])
    if claimed < truth.degree:
        false.append(f"degree {doc['degree']} < true {_spell(truth.degree)}")
    elif claimed > truth.degree:
        over.append(f"degree {doc['degree']} > true {_spell(truth.degree)}")
    if doc["piecewise_affine"] and not truth.piecewise_affine:
        false.append(f"piecewise_affine true, true degree {_spell(truth.degree)}")
    dependence = doc["output_dependence"]
    if LEVELS[dependence] < LEVELS[truth.dependence]:
        false.append(f"output {dependence}, truly {truth.dependence}")
    elif LEVELS[dependence] > LEVELS[truth.dependence]:
        over.append(f"output {dependence} > {truth.dependence}")
    sites = doc["input_products"]
    if truth.products:
        wanted = [s for s in sites if s["kind"] in truth.products]
        if len(wanted) < truth.min_sites:
            kinds = "/".join(sorted(truth.products))
            seen = ", ".join(f"{s['kind']}@{s['op']}" for s in sites) or "none"
            false.append(f"{len(wanted)} {kinds} site(s) < {truth.min_sites} (sites: {seen})")
    elif sites:
        over.append("site(s) " + ", ".join(f"{s['kind']}@{s['op']}" for s in sites))
    if doc["unknown_ops"]:
        over.append("unknown " + ", ".join(doc["unknown_ops"]))
    return false, over


def _spell(degree: float) -> str:
    return "inf" if degree == math.inf else str(int(degree))


# --- the caller's module -------------------------------------------------------------------
def snapshot(module: nn.Module) -> dict[str, Any]:
    """Modes of every submodule and a copy of every parameter and buffer."""
    return {
        "modes": {name: m.training for name, m in module.named_modules()},
        "parameters": {n: _tensor_state(p) for n, p in module.named_parameters()},
        "buffers": {n: _tensor_state(b) for n, b in module.named_buffers()},
    }


def _tensor_state(tensor: torch.Tensor) -> tuple[Any, ...]:
    return (tensor.dtype, tensor.device, tensor.requires_grad, tensor.detach().clone())


def changes(before: dict[str, Any], after: dict[str, Any], stateful: bool = False) -> list[str]:
    """What differs between two snapshots (buffer values are skipped for a model whose own
    forward writes its buffers)."""
    found = []
    for name, mode in before["modes"].items():
        now = after["modes"].get(name)
        if now != mode:
            found.append(f"{name or 'root'}.training {mode} → {now}")
    for group in ("parameters", "buffers"):
        for name, (dtype, device, grad, value) in before[group].items():
            if name not in after[group]:
                found.append(f"{group[:-1]} {name} removed")
                continue
            dtype2, device2, grad2, value2 = after[group][name]
            if (dtype2, device2) != (dtype, device):
                found.append(f"{group[:-1]} {name} {dtype}/{device} → {dtype2}/{device2}")
            elif grad2 != grad:
                found.append(f"{group[:-1]} {name} requires_grad {grad} → {grad2}")
            elif not (group == "buffers" and stateful) and not torch.equal(value, value2):
                found.append(f"{group[:-1]} {name} values changed")
    return found


def _clone(value: Any) -> Any:
    return copy.deepcopy(value)


def _first_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:300] + ("…" if len(text) > 300 else "")
