"""A claim: a statement about every model of a family, or a numeric identity.

docs/claims.md. :func:`claim` turns a function into a :class:`Claim`. A *family* claim's
function receives one drawn :class:`~analyzer.claims.model.Model` at a time and asserts
about it; the runner (:mod:`analyzer.claims.runner`) makes it a hypothesis property, so a
false claim ends with a shrunk counterexample. An *identity* claim's function receives
a :class:`Check`, measures, and records each number with :meth:`Check.measure` (or
returns one error, compared against the claim's ``tolerance``). A claim may have
*parts* (further checks of the same statement: it holds when all do) and *caveats*
(claims or measurements that qualify it, measured, not asserted).

>>> from analyzer.strategies import architectures
>>> @claim("ReLU nets have no input-by-input product",
...        family=architectures(blocks=["linear", "relu"]))
... def relu_nets(model):
...     assert not model.analysis.sites
>>> relu_nets.id, relu_nets.kind
('relu_nets', 'family')
>>> @claim("0.1 + 0.2 is 0.3 in float64", identity=True, tolerance=1e-15)
... def sums(check):
...     return abs(0.1 + 0.2 - 0.3)
>>> sums.kind
'identity'
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from analyzer.claims.expect import Fails, fails
from analyzer.errors import SpecError

STATIC_ONLY = "fails only in the static analysis"
DISAGREES = "the analysis disagrees with the construction"
VERDICTS = ("holds", "holds with caveat", "fails", STATIC_ONLY, DISAGREES, "error")
"""What a claim's run concludes. ``fails``: a counterexample (a family claim's is confirmed
empirically unless confirmation is off); ``fails only in the static analysis``: every
failing model was rejected as a static over-approximation (``validate`` did not confirm
the facts it failed on); ``the analysis disagrees with the construction``: on a drawn
model the analysis and the truth its strategy built in differ; ``error``: the claim itself
raised something other than an ``AssertionError`` (a bug in the claim or the tool)."""
EXPECTATIONS = ("holds", "holds with caveat")


@dataclass(frozen=True)
class Measurement:
    """One measured number and what it is held to.

    With ``expected`` it is a *figure* (the seed gives a value): ``within`` says whether
    ``|value − expected| ≤ tolerance`` (times ``|expected|`` when ``relative``). Without,
    it is an *error bound*: ``|value| ≤ tolerance``. Without a tolerance it is reported
    only. ``decides``: whether it being out of tolerance makes the claim fail (bounds do,
    figures do not unless asked: a figure measured on other random weights is reported
    as "not reproduced", not as a false claim). ``value`` None: not measured (``note``
    says why).
    """

    name: str
    value: float | None
    tolerance: float | None = None
    expected: float | None = None
    relative: bool = False
    decides: bool = True
    note: str = ""
    range: tuple[float, float] | None = None  # a figure's 5th–95th percentile range
    protocol: str = ""  # the reference protocol a figure was measured with

    @property
    def within(self) -> bool | None:
        if self.value is not None and self.range is not None:
            low, high = self.range
            return not math.isnan(self.value) and low <= self.value <= high
        if self.value is None or self.tolerance is None:
            return None
        if math.isnan(self.value):
            return False
        if self.expected is None:
            return abs(self.value) <= self.tolerance
        scale = abs(self.expected) if self.relative else 1.0
        return abs(self.value - self.expected) <= self.tolerance * scale

    @property
    def status(self) -> str:
        """``within``/``out of tolerance`` for bounds, ``reproduced``/``not reproduced`` for
        figures, ``reported`` without a tolerance, ``not measured`` without a value."""
        if self.value is None:
            return "not measured"
        if self.within is None:
            return "reported"
        if self.expected is None and self.range is None:
            return "within" if self.within else "out of tolerance"
        return "reproduced" if self.within else "not reproduced"

    def to_json(self) -> dict[str, Any]:
        value = self.value
        if value is not None and not math.isfinite(value):
            value = str(value)  # JSON has no inf/nan
        return {
            "name": self.name,
            "value": value,
            "tolerance": self.tolerance,
            "expected": self.expected,
            "relative": self.relative,
            "status": self.status,
            "decides": self.decides,
            "note": self.note,
            "range": None if self.range is None else list(self.range),
            "protocol": self.protocol,
        }


@dataclass
class Check:
    """What an identity claim measures with: the device, a seeded generator, the trained
    weights the run was given (``weights``: a
    :class:`~analyzer.claims.weights.TrainedWeights`, or None when it has none: a
    measurement that needs trained weights then says it used random ones), and the
    record of its measurements and evidence."""

    device: str
    seed: int
    tolerance: float | None = None
    measurements: list[Measurement] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    weights: Any = None

    def measure(
        self,
        name: str,
        value: float | None,
        *,
        tolerance: float | str | None = "claim",
        expected: float | None = None,
        relative: bool = False,
        decides: bool | None = None,
        note: str = "",
        range: tuple[float, float] | None = None,
        protocol: str = "",
    ) -> Measurement:
        """Record ``value``; ``tolerance`` defaults to the claim's. ``decides`` defaults
        to true for error bounds and false for figures (see :class:`Measurement`). A
        figure given as a 5th–95th percentile ``range`` (with the ``protocol`` it was
        measured under) is ``reproduced`` when the value lies inside it."""
        bound = self.tolerance if tolerance == "claim" else tolerance
        if range is not None:
            bound = None
        if decides is None:
            decides = expected is None and range is None and bound is not None
        measured = None if value is None else float(value)
        item = Measurement(
            name, measured, bound, expected, relative, decides, note,  # type: ignore[arg-type]
            None if range is None else (float(range[0]), float(range[1])), protocol,
        )  # fmt: skip
        self.measurements.append(item)
        return item

    def note(self, key: str, value: Any) -> None:
        """Keep a piece of evidence (JSON-able) under ``key``."""
        self.evidence[key] = value

    def generator(self, offset: int = 0) -> Any:
        """A CPU ``torch.Generator`` seeded from the run's seed (plus ``offset``)."""
        import torch

        return torch.Generator().manual_seed(self.seed + offset)


@dataclass
class Claim:
    """A statement, how it is checked, what the author expects, and where it comes from."""

    statement: str
    function: Callable[..., Any]
    family: Any = None  # a hypothesis SearchStrategy of Architecture (or anything)
    identity: bool = False
    expect: str | Fails = "holds"
    tolerance: float | None = None
    empirical: bool = False
    sources: tuple[str, ...] = ()
    precise: str | None = None
    id: str = ""
    examples: int | None = None
    parts: list[Claim] = field(default_factory=list)
    caveats: list[Claim] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "identity" if self.identity else "family"

    @property
    def expected_verdict(self) -> str:
        """``holds``, ``holds with caveat`` or ``fails`` (with a :class:`Fails` reason). A
        claim with caveats that expects ``holds`` expects ``holds with caveat``: each caveat
        is then held to its own expectation."""
        if isinstance(self.expect, Fails):
            return self.expect.verdict
        return "holds with caveat" if self.expect == "holds" and self.caveats else self.expect

    @property
    def expect_text(self) -> str:
        """The expectation in words: ``"fails (a gating site)"``."""
        if isinstance(self.expect, Fails):
            return f"fails ({self.expect.describe()})"
        return self.expect

    def hypothesis_settings(self) -> Any:
        """``@settings(...)`` put on the claim or its function (None if neither)."""
        for target in (self, self.function):
            found = target.__dict__.get("_hypothesis_internal_use_settings") if hasattr(
                target, "__dict__") else None  # fmt: skip
            if found is not None:
                return found
        return None

    def explicit_examples(self) -> list[Any]:
        """The values of ``@example(...)`` put on the claim or its function."""
        found = []
        for target in (self, self.function):
            for item in getattr(target, "__dict__", {}).get("hypothesis_explicit_examples", []):
                found.append(item.args[0] if item.args else next(iter(item.kwargs.values())))
        return found

    def __call__(self, value: Any) -> Any:
        """Call the claim's function on one drawn model or Check (so that hypothesis'
        ``@settings`` and ``@example`` decorate a claim as they decorate a test)."""
        return self.function(value)

    @property
    def module(self) -> str:
        """The module the claim's function was written in (pytest collects by it)."""
        return getattr(self.function, "__module__", "")

    def part(self, statement: str, **options: Any) -> Callable[[Callable[..., Any]], Claim]:
        """Attach a part: a further check (family or identity) of the same claim. The claim
        holds only when every part does."""
        return self._attach(self.parts, statement, options)

    def caveat(self, statement: str, **options: Any) -> Callable[[Callable[..., Any]], Claim]:
        """Attach a caveat: a claim (family or identity) that qualifies this one, measured
        rather than asserted. Its result is reported under this claim, which then reads
        ``holds with caveat`` when it holds."""
        return self._attach(self.caveats, statement, options)

    def _attach(
        self, into: list[Claim], statement: str, options: dict[str, Any]
    ) -> Callable[[Callable[..., Any]], Claim]:
        def attach(function: Callable[..., Any]) -> Claim:
            made = claim(statement, **options)(function)
            into.append(made)
            return made

        return attach

    def __repr__(self) -> str:
        return f"<Claim {self.id}: {self.statement!r} ({self.kind}, expect {self.expect_text})>"

    __hash__ = object.__hash__  # a claim is an identity (pytest and hypothesis key by it)


def claim(
    statement: str,
    *,
    family: Any = None,
    identity: bool = False,
    expect: str = "holds",
    tolerance: float | None = None,
    empirical: bool = False,
    sources: Sequence[str] = (),
    precise: str | None = None,
    id: str | None = None,
    examples: int | None = None,
) -> Callable[[Callable[..., Any]], Claim]:
    """Decorate a function into a :class:`Claim` (see the module doc). ``expect`` is
    ``"holds"``, ``"holds with caveat"`` or :func:`fails` naming what the counterexample
    must show. Options are checked here, when the claim is written, with errors naming
    the option."""
    where = f"claim({statement!r})"
    if not isinstance(statement, str) or not statement.strip():
        raise SpecError(f"claim(statement={statement!r}): the statement must be a non-empty string")
    if identity and family is not None:
        raise SpecError(f"{where}: give family= or identity=True, not both")
    if not identity and family is None:
        raise SpecError(
            f"{where}: give family= (a strategy such as architectures(...)) or identity=True"
        )
    if family is not None:
        from hypothesis.strategies import SearchStrategy

        if not isinstance(family, SearchStrategy):
            raise SpecError(
                f"{where}: family= must be a hypothesis strategy such as architectures(...), "
                f"not {type(family).__name__}"
            )
    if expect == "fails":
        raise SpecError(
            f"{where}: expect='fails' must say why: give expect=fails(site_kind=..., "
            "primitive=..., op=..., block=..., assertion=...) naming what the counterexample "
            "must show (from analyzer.claims import fails)"
        )
    if not isinstance(expect, Fails) and expect not in EXPECTATIONS:
        raise SpecError(
            f"{where}: expect={expect!r}; give one of {', '.join(EXPECTATIONS)} or fails(...)"
        )
    if tolerance is not None and (
        isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or tolerance < 0
    ):
        raise SpecError(f"{where}: tolerance={tolerance!r} must be a non-negative number")
    if examples is not None and (not isinstance(examples, int) or examples < 1):
        raise SpecError(f"{where}: examples={examples!r} must be a positive int")
    if isinstance(sources, str):
        sources = (sources,)

    def decorate(function: Callable[..., Any]) -> Claim:
        if not callable(function):
            raise SpecError(f"{where}: decorate a function, not {type(function).__name__}")
        if len(inspect.signature(function).parameters) != 1:
            raise SpecError(
                f"{where}: {function.__name__} must take one argument "
                f"({'the Check' if identity else 'the drawn model'})"
            )
        return Claim(
            statement=statement,
            function=function,
            family=family,
            identity=identity,
            expect=expect,
            tolerance=None if tolerance is None else float(tolerance),
            empirical=empirical,
            sources=tuple(sources),
            precise=precise,
            id=id or function.__name__,
            examples=examples,
        )

    return decorate


__all__ = ["Check", "Claim", "Fails", "Measurement", "claim", "fails", "identity"]


def identity(statement: str, **options: Any) -> Callable[[Callable[..., Any]], Claim]:
    """``claim(statement, identity=True, ...)``: a numeric identity with a tolerance."""
    return claim(statement, identity=True, **options)
