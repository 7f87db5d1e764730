"""Expected failures that say why: ``expect=fails(site_kind="gating")``.

A claim (or part, or caveat) expected to fail names what its counterexample must show,
in the style of hypothesis' own ``@example``/``assume``: a primitive class, a site kind,
an op, a drawn block kind, text of the failed assertion, or (for an identity) a deciding
measurement out of tolerance. Each option takes one name or a sequence of alternatives;
every option given must be shown. A failure that shows something else is "fails, not as
expected", and both reasons are reported.

>>> reason = fails(site_kind="gating", block=["lstm", "gru"])
>>> reason.describe()
'a gating site; a lstm or gru block'
>>> fails()
Traceback (most recent call last):
...
analyzer.errors.SpecError: fails(): name what the counterexample must show: ...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from analyzer.errors import SpecError

OPTIONS = ("primitive", "site_kind", "op", "block", "assertion", "measurement")


@dataclass(frozen=True)
class Fails:
    """What a counterexample must show for a failure to be the expected one."""

    primitive: tuple[str, ...] = ()
    site_kind: tuple[str, ...] = ()
    op: tuple[str, ...] = ()
    block: tuple[str, ...] = ()
    assertion: tuple[str, ...] = ()
    measurement: tuple[str, ...] = ()

    verdict = "fails"

    def __str__(self) -> str:
        return f"fails because it shows {self.describe()}"

    def describe(self) -> str:
        """The reason in words: ``'a gating site; a lstm or gru block'``."""
        words = {
            "primitive": "the primitive class {}",
            "site_kind": "a {} site",
            "op": "the op {}",
            "block": "a {} block",
            "assertion": "an assertion saying {}",
            "measurement": "the measurement {} out of tolerance",
        }
        said = []
        for name in OPTIONS:
            values = getattr(self, name)
            if values:
                quoted = [repr(v) if name in ("assertion", "measurement") else v for v in values]
                said.append(words[name].format(" or ".join(quoted)))
        return "; ".join(said)

    def to_json(self) -> dict[str, Any]:
        return {f.name: list(getattr(self, f.name)) for f in fields(self) if getattr(self, f.name)}

    def missing(self, counterexample: Any, measurements: Sequence[Any] = ()) -> list[str]:
        """What the failure does not show of this reason (empty: it is the expected one).
        ``counterexample`` is a :class:`~analyzer.claims.runner.Counterexample` or None."""
        shown = _shown(counterexample, measurements)
        lacking = []
        for name in OPTIONS:
            wanted = getattr(self, name)
            if wanted and not any(_matches(name, w, shown[name]) for w in wanted):
                have = ", ".join(sorted(shown[name])) or "none"
                if name == "assertion":
                    have = repr(next(iter(shown[name]), ""))
                lacking.append(
                    f"no {name.replace('_', ' ')} {' or '.join(wanted)} (it shows {have})"
                )
        return lacking


def _matches(option: str, wanted: str, shown: set[str]) -> bool:
    if option in ("assertion", "measurement"):
        return any(wanted.lower() in text.lower() for text in shown)
    if option == "op":
        return any(wanted in (name, name.split(".", 1)[-1], name.split(".")[1]) for name in shown
                   if "." in name) or wanted in shown  # fmt: skip
    return wanted in shown


def _shown(counterexample: Any, measurements: Sequence[Any]) -> dict[str, set[str]]:
    from analyzer.frontend.dialect import op_name
    from analyzer.passes.facts import Dependence

    shown: dict[str, set[str]] = {name: set() for name in OPTIONS}
    shown["measurement"] = {m.name for m in measurements if m.decides and m.within is False}
    if counterexample is None:
        return shown
    shown["assertion"] = {counterexample.assertion}
    shown["block"] = set(counterexample.blocks)
    analysis = counterexample.analysis
    if analysis is not None:
        shown["primitive"] = set(analysis.circuit_class)
        shown["site_kind"] = {site.kind for site in analysis.sites}
        shown["op"] = {
            op_name(node) for node in analysis.traced.op_nodes()
            if node in analysis.facts and analysis.facts[node].dependence is not Dependence.STATIC
        }  # fmt: skip
    return shown


def _names(option: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    values = (value,) if isinstance(value, str) else value
    if (
        not isinstance(values, Sequence)
        or not values
        or not all(isinstance(v, str) and v for v in values)
    ):
        raise SpecError(f"fails({option}={value!r}): give a name or a list of names")
    return tuple(values)


def fails(
    *,
    primitive: str | Sequence[str] | None = None,
    site_kind: str | Sequence[str] | None = None,
    op: str | Sequence[str] | None = None,
    block: str | Sequence[str] | None = None,
    assertion: str | Sequence[str] | None = None,
    measurement: str | Sequence[str] | None = None,
) -> Fails:
    """The expectation that a claim fails, and what its counterexample must show:
    ``primitive`` a class in its primitive set, ``site_kind`` a site of that kind, ``op``
    an input-dependent op (``"aten.lstm"`` or ``"lstm"``), ``block`` a drawn block kind,
    ``assertion`` text of the failed assertion (case-insensitive), ``measurement`` (an
    identity) text of the name of a deciding measurement out of tolerance. Give one name
    or a list of alternatives per option; every option given must be shown."""
    given = {
        "primitive": primitive, "site_kind": site_kind, "op": op, "block": block,
        "assertion": assertion, "measurement": measurement,
    }  # fmt: skip
    reason = Fails(**{name: _names(name, value) for name, value in given.items()})
    if not any(getattr(reason, name) for name in OPTIONS):
        raise SpecError(
            "fails(): name what the counterexample must show: primitive=, site_kind=, op=, "
            "block=, assertion= or measurement="
        )
    return reason
