"""Running claims: a family claim as a hypothesis property, an identity as measurements.

:func:`run_claim` returns a :class:`ClaimResult`: the verdict (``holds``, ``holds with
caveat``, ``fails``, or ``error`` when the claim raised something other than an
``AssertionError``), the examples run, the shrunk counterexample in words with its
analysis, the static and empirical evidence, the measurements with their tolerances, the
sources and the seconds. :func:`run_claims` runs several into one
:class:`ClaimsReport`, whose ``to_json`` is the ``analyzer.claims/1`` document.

>>> from analyzer.claims.core import claim
>>> from analyzer.strategies import architectures
>>> @claim("recurrent nets are matmul and ReLU", expect="fails",
...        family=architectures(blocks=["linear", "relu", "rnn", "lstm", "gru"]))
... def recurrent_nets_are_relu_circuits(model):
...     assert set(model.analysis.circuit_class) <= {"matmul", "relu"}
>>> result = run_claim(recurrent_nets_are_relu_circuits, examples=20)
>>> result.verdict, result.counterexample.description
('fails', 'a single LSTM layer, input 1, hidden 1: gating site at rnn')
"""

from __future__ import annotations

import contextlib
import time
import traceback
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from analyzer.claims.core import Check, Claim, Measurement
from analyzer.claims.model import Model
from analyzer.empirical.validate import exact_arithmetic
from analyzer.errors import SpecError
from analyzer.progress import SILENT, Progress

SCHEMA = "analyzer.claims/1"
DEFAULT_EXAMPLES = 25


@dataclass
class Counterexample:
    """The minimal failing model: in words, the failed assertion, and its analysis."""

    description: str
    assertion: str
    drawn: str  # the drawn value's repr, to rebuild it
    analysis: Any = None  # an Analysis, or None when the failure was not on a model

    def to_json(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "assertion": self.assertion,
            "drawn": self.drawn,
            "analysis": None if self.analysis is None else self.analysis.to_json(),
        }


@dataclass
class ClaimResult:
    """What running one claim found (see the module doc)."""

    claim: Claim
    verdict: str
    examples: int
    seconds: float
    counterexample: Counterexample | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    measurements: list[Measurement] = field(default_factory=list)
    error: str | None = None
    parts: list[ClaimResult] = field(default_factory=list)
    caveats: list[ClaimResult] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.claim.id

    @property
    def as_expected(self) -> bool:
        """The verdict is what the claim's author expected (``--strict`` checks this)."""
        return self.verdict == self.claim.expect

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "id": self.claim.id,
            "statement": self.claim.statement,
            "precise": self.claim.precise,
            "kind": self.claim.kind,
            "verdict": self.verdict,
            "expect": self.claim.expect,
            "as_expected": self.as_expected,
            "examples": self.examples,
            "counterexample": None
            if self.counterexample is None
            else self.counterexample.to_json(),
            "evidence": self.evidence,
            "measurements": [m.to_json() for m in self.measurements],
            "sources": list(self.claim.sources),
            "seconds": round(self.seconds, 3),
            "error": self.error,
        }
        if self.parts:
            document["parts"] = [p.to_json() for p in self.parts]
        if self.caveats:
            document["caveats"] = [c.to_json() for c in self.caveats]
        return document

    def failing(self) -> list[ClaimResult]:
        """This result and its parts whose verdict is ``fails`` or ``error``."""
        return [r for r in [self, *self.parts] if r.verdict in ("fails", "error") or r.error]


@dataclass
class ClaimsReport:
    """The results of a run of several claims, and how they were run."""

    results: list[ClaimResult]
    device: str
    examples: int | None
    seed: int
    seconds: float

    @property
    def as_expected(self) -> bool:
        return all(r.as_expected for r in self.results)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "device": self.device,
            "examples": self.examples,
            "seed": self.seed,
            "seconds": round(self.seconds, 3),
            "claims": [r.to_json() for r in self.results],
        }


def _check_options(examples: int | None, seed: int, deadline: float | None) -> None:
    if examples is not None and (isinstance(examples, bool) or not isinstance(examples, int)
                                 or examples < 1):  # fmt: skip
        raise SpecError(f"examples={examples!r}: give a positive number of examples per claim")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpecError(f"seed={seed!r}: give a non-negative int")
    if deadline is not None and not deadline > 0:
        raise SpecError(f"deadline={deadline!r}: give a positive number of milliseconds, or None")


def resolve_device(device: str | None) -> str:
    """``device`` checked (``cuda`` must be present), defaulting to cuda when present."""
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "meta":
        raise SpecError("device 'meta' cannot run a model: use cpu or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SpecError(f"device {device!r} was asked for, but CUDA is not available here")
    if not (device == "cpu" or device.startswith("cuda")):
        raise SpecError(f"device {device!r}: use cpu or cuda (cuda:N for one GPU)")
    return device


def run_claim(
    claim: Claim,
    *,
    examples: int | None = None,
    seed: int = 0,
    device: str | None = None,
    deadline: float | None = None,
    progress: Progress = SILENT,
) -> ClaimResult:
    """Run ``claim`` (and its caveats): ``examples`` drawn models per family (default: the
    claim's own, else :data:`DEFAULT_EXAMPLES`), hypothesis seeded by ``seed``, models
    validated and identities measured on ``device`` (default cuda when present), each
    example allowed ``deadline`` milliseconds (default: no limit)."""
    _check_options(examples, seed, deadline)
    device = resolve_device(device)
    started = time.perf_counter()
    options = {"examples": examples, "seed": seed, "device": device, "deadline": deadline}
    with (
        _one_thread(),
        progress.task(claim.id, total=1 + len(claim.parts) + len(claim.caveats)) as task,
    ):
        if claim.identity:
            result = _run_identity(claim, seed, device, started)
        else:
            count = examples or claim.examples or DEFAULT_EXAMPLES
            result = _run_family(claim, count, seed, device, deadline, started)
        task.advance()
        for into, extra, what in ((result.parts, claim.parts, "part"),
                                  (result.caveats, claim.caveats, "caveat")):  # fmt: skip
            for item in extra:
                progress.note(f"{claim.id}: {what} {item.id}")
                into.append(run_claim(item, **options))  # type: ignore[arg-type]
                task.advance()
    result.verdict = _combined(result.verdict, [p.verdict for p in result.parts], result.caveats)
    result.seconds = time.perf_counter() - started
    return result


def _combined(own: str, parts: list[str], caveats: list[ClaimResult]) -> str:
    """A claim errs or fails when it or any part does; else it holds, with caveat when
    caveats qualify it."""
    verdicts = [own, *parts]
    if "error" in verdicts:
        return "error"
    if "fails" in verdicts:
        return "fails"
    return "holds with caveat" if caveats or "holds with caveat" in verdicts else "holds"


def run_claims(
    claims: Sequence[Claim],
    *,
    examples: int | None = None,
    seed: int = 0,
    device: str | None = None,
    deadline: float | None = None,
    progress: Progress = SILENT,
) -> ClaimsReport:
    """Run every claim in order; one :class:`ClaimsReport`."""
    _check_options(examples, seed, deadline)
    device = resolve_device(device)
    started = time.perf_counter()
    results = []
    with progress.task("claims", total=len(claims)) as task:
        for number, item in enumerate(claims, start=1):
            progress.note(f"[{number}/{len(claims)}] {item.id} …")
            results.append(
                run_claim(
                    item,
                    examples=examples,
                    seed=seed,
                    device=device,
                    deadline=deadline,
                    progress=progress,
                )
            )
            progress.note(f"{item.id}: {results[-1].verdict} ({results[-1].seconds:.1f} s)")
            task.advance()
    return ClaimsReport(results, device, examples, seed, time.perf_counter() - started)


# --- identities ----------------------------------------------------------------------


def _run_identity(claim: Claim, seed: int, device: str, started: float) -> ClaimResult:
    check = Check(device=device, seed=seed, tolerance=claim.tolerance)
    verdict, error, counterexample = "holds", None, None
    try:
        with exact_arithmetic():
            returned = claim.function(check)
        if returned is not None:
            if claim.tolerance is None:
                raise SpecError(
                    f"claim {claim.id!r} returned a measured error but has no tolerance: "
                    "give claim(..., tolerance=...) or record it with check.measure"
                )
            check.measure("error", float(returned))
    except AssertionError as failed:
        verdict = "fails"
        counterexample = Counterexample("the identity's own assertion", _assertion(failed), "")
    except Exception as raised:  # a bug in the claim or the tool: an error, not a finding
        verdict, error = "error", _error_text(raised)
    if verdict == "holds" and any(m.decides and m.within is False for m in check.measurements):
        verdict = "fails"
    return ClaimResult(
        claim, verdict, examples=1, seconds=time.perf_counter() - started,
        counterexample=counterexample, evidence=check.evidence,
        measurements=check.measurements, error=error,
    )  # fmt: skip


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Claims run tiny models, where starting CPU threads costs more than the arithmetic
    (5 to 20 times on a shared 2-core machine): one intra-op thread while they run."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# --- families -----------------------------------------------------------------------


class _Tally:
    """Evidence gathered over every example a family run drew."""

    def __init__(self) -> None:
        self.generated = 0
        self.shrink_steps = 0
        self.failed = False
        self.classes: Counter[str] = Counter()
        self.site_kinds: Counter[str] = Counter()
        self.degrees: Counter[str] = Counter()
        self.truth_checked = 0
        self.truth_disagreeing = 0
        self.truth_disagreements: list[str] = []  # the first few, in words
        self.validated = 0
        self.agree = 0
        self.violations = 0
        self.cross_nonzero = 0

    def add(self, model: Model) -> None:
        if self.failed:
            self.shrink_steps += 1
            return
        self.generated += 1
        analysis = model.analysis
        self.classes[", ".join(analysis.circuit_class) or "(none)"] += 1
        self.site_kinds.update({site.kind for site in analysis.sites})
        self.degrees[analysis.degree] += 1
        if model.truth is not None:
            self.truth_checked += 1
            found = model.truth.disagreements(analysis)
            self.truth_disagreeing += bool(found)
            if found and len(self.truth_disagreements) < 5:
                self.truth_disagreements.append(f"{model.description}: {'; '.join(found)}")
        if model.validation is not None:
            document = model.validation.to_json()
            self.validated += 1
            self.agree += bool(document["agree"])
            self.violations += document["dependence"]["violations"]
            self.cross_nonzero += document["cross_entry"]["nonzero"] > 0

    def evidence(self) -> dict[str, Any]:
        static = {
            "primitive_sets": dict(self.classes.most_common()),
            "models_with_site_kind": dict(sorted(self.site_kinds.items())),
            "degrees": dict(sorted(self.degrees.items())),
            "truth_checked": self.truth_checked,
            "truth_disagreeing": self.truth_disagreeing,
            "truth_disagreements": list(self.truth_disagreements),
        }
        empirical = None
        if self.validated:
            empirical = {
                "validated": self.validated,
                "agree": self.agree,
                "dependence_violations": self.violations,
                "models_with_cross_entry_terms": self.cross_nonzero,
            }
        return {"static": static, "empirical": empirical, "shrink_steps": self.shrink_steps}


def _run_family(
    claim: Claim, examples: int, seed: int, device: str, deadline: float | None, started: float
) -> ClaimResult:
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as seeded
    from hypothesis.reporting import with_reporter

    tally = _Tally()
    last: dict[str, Any] = {}

    def prop(drawn: Any) -> None:
        model = None
        try:
            model = Model.of(drawn, empirical=claim.empirical, device=device, seed=seed)
            tally.add(model)
            claim.function(model)
        except BaseException as failed:
            last.update(drawn=drawn, model=model, failed=failed)
            tally.failed = True
            raise

    test = settings(
        max_examples=examples,
        deadline=deadline,
        database=None,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        print_blob=False,
    )(given(claim.family)(prop))
    test = seeded(seed)(test)
    verdict, error, counterexample = "holds", None, None
    try:
        with with_reporter(lambda message: None):
            test()
    except AssertionError as failed:
        verdict = "fails"
        counterexample = _counterexample(last, failed)
    except Exception as raised:
        verdict, error = "error", _error_text(last.get("failed", raised))
        if last.get("drawn") is not None:
            counterexample = _counterexample(last, last["failed"])
    return ClaimResult(
        claim, verdict, examples=tally.generated, seconds=time.perf_counter() - started,
        counterexample=counterexample, evidence=tally.evidence(), error=error,
    )  # fmt: skip


def _counterexample(last: dict[str, Any], failed: BaseException) -> Counterexample:
    model: Model | None = last.get("model")
    drawn = last.get("drawn")
    if model is None:  # it failed while being built or analysed
        described = getattr(drawn, "describe", None)
        words = described() if callable(described) else repr(drawn)
        return Counterexample(words, _assertion(failed), repr(drawn))
    return Counterexample(
        f"{model.description}: {model.findings()}", _assertion(failed), repr(drawn), model.analysis
    )


def _assertion(failed: BaseException) -> str:
    """The failed assertion: its message, else the asserting source line."""
    message = str(failed).strip()
    if message:
        return message.splitlines()[0] if len(message) > 400 else message
    frames = traceback.extract_tb(failed.__traceback__)
    return frames[-1].line or type(failed).__name__ if frames else type(failed).__name__


def _error_text(raised: BaseException) -> str:
    frames = traceback.extract_tb(raised.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(raised).__name__}: {raised}{where}"
