"""``census --validate``: each analysed type checked empirically, in its worker, on a budget.

After a type analyses, the same shrunk model is handed to :func:`analyzer.empirical.validate.
validate` (random weights where it was built on the meta device, float64, on the CPU or
the worker's GPU) with ``samples`` samples and a deadline of ``seconds``. The outcome is
one of :data:`VERDICTS`; the full ``analyzer.validation/1`` document is written beside
the type's report (``models/TYPE/validation.json``) whatever the verdict, so that a
``disagrees`` row links its evidence.

validate traces its own copy of the model; when that graph holds other ops than the
graph the census analysed (:func:`graph_ops`), the claims were checked on another
computation and the verdict is ``not checked``.

A validation whose graph-fidelity check did not run (the model could not be run in
float64, the graph draws random numbers) only shows that the claims hold *for the traced
graph*: it is never a plain ``agree``.

>>> verdict_of({"sound": True, "agree": True, "graph_fidelity": {"checked": 0,
...     "mismatched": 0, "note": "not checked: running the model raised RuntimeError"}})
('agree, graph unchecked', 'not checked: running the model raised RuntimeError')
>>> verdict_of({"sound": False, "agree": False, "graph_fidelity": {"checked": 1,
...     "mismatched": 0, "note": ""}, "degree": {"static": "2", "empirical": "3",
...     "node_violations": []}, "dependence": {"violations": 0}, "missing_products": [],
...     "cross_entry": {"contradicts_claim": False}})
('disagrees', 'output degree measured 3, claimed 2')
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzer.errors import AnalyzerError, ForwardError
from analyzer.output import write_json_atomic

VERDICTS = {
    "agree": "every claim confirmed on the real model (graph fidelity checked)",
    "over-approximates": "no claim contradicted; some claim is wider than measured "
    "(a degree above the measured one, or a site not confirmed)",
    "agree, graph unchecked": "every claim confirmed on the traced graph, but the graph was "
    "not compared with the model",
    "over-approximates, graph unchecked": "no claim contradicted on the traced graph, which "
    "was not compared with the model",
    "disagrees": "a measurement contradicts a claim (a bug: see the evidence)",
    "not checked": "validation could not run (the reason is given)",
    "timeout": "validation did not finish within its time budget",
    "crash": "the worker died while validating (memory, or a crash in native code)",
}
"""Every validation verdict, in the order the page lists them, with what it means."""

CONFIRMED = ("agree", "over-approximates")
"""The verdicts whose claims were confirmed on the real model (graph fidelity checked)."""


@dataclass(frozen=True)
class ValidationBudget:
    """What one type's validation may spend."""

    samples: int = 4
    seconds: float = 120.0
    max_degree: int = 4
    device: str = "cpu"


class _Deadline(BaseException):
    """Raised in the validating thread when its time budget is spent (a ``BaseException``,
    as ``KeyboardInterrupt`` is, so that the broad ``except Exception`` of a fallback
    cannot swallow it)."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise :class:`_Deadline` after ``seconds``, and again every 5 s until the block is
    left (a ``SIGALRM`` timer; only in the main thread of a process: elsewhere the
    executor's own timeout is the only bound)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise _Deadline()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds, 5.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def verdict_of(document: dict[str, Any]) -> tuple[str, str]:
    """``(verdict, detail)`` of an ``analyzer.validation/1`` document."""
    fidelity = document["graph_fidelity"]
    if not document.get("compared", True):  # the model alone was measured: no claims
        return "not checked", document["verdict"]
    if not document["sound"]:
        return "disagrees", _contradictions(document)
    claims = "agree" if document["agree"] else "over-approximates"
    if fidelity["checked"] == 0:
        return f"{claims}, graph unchecked", fidelity["note"] or "graph fidelity not checked"
    return claims, _widening(document) if claims == "over-approximates" else fidelity["note"]


def _contradictions(document: dict[str, Any]) -> str:
    found = []
    degree = document["degree"]
    if _order(degree["empirical"]) > _order(degree["static"]):
        found.append(f"output degree measured {degree['empirical']}, claimed {degree['static']}")
    if degree["node_violations"]:
        first = degree["node_violations"][0]
        found.append(
            f"{len(degree['node_violations'])} node degree(s) above the claim (e.g. "
            f"{first['node']}: claimed {first['static']}, measured {first['empirical']})"
        )
    violations = document["dependence"]["violations"]
    if violations:
        reasons = document["dependence"].get("violation_reasons", {})
        node, why = next(iter(reasons.items()), ("?", ""))
        found.append(f"{violations} dependence violation(s) (e.g. {node}: {why})")
    if document["missing_products"]:
        first = document["missing_products"][0]
        found.append(
            f"{len(document['missing_products'])} unlisted site(s) (e.g. {first['node']} "
            f"{first['op']}: {first['why']})"
        )
    if document["cross_entry"]["contradicts_claim"]:
        found.append("cross-entry terms measured for a model claimed piecewise affine")
    fidelity = document["graph_fidelity"]
    if fidelity["mismatched"]:
        found.append(
            f"the graph differs from the model at {fidelity['mismatched']} of "
            f"{fidelity['checked']} points (relative {fidelity['max_relative_difference']:.2g})"
        )
    return "; ".join(found) or "unsound (see the evidence)"


def _widening(document: dict[str, Any]) -> str:
    degree = document["degree"]
    parts = []
    if degree["static"] != degree["empirical"]:
        parts.append(f"degree claimed {degree['static']}, measured {degree['empirical']}")
    unconfirmed = [p for p in document["products"] if not p["confirmed"]]
    if unconfirmed:
        parts.append(f"{len(unconfirmed)} of {len(document['products'])} sites not confirmed")
    return "; ".join(parts)


def _order(degree: str) -> float:
    if degree == "undefined":
        return 0
    return float("inf") if degree == "inf" else int(degree)


def validate_built(
    built: Any,
    model_type: str,
    budget: ValidationBudget,
    evidence: Path | None,
    analysed: Counter[str] | None = None,
) -> dict[str, Any]:
    """Validate a built hf model (:class:`analyzer.frontend.hf.HFModel`) within ``budget``;
    the ``validation`` entry of its census record (never raises for the model's own
    failures). With ``evidence``, the validation document is written there. ``analysed``
    (:func:`graph_ops` of the graph the census analysed) is compared with the graph
    validate traced from its copy with real weights: where they hold other ops (the
    model took another path on real values, another implementation of an op), the
    claims were checked on another computation, and the verdict is ``not checked``."""
    import torch

    from analyzer.empirical.validate import validate
    from analyzer.frontend.hf import inputs_on

    started = time.perf_counter()
    entry: dict[str, Any] = {"samples": budget.samples, "device": budget.device}
    try:
        with deadline(budget.seconds):
            inputs = built.inputs
            if built.device != budget.device:
                inputs = inputs_on(built.module, built.inputs, budget.device)
            torch.manual_seed(0)
            report = validate(
                built.module, (), example_kwargs=inputs, model=f"hf:{model_type}",
                device=budget.device, samples=budget.samples, max_degree=budget.max_degree,
                seed=0,
            )  # fmt: skip
            document = report.to_json()
    except _Deadline:
        entry.update(verdict="timeout", reason=f"no verdict within {budget.seconds:g} s")
        return _timed(entry, started)
    except ForwardError as error:  # the census makes the type a failure: see census_inputs
        entry.update(verdict="not checked", reason=_first_line(str(error)), fails_on_inputs=True)
        return _timed(entry, started)
    except AnalyzerError as error:
        entry.update(verdict="not checked", reason=_first_line(str(error)))
        return _timed(entry, started)
    except MemoryError as error:
        entry.update(verdict="not checked", reason=f"out of memory: {error}")
        return _timed(entry, started)
    except Exception as error:  # a bug of validate, or the model refused float64
        where = traceback.extract_tb(error.__traceback__)[-1]
        entry.update(
            verdict="not checked",
            reason=f"{type(error).__name__}: {_first_line(str(error))} "
            f"(at {Path(where.filename).name}:{where.lineno})",
        )
        return _timed(entry, started)
    verdict, detail = verdict_of(document)
    differs = _other_ops(analysed, graph_ops(report.analysis.traced.graph))
    if differs and verdict != "disagrees":  # a contradiction is news on any graph
        verdict, detail = (
            "not checked",
            f"validate traced another graph than the census analysed: {differs}",
        )
    entry.update(
        verdict=verdict,
        reason=detail,
        degree={k: document["degree"][k] for k in ("static", "empirical")},
        sites_confirmed=sum(p["confirmed"] for p in document["products"]),
        sites=len(document["products"]),
    )
    if evidence is not None:
        evidence.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(evidence, document)
        entry["evidence"] = str(evidence.name)
    return _timed(entry, started)


LAYOUT_OPS = frozenset({"aten.contiguous.default", "aten.clone.default"})
"""Ops a trace on the meta device adds or drops with the tensors' strides, not the
computation: left out when the analysed and validated graphs are compared."""


def graph_ops(graph: Any) -> Counter[str]:
    """How many calls of each op (``call_function`` target) a graph makes, layout ops
    (:data:`LAYOUT_OPS`) left out."""
    calls = (str(n.target) for n in graph.nodes if n.op == "call_function")
    return Counter(op for op in calls if op not in LAYOUT_OPS)


def _other_ops(analysed: Counter[str] | None, validated: Counter[str]) -> str:
    """What differs between the ops of the analysed and the validated graphs (``""``
    when they are the same, or nothing was analysed to compare).

    >>> _other_ops(Counter({"aten.mm": 2}), Counter({"aten.mm": 2}))
    ''
    >>> _other_ops(Counter({"transformers.grouped_mm_fallback": 2}), Counter({"aten.bmm": 2}))
    'ops only analysed: transformers.grouped_mm_fallback ×2; only validated: aten.bmm ×2'
    """
    if analysed is None or analysed == validated:
        return ""

    def listed(ops: Counter[str]) -> str:
        return ", ".join(f"{op} ×{n}" for op, n in sorted(ops.items())) or "none"

    return (
        f"ops only analysed: {listed(analysed - validated)}; "
        f"only validated: {listed(validated - analysed)}"
    )


def _timed(entry: dict[str, Any], started: float) -> dict[str, Any]:
    entry["seconds"] = round(time.perf_counter() - started, 2)
    return entry


def _first_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0][:400] if lines else ""


def summarise_validation(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Counts of the validation verdicts over the records that were validated (``None``
    when none was), and the share whose claims were confirmed.

    >>> summary = summarise_validation([{"validation": {"verdict": "agree", "seconds": 2.0}},
    ...                                 {"validation": {"verdict": "timeout", "seconds": 4.0}}])
    >>> summary["by_verdict"], summary["confirmed_share"], summary["seconds"]
    ({'agree': 1, 'timeout': 1}, 0.5, 6.0)
    """
    checked = [r for r in records if r.get("validation")]
    if not checked:
        return None
    counts: dict[str, int] = {}
    for record in checked:
        verdict = record["validation"]["verdict"]
        counts[verdict] = counts.get(verdict, 0) + 1
    confirmed = sum(counts.get(v, 0) for v in CONFIRMED)
    return {
        "validated": len(checked),
        "by_verdict": {v: counts[v] for v in VERDICTS if counts.get(v)},
        "confirmed": confirmed,
        "confirmed_share": round(confirmed / len(checked), 4),
        "seconds": round(sum(r["validation"].get("seconds", 0.0) for r in checked), 1),
        "disagrees": sorted(
            r.get("type", "?") for r in checked if r["validation"]["verdict"] == "disagrees"
        ),
    }


__all__ = [
    "CONFIRMED",
    "VERDICTS",
    "ValidationBudget",
    "deadline",
    "graph_ops",
    "summarise_validation",
    "validate_built",
    "verdict_of",
]
