"""What running claims produces: a :class:`ClaimResult` per claim (verdict, examples,
counterexample, evidence, measurements) and the :class:`ClaimsReport` over several, whose
``to_json`` is the ``analyzer.claims/1`` document. Kept apart from the runner so that the
family runner and the identity runner both build results without importing each other.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any

from analyzer.claims.core import DISAGREES, Claim, Measurement

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
