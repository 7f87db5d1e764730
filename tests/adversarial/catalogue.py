"""The adversarial cases: small models with their truth written by hand from the maths.

A :class:`Case` builds a fresh model and its example inputs (deterministically: the builder
runs under ``torch.manual_seed(0)``) and carries its :class:`Truth`, which the oracle
(:mod:`tests.adversarial.oracle`) confirms in ``test_cases.py``. Cases are registered with the
:func:`case` decorator in the ``cases_*`` modules, one module per class of attack; ``CLASSES``
names them. Per-case ``checks`` pin what the class demands beyond the truth (the parts of a
fused attention's sites, the analysed mode, a warning for frozen control flow, which
transposes feed a contraction); each returns the false claims it finds in the analysis JSON.

>>> cases = all_cases()
>>> len(cases) >= 60, cases["glu_fused"].truth.products
(True, frozenset({'gating'}))
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

INF = math.inf
CONTRACTION, GATING, NORMALIZATION = "contraction", "gating", "normalization"
ANY_SITE = frozenset({CONTRACTION, GATING, NORMALIZATION})

CLASSES = {
    "inplace": "1 in-place writes into views and buffers",
    "hidden": "2 dependence autograd does not see",
    "registry": "3 registry entries that drop a product or a dependence",
    "attention": "4 fused attention: two sites per call",
    "transpose": "5 feeds_contraction: the refined rule",
    "mode": "6 the caller's module and its mode",
    "frozen": "7 frozen control flow (real frontend)",
    "precise": "8 ops with known algebra (kron, det, grid_sample, fft, ...)",
    "attack": "9 other attacks (where, pow, division, loops, cond, ...)",
    "io": "10 inputs and outputs (integers, embeddings, dicts, keywords, unused)",
    "redteam": "11 a red team's attacks (scalar arguments, rare ops, views, hooks, dtypes)",
    "escapes": "12 values that leave torch (numpy, tolist, apply_, custom functions)",
    "round4": "13 a fourth red team (escape routes, fused affine, einsum, complex, casts)",
    "round5": "14 a fifth red team (keywords, torch.func, aliases, hooks, rare ops)",
}
_MODULES = [
    f"tests.adversarial.cases_{name}"
    for name in (
        "inplace",
        "hidden",
        "registry",
        "attention",
        "mode",
        "precise",
        "attack",
        "io",
        "redteam",
        "escapes",
        "round4",
        "round5",
    )
]

Check = Callable[[dict[str, Any]], list[str]]


@dataclass(frozen=True)
class Truth:
    """The facts of a model, from the maths.

    ``products`` is the set of site kinds that may witness the model's input-by-input
    product (empty: there is none, and a site is an over-approximation); ``min_sites`` how
    many such sites there must be. ``cross`` says whether cross-entry second derivatives
    exist (``None``: not checked, as for a smooth nonlinearity of a linear map); it defaults
    to true with a product and to false for a piecewise-affine model.
    """

    dependence: str = "continuous"
    degree: float = 1
    products: frozenset[str] = frozenset()
    min_sites: int = 1
    cross: bool | None = None

    @property
    def expects_cross(self) -> bool | None:
        if self.cross is not None:
            return self.cross
        if self.products:
            return True
        return False if self.degree <= 1 else None

    @property
    def piecewise_affine(self) -> bool:
        return self.degree <= 1


def truth(
    degree: float = 1,
    products: str | frozenset[str] | tuple[str, ...] = (),
    *,
    dependence: str = "continuous",
    min_sites: int = 1,
    cross: bool | None = None,
) -> Truth:
    """A :class:`Truth`; ``products`` may be one kind, several, or ``ANY_SITE``."""
    kinds = frozenset({products} if isinstance(products, str) else products)
    return Truth(dependence, degree, kinds, min_sites, cross)


@dataclass(frozen=True)
class Case:
    """One adversarial model, its example inputs and its truth."""

    name: str
    group: str
    builder: Callable[[], tuple[Any, ...]]
    truth: Truth
    note: str
    sources: tuple[str, ...] = ()
    frontend: str = "auto"
    step: float = 1.0
    stateful: bool = False
    checks: tuple[Check, ...] = field(default_factory=tuple)

    def build(self) -> tuple[nn.Module, tuple[Any, ...], dict[str, Any]]:
        """A fresh ``(module, args, kwargs)``, the same at every call."""
        with torch.random.fork_rng():
            torch.manual_seed(0)
            built = self.builder()
        module, args, *rest = built
        return module, tuple(args), dict(rest[0]) if rest else {}


CASES: dict[str, Case] = {}


def case(
    group: str,
    expected: Truth,
    *,
    sources: tuple[str, ...] = (),
    frontend: str = "auto",
    step: float = 1.0,
    stateful: bool = False,
    checks: tuple[Check, ...] = (),
) -> Callable[[Callable[[], tuple[Any, ...]]], Callable[[], tuple[Any, ...]]]:
    """Register the decorated builder as a case named after it; its docstring is the note."""
    assert group in CLASSES, group

    def register(builder: Callable[[], tuple[Any, ...]]) -> Callable[[], tuple[Any, ...]]:
        name = builder.__name__
        assert name not in CASES, f"case {name!r} registered twice"
        note = " ".join((builder.__doc__ or "").split())
        CASES[name] = Case(
            name, group, builder, expected, note, sources, frontend, step, stateful, checks
        )
        return builder

    return register


def case_or_finding(
    group: str,
    findings: dict[str, tuple[Case, str]],
    expected: Truth,
    *,
    found: str | None = None,
    frontend: str = "auto",
    stateful: bool = False,
    checks: tuple[Check, ...] = (),
) -> Callable[[Callable[[], tuple[Any, ...]]], Callable[[], tuple[Any, ...]]]:
    """A red-team round's decorator: register a case (:func:`case`), or, with ``found``
    (what the tool says wrongly), keep it in the round's ``findings`` until the tool is
    fixed, where ``test_redteam.py`` pins it as a strict ``xfail``."""
    if found is None:
        return case(group, expected, frontend=frontend, stateful=stateful, checks=checks)

    def keep(builder: Callable[[], tuple[Any, ...]]) -> Callable[[], tuple[Any, ...]]:
        note = " ".join((builder.__doc__ or "").split())
        name = builder.__name__
        findings[name] = (
            Case(name, group, builder, expected, note, (), frontend, 1.0, stateful, checks),
            found,
        )
        return builder

    return keep


def all_cases() -> dict[str, Case]:
    """Every registered case, by name (importing the ``cases_*`` modules on first use)."""
    for module in _MODULES:
        importlib.import_module(module)
    return CASES


class Fn(nn.Module):
    """A module whose forward is ``function(self, *inputs, **keywords)``; keyword
    ``children`` become submodules, parameters or buffers."""

    def __init__(self, function: Callable[..., Any], **children: Any) -> None:
        super().__init__()
        self.function = function
        for name, child in children.items():
            if isinstance(child, nn.Module):
                self.add_module(name, child)
            elif isinstance(child, nn.Parameter):
                self.register_parameter(name, child)
            else:
                self.register_buffer(name, child)

    def forward(self, *inputs: Any, **keywords: Any) -> Any:
        return self.function(self, *inputs, **keywords)


# --- per-case checks on the analysis JSON ---------------------------------------------
def attention_parts(doc: dict[str, Any]) -> list[str]:
    """Every fused attention node has two contraction sites, parts ``scores`` and ``mix``."""
    found: dict[str, set[Any]] = {}
    for site in doc["input_products"]:
        if "scaled_dot_product" in site["op"] or "multi_head_attention" in site["op"]:
            found.setdefault(site["node"], set()).add((site["kind"], site.get("part")))
    wanted = {(CONTRACTION, "scores"), (CONTRACTION, "mix")}
    return [
        f"fused attention {node}: sites {sorted(map(str, parts))}, want contraction parts "
        "scores and mix"
        for node, parts in found.items()
        if not wanted <= parts
    ]


def mode_is(mode: str) -> Check:
    """The analysis JSON records the mode the module was handed in."""

    def check(doc: dict[str, Any]) -> list[str]:
        got = doc.get("mode")
        return [] if got == mode else [f'"mode" is {got!r}, the module was handed in {mode!r}']

    check.__name__ = f"mode_is_{mode}"
    return check


_FROZEN = re.compile(r"froz|control flow|region", re.IGNORECASE)


def warns_when_frozen(doc: dict[str, Any]) -> list[str]:
    """A trace by the real frontend says in ``warnings`` that it holds in one region only."""
    if doc["frontend"] != "real" or any(_FROZEN.search(w) for w in doc["warnings"]):
        return []
    return ["the real frontend froze control flow and no warning says so"]


def feeds(explicit: list[bool], implied: list[bool] | None = None) -> Check:
    """``feeds_contraction`` of the explicit transposes (and of the implied ones: the K of a
    fused attention, the weight of ``linear``), in graph order, per the rule of docs/concepts.md."""

    def check(doc: dict[str, Any]) -> list[str]:
        problems = []
        for want, is_implied in ((explicit, False), (implied, True)):
            if want is None:
                continue
            got = [
                t["feeds_contraction"] for t in doc["dynamic_transposes"]
                if bool(t.get("implied")) is is_implied
            ]  # fmt: skip
            if got != want:
                label = "implied" if is_implied else "explicit"
                problems.append(
                    f"feeds_contraction of the {label} transposes is {got}, want {want}"
                )
        return problems

    return check


def no_transpose_class(doc: dict[str, Any]) -> list[str]:
    """A layout transpose alone does not put ``transpose`` in the primitive set."""
    if "transpose" in doc["circuit_class"]:
        return ["circuit_class has 'transpose' though no transpose feeds a contraction"]
    return []
