"""Running claims: a family claim as a hypothesis property, an identity as measurements.

:func:`run_claim` returns a :class:`ClaimResult`: the verdict (``holds``, ``holds with
caveat``, ``fails``, or ``error`` when the claim raised something other than an
``AssertionError``), the examples run, the shrunk counterexample in words with its
analysis, the static and empirical evidence, the measurements with their tolerances, the
sources and the seconds. :func:`run_claims` runs several into one
:class:`ClaimsReport`, whose ``to_json`` is the ``analyzer.claims/1`` document.

>>> from analyzer.claims.core import claim, fails
>>> from analyzer.strategies import architectures
>>> @claim("recurrent nets are matmul and ReLU", expect=fails(site_kind="gating"),
...        family=architectures(blocks=["linear", "relu", "rnn", "lstm", "gru"]))
... def recurrent_nets_are_relu_circuits(model):
...     assert set(model.analysis.circuit_class) <= {"matmul", "relu"}
>>> result = run_claim(recurrent_nets_are_relu_circuits, examples=20)
>>> result.verdict, result.as_expected, result.counterexample.description
('fails', True, 'a single LSTM layer, input 1, hidden 1: gating site at rnn')
>>> result.counterexample.confirmation
'confirmed empirically'
"""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from analyzer.claims.core import DISAGREES, STATIC_ONLY, Check, Claim, Measurement
from analyzer.empirical.validate import exact_arithmetic
from analyzer.errors import SpecError
from analyzer.progress import SILENT, Progress

SCHEMA = "analyzer.claims/1"
DEFAULT_EXAMPLES = 25


@dataclass
class Counterexample:
    """The minimal failing model: in words, the failed assertion, and its analysis.
    ``confirmation``: ``confirmed empirically`` (validate confirms what it failed on),
    ``not checked (confirmation off)``, ``rejected: not confirmed empirically`` (a
    static-only counterexample), or empty (an identity's, or an error's)."""

    description: str
    assertion: str
    drawn: str  # the drawn value's repr, to rebuild it
    analysis: Any = None  # an Analysis, or None when the failure was not on a model
    blocks: list[str] = field(default_factory=list)  # the drawn block kinds
    confirmation: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "assertion": self.assertion,
            "drawn": self.drawn,
            "blocks": list(self.blocks),
            "confirmation": self.confirmation,
            "analysis": None if self.analysis is None else self.analysis.to_json(),
        }


@dataclass
class Construction:
    """The analysis disagreed with the truth a strategy built in: on how many of the
    drawn models, and the smallest such model hypothesis found."""

    checked: int
    disagreeing: int
    counterexample: Counterexample

    verdict = DISAGREES

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "checked": self.checked,
            "disagreeing": self.disagreeing,
            "counterexample": self.counterexample.to_json(),
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
    check_verdict: str = ""  # the property's own verdict (before parts and the truth)
    construction: Construction | None = None

    @property
    def id(self) -> str:
        return self.claim.id

    @property
    def own_as_expected(self) -> bool:
        """This result's verdict is what its claim expects (parts and caveats aside)."""
        return not self.mismatch()

    def mismatch(self) -> list[str]:
        """Why this result's verdict is not what its claim expects (empty when it is):
        the verdict against the expectation, and for ``fails(...)`` what the failure does
        not show."""
        from analyzer.claims.expect import Fails

        expect = self.claim.expect
        if self.verdict != self.claim.expected_verdict:
            return [f"{self.verdict}, expected {self.claim.expect_text}"]
        if not isinstance(expect, Fails):
            return []
        failing = [r for r in [self, *self.parts] if (r.check_verdict or r.verdict) == "fails"]
        lacking: list[str] = []
        for item in failing:
            lacking = expect.missing(item.counterexample, item.measurements)
            if not lacking:
                return []
        shown = next((r.counterexample for r in failing if r.counterexample), None)
        where = f" on {shown.description} ({shown.assertion.splitlines()[0]})" if shown else ""
        return [
            f"fails, not as expected: expected it to fail showing {expect.describe()}; "
            f"it failed{where}: " + "; ".join(lacking)
        ]

    @property
    def as_expected(self) -> bool:
        """The verdict is what the claim's author expected, and so is every part's and
        caveat's (``--strict`` and the pytest plugin check this)."""
        return not self.unexpected()

    def unexpected(self, prefix: str = "") -> list[str]:
        """Every result in this claim (itself, its parts, its caveats) whose verdict is not
        what it expects, one line each: ``"S1.recurrent (caveat): fails, not as expected
        …"``, with the counterexample or error."""
        lines = []
        label = f"{prefix}{self.id}"
        for why in self.mismatch():
            lines.append(f"{label}: {why}")
            if self.error:
                lines.append(f"  error: {self.error}")
            found = self.construction.counterexample if self.construction else self.counterexample
            if found is not None and "not as expected" not in why:
                lines.append(f"  counterexample: {found.description}")
                lines += [f"    {line}" for line in found.assertion.splitlines()[:6]]
            for m in self.measurements:
                if m.decides and m.within is False:
                    lines.append(
                        f"  {m.name}: {m.value:.3g} {m.status} (tolerance {m.tolerance:g})"
                    )
        for kind, items in (("part", self.parts), ("caveat", self.caveats)):
            for item in items:
                lines += item.unexpected(f"{kind} ")
        return lines

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "id": self.claim.id,
            "statement": self.claim.statement,
            "precise": self.claim.precise,
            "kind": self.claim.kind,
            "verdict": self.verdict,
            "check_verdict": self.check_verdict or self.verdict,
            "expect": self.claim.expected_verdict,
            "expect_because": _expect_json(self.claim),
            "as_expected": self.as_expected,
            "own_as_expected": self.own_as_expected,
            "unexpected": self.unexpected(),
            "examples": self.examples,
            "counterexample": None
            if self.counterexample is None
            else self.counterexample.to_json(),
            "evidence": self.evidence,
            "measurements": [m.to_json() for m in self.measurements],
            "sources": list(self.claim.sources),
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "construction": None if self.construction is None else self.construction.to_json(),
        }
        if self.parts:
            document["parts"] = [p.to_json() for p in self.parts]
        if self.caveats:
            document["caveats"] = [c.to_json() for c in self.caveats]
        return document

    def failing(self) -> list[ClaimResult]:
        """This result and its parts whose verdict is not a holding one."""
        return [r for r in [self, *self.parts] if r.verdict not in ("holds", "holds with caveat")
                or r.error]  # fmt: skip


def _expect_json(claim: Claim) -> Any:
    from analyzer.claims.expect import Fails

    return claim.expect.to_json() if isinstance(claim.expect, Fails) else None


@dataclass
class ClaimsReport:
    """The results of a run of several claims, and how they were run."""

    results: list[ClaimResult]
    device: str
    examples: int | None
    seed: int
    seconds: float
    confirm: bool = True
    weights: Any = None  # the TrainedWeights the run measured with, or None

    @property
    def as_expected(self) -> bool:
        return all(r.as_expected for r in self.results)

    def unexpected(self) -> list[str]:
        """Every verdict in the run, parts and caveats included, that is not as expected."""
        return [line for r in self.results for line in r.unexpected()]

    @property
    def rejected(self) -> int:
        """Static counterexamples rejected as over-approximations, over the whole run."""

        def count(result: ClaimResult) -> int:
            own = result.evidence.get("rejected_static", 0) if result.evidence else 0
            return own + sum(count(r) for r in [*result.parts, *result.caveats])

        return sum(count(r) for r in self.results)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "device": self.device,
            "examples": self.examples,
            "seed": self.seed,
            "seconds": round(self.seconds, 3),
            "confirm": self.confirm,
            "weights": None if self.weights is None else self.weights.to_json(),
            "as_expected": self.as_expected,
            "rejected_static": self.rejected,
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
    confirm: bool = True,
    database: str | None = None,
    weights: Any = None,
) -> ClaimResult:
    """Run ``claim`` (and its parts and caveats): ``examples`` drawn models per family
    (default: the claim's own, its ``@settings``' ``max_examples``, else
    :data:`DEFAULT_EXAMPLES`), hypothesis seeded by ``seed``, models validated and
    identities measured on ``device`` (default cuda when present), each example allowed
    ``deadline`` milliseconds (default: no limit). ``confirm`` (default on): a family
    counterexample counts only when ``validate`` confirms the static facts it fails on
    (:mod:`analyzer.claims.family`). ``database``: a folder where hypothesis keeps
    failing examples to replay first (default: none kept); hypothesis then draws
    unseeded (a seeded search keeps no database), and the database replays what failed.
    ``weights``: a checkpoint folder (or :class:`~analyzer.claims.weights.TrainedWeights`)
    whose trained weights the measurements that need them use (``check.weights``);
    without, they use random weights and say so."""
    from analyzer.claims.weights import trained_weights

    _check_options(examples, seed, deadline)
    device = resolve_device(device)
    weights = trained_weights(weights)
    started = time.perf_counter()
    options = {"examples": examples, "seed": seed, "device": device, "deadline": deadline,
               "confirm": confirm, "database": database, "weights": weights}  # fmt: skip
    with (
        _one_thread(),
        progress.task(claim.id, total=1 + len(claim.parts) + len(claim.caveats)) as task,
    ):
        if claim.identity:
            result = _run_identity(claim, seed, device, started, weights)
        else:
            from analyzer.claims.family import FamilyRun

            result = FamilyRun(
                claim, examples=examples, seed=seed, device=device, deadline=deadline,
                confirm=confirm, database=database,
            ).run()  # fmt: skip
        task.advance()
        for into, extra, what in ((result.parts, claim.parts, "part"),
                                  (result.caveats, claim.caveats, "caveat")):  # fmt: skip
            for item in extra:
                progress.note(f"{claim.id}: {what} {item.id}")
                into.append(run_claim(item, **options))  # type: ignore[arg-type]
                task.advance()
    result.check_verdict = result.check_verdict or result.verdict
    result.verdict = _combined(result.verdict, [p.verdict for p in result.parts], result.caveats)
    result.seconds = time.perf_counter() - started
    return result


def _combined(own: str, parts: list[str], caveats: list[ClaimResult]) -> str:
    """A claim errs, disagrees with its construction, fails, or fails only statically when
    it or any part does (in that order); else it holds, with caveat when caveats qualify
    it. Caveats decide through :attr:`ClaimResult.as_expected`, not the verdict."""
    verdicts = [own, *parts]
    for worst in ("error", DISAGREES, "fails", STATIC_ONLY):
        if worst in verdicts:
            return worst
    return "holds with caveat" if caveats or "holds with caveat" in verdicts else "holds"


def run_claims(
    claims: Sequence[Claim],
    *,
    examples: int | None = None,
    seed: int = 0,
    device: str | None = None,
    deadline: float | None = None,
    progress: Progress = SILENT,
    confirm: bool = True,
    database: str | None = None,
    weights: Any = None,
) -> ClaimsReport:
    """Run every claim in order (options as :func:`run_claim`); one :class:`ClaimsReport`.
    A ``weights`` folder is loaded once, before any claim runs."""
    from analyzer.claims.weights import trained_weights

    _check_options(examples, seed, deadline)
    device = resolve_device(device)
    weights = trained_weights(weights)
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
                    confirm=confirm,
                    database=database,
                    weights=weights,
                )
            )
            progress.note(f"{item.id}: {results[-1].verdict} ({results[-1].seconds:.1f} s)")
            task.advance()
    return ClaimsReport(
        results, device, examples, seed, time.perf_counter() - started, confirm=confirm,
        weights=weights,
    )  # fmt: skip


# --- identities ----------------------------------------------------------------------


def _run_identity(
    claim: Claim, seed: int, device: str, started: float, weights: Any = None
) -> ClaimResult:
    check = Check(device=device, seed=seed, tolerance=claim.tolerance, weights=weights)
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
        counterexample = Counterexample("the identity's own assertion", assertion_text(failed), "")
    except Exception as raised:  # a bug in the claim or the tool: an error, not a finding
        verdict, error = "error", error_text(raised)
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


def assertion_text(failed: BaseException) -> str:
    """The failed assertion: its message, else the asserting source line."""
    message = str(failed).strip()
    if message:
        return message.splitlines()[0] if len(message) > 400 else message
    frames = traceback.extract_tb(failed.__traceback__)
    return frames[-1].line or type(failed).__name__ if frames else type(failed).__name__


def error_text(raised: BaseException) -> str:
    frames = traceback.extract_tb(raised.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(raised).__name__}: {raised}{where}"
