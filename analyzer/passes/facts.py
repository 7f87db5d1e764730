"""The lattice of facts that the dataflow passes compute for every node.

A :class:`Fact` says how a value depends on the model input (``static`` <
``discrete`` < ``continuous``), its polynomial degree in the continuous sources
(an ``int`` or :data:`INF`) and whether a kink or a data-dependent selection
happened on the way (``piecewise``).

>>> join_facts([Fact.continuous_source(), STATIC_FACT]).dependence
<Dependence.CONTINUOUS: 2>
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass

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


def format_degree(degree: Degree) -> str:
    """The JSON spelling of a degree: ``"0"``, ``"1"``, … or ``"inf"``.

    >>> format_degree(INF), format_degree(3)
    ('inf', '3')
    """
    return "inf" if degree == INF else str(int(degree))
