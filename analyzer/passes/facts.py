"""The values the passes return: a :class:`Fact` for every node, a :class:`Site` for
every input-by-input product.

A :class:`Fact` is an element of a lattice: how a value depends on the model input
(``static`` < ``discrete`` < ``continuous``), its polynomial degree in the continuous
sources (an ``int`` or :data:`INF`) and whether a kink or a data-dependent selection
happened on the way (``piecewise``).

>>> join_facts([Fact.continuous_source(), STATIC_FACT]).dependence
<Dependence.CONTINUOUS: 2>
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch.fx as fx

INF = math.inf
"""Degree of anything that is not a polynomial in the continuous sources."""

Degree = int | float  # a natural number, or INF


class Dependence(enum.IntEnum):
    """How a value depends on the input; ordered so that ``max`` is the join."""

    STATIC = 0
    DISCRETE = 1
    CONTINUOUS = 2

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Fact:
    """Dependence, degree and piecewise flag of one value."""

    dependence: Dependence
    degree: Degree = 0
    piecewise: bool = False

    @staticmethod
    def continuous_source() -> Fact:
        """A floating-point input or a table lookup by input-dependent indices."""
        return Fact(Dependence.CONTINUOUS, 1, False)

    @property
    def is_continuous(self) -> bool:
        return self.dependence is Dependence.CONTINUOUS


STATIC_FACT = Fact(Dependence.STATIC)
DISCRETE_FACT = Fact(Dependence.DISCRETE, 0, True)
UNKNOWN_FACT = Fact(Dependence.CONTINUOUS, INF, False)

Facts = dict[fx.Node, Fact]
"""What a dataflow pass returns: the fact of every node."""


def join_facts(facts: Iterable[Fact]) -> Fact:
    """The least upper bound: worst dependence, highest degree, any kink.

    >>> join_facts([]) == STATIC_FACT
    True
    """
    dependence, degree, piecewise = Dependence.STATIC, 0, False
    for fact in facts:
        dependence = max(dependence, fact.dependence)
        degree = max(degree, fact.degree)
        piecewise = piecewise or fact.piecewise
    return Fact(dependence, degree, piecewise)


def smooth_of(joined: Fact) -> Fact:
    """The result of a smooth, non-polynomial op of values whose join is ``joined``.

    >>> smooth_of(Fact.continuous_source()).degree
    inf
    """
    return Fact(joined.dependence, INF, joined.piecewise)


def continuous_degree(fact: Fact) -> Degree:
    """What a factor adds to a product's degree: nothing when it is not continuous.

    >>> continuous_degree(DISCRETE_FACT), continuous_degree(Fact.continuous_source())
    (0, 1)
    """
    return fact.degree if fact.is_continuous else 0


def format_degree(degree: Degree) -> str:
    """The JSON spelling of a degree: ``"0"``, ``"1"``, … or ``"inf"``.

    >>> format_degree(INF), format_degree(3)
    ('inf', '3')
    """
    return "inf" if degree == INF else str(int(degree))


SITE_KINDS = ("contraction", "gating", "normalization")


@dataclass(frozen=True, slots=True)
class Site:
    """One input-by-input multiplicative site (an entry of ``input_products``).

    ``operands`` are the graph nodes through which the multiplied values depend on the
    input (their witness paths end there). A fused op holds one site per product it
    performs, told apart by ``part`` (attention: ``scores`` = q·kᵀ, ``mix`` = weights·v);
    a value computed inside the fused op is named in ``names`` (``sdpa.weights``), and its
    operand is the node it is computed from.
    """

    node: fx.Node
    kind: str  # "contraction" | "gating" | "normalization"
    operands: tuple[fx.Node, ...]
    part: str | None = None
    names: tuple[str, ...] = ()

    @property
    def operand_names(self) -> list[str]:
        """What the JSON lists as ``operands``: node names, or a fused op's inner values."""
        return list(self.names) if self.names else [n.name for n in self.operands]
