"""Hypothesis strategies that draw architectures whose ground truth is known by construction.

:func:`architectures` composes the blocks of :mod:`analyzer.testing.blocks` into small
models; each drawn :class:`Architecture` builds its module and example input and states
its :class:`Truth` (primitive set, sites by kind, degree) from what its blocks declare,
never from an analysis. Draws shrink towards fewer blocks, earlier kinds in ``blocks``,
one feature and seed 0, so a failing claim ends at a minimal model.
:func:`op_graphs` draws random fx graphs over registry ops (see :mod:`.opgraphs`).

>>> from hypothesis import given, settings
>>> @settings(max_examples=5, database=None)
... @given(architectures(blocks=["linear", "relu"], max_depth=2))
... def check(architecture):
...     assert architecture.truth.circuit_class <= {"matmul", "relu"}
>>> check()
"""

from __future__ import annotations

import functools
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from hypothesis import strategies as st
from torch import nn

from analyzer.errors import SpecError
from analyzer.testing.blocks import BLOCKS, INF, Block, build_block
from analyzer.testing.opgraphs import OpGraph, op_graphs

__all__ = ["Architecture", "OpGraph", "Truth", "architectures", "op_graphs"]

MAX_NESTING = 1  # a residual block wraps plain blocks, not other residual blocks
RECURRENT = frozenset({"rnn", "lstm", "gru"})


@dataclass(frozen=True)
class Truth:
    """What a drawn model is, by construction: the analysis must say the same."""

    circuit_class: frozenset[str]
    sites: Mapping[str, int]  # site kind -> count
    degree: float  # INF for a non-polynomial model
    piecewise: bool

    @property
    def site_kinds(self) -> frozenset[str]:
        return frozenset(kind for kind, count in self.sites.items() if count)

    @property
    def degree_text(self) -> str:
        """The degree as the analysis JSON spells it (``"1"``, ``"inf"``)."""
        return "inf" if self.degree == INF else str(int(self.degree))

    @property
    def piecewise_affine(self) -> bool:
        return self.degree <= 1

    def disagreements(self, analysis: Any) -> list[str]:
        """How ``analysis`` (an :class:`~analyzer.analysis.Analysis`) differs from the truth,
        one sentence per difference; empty when they agree."""
        found: list[str] = []
        if set(analysis.circuit_class) != self.circuit_class:
            built = sorted(self.circuit_class)
            found.append(f"primitive set {sorted(analysis.circuit_class)}, built {built}")
        counted = dict(Counter(site.kind for site in analysis.sites))
        if counted != {k: v for k, v in self.sites.items() if v}:
            found.append(f"sites {counted}, built {dict(self.sites)}")
        if analysis.degree != self.degree_text:
            found.append(f"degree {analysis.degree}, built {self.degree_text}")
        return found


def _truth_of(blocks: Sequence[Block]) -> Truth:
    classes: set[str] = set()
    sites: Counter[str] = Counter()
    degree: float = 1
    piecewise = False
    for block in blocks:
        if block.kind == "residual":
            inner = _truth_of(block.inner)
            classes |= inner.circuit_class
            sites.update(inner.sites)
            step = max(1.0, inner.degree)  # x + f(x)
            piecewise |= inner.piecewise
        else:
            kind = BLOCKS[block.kind]
            classes |= kind.classes
            sites.update(kind.sites)
            step = kind.degree
            piecewise |= kind.piecewise
        degree = INF if INF in (degree, step) else degree * step
    return Truth(frozenset(classes), dict(sorted(sites.items())), degree, piecewise)


def describe_block(block: Block) -> str:
    """A block in words: ``"LSTM layer, input 1, hidden 1"``."""
    kind = BLOCKS[block.kind]
    if block.kind == "residual":
        return "residual block around (" + ", ".join(map(describe_block, block.inner)) + ")"
    if block.kind in RECURRENT:
        return f"{kind.words}, input {block.d_in}, hidden {block.d_out}"
    if kind.resizes:
        return f"{kind.words}, {block.d_in} → {block.d_out} features"
    return f"{kind.words} on {block.d_in} feature{'s' if block.d_in > 1 else ''}"


@dataclass(frozen=True)
class Architecture:
    """A drawn model: its blocks, input shape ``(batch, time, features)`` and weight seed.

    ``module`` and ``args`` are built once, on first use, with weights and input drawn
    from ``torch.manual_seed(seed)`` (the global generator is left as it was). A model
    of one block is that block's module itself, so its module paths are the block's own
    (``rnn`` for a recurrent layer); longer ones name their blocks by kind.
    """

    blocks: tuple[Block, ...]
    batch: int
    time: int
    features: int
    seed: int

    @property
    def truth(self) -> Truth:
        return _truth_of(self.blocks)

    @property
    def module(self) -> nn.Module:
        return self._built[0]

    @property
    def args(self) -> tuple[torch.Tensor, ...]:
        return self._built[1]

    @functools.cached_property
    def _built(self) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
        return self.build()

    def build(self) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
        """A fresh ``(module, example_args)`` in eval mode (same weights every call)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            modules = [build_block(block, self.time) for block in self.blocks]
            x = torch.randn(self.batch, self.time, self.features)
        if len(modules) == 1:
            return modules[0].eval(), (x,)
        names = _block_names(self.blocks)
        return nn.Sequential(OrderedDict(zip(names, modules, strict=True))).eval(), (x,)

    def describe(self) -> str:
        """The model in words: ``"a single LSTM layer, input 1, hidden 1"``."""
        if len(self.blocks) == 1:
            return f"a single {describe_block(self.blocks[0])}"
        parts = "; ".join(describe_block(b) for b in self.blocks)
        return f"{len(self.blocks)} blocks on {self.features} input feature(s): {parts}"

    def count(self, kind: str) -> int:
        """How many blocks of ``kind`` the model holds, inside residual blocks too."""

        def walk(blocks: Sequence[Block]) -> int:
            return sum((b.kind == kind) + walk(b.inner) for b in blocks)

        return walk(self.blocks)

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.module.parameters())


def _block_names(blocks: Sequence[Block]) -> list[str]:
    totals = Counter(b.kind for b in blocks)
    seen: Counter[str] = Counter()
    names = []
    for block in blocks:
        seen[block.kind] += 1
        names.append(block.kind if totals[block.kind] == 1 else f"{block.kind}_{seen[block.kind]}")
    return names


# --- the strategy -----------------------------------------------------------------


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"architectures({name}={value!r}): {name} must be an int")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise SpecError(f"architectures({name}={value!r}): {name} must be {bound}")
    return value


def _check_blocks(blocks: Sequence[str] | None) -> tuple[str, ...]:
    if blocks is None:
        return tuple(BLOCKS)
    known = ", ".join(BLOCKS)
    if isinstance(blocks, str) or not isinstance(blocks, Sequence):
        raise SpecError(
            f"architectures(blocks={blocks!r}): blocks must be a list of block names "
            f"(for one kind, write [{blocks!r}]); known blocks: {known}"
        )
    if not blocks:
        raise SpecError(f"architectures(blocks=[]): give at least one block; known blocks: {known}")
    unknown = [b for b in blocks if b not in BLOCKS]
    if unknown:
        raise SpecError(
            f"architectures(blocks=...): unknown block(s) {', '.join(map(repr, unknown))}; "
            f"known blocks: {known}"
        )
    if set(blocks) == {"residual"}:
        raise SpecError(
            "architectures(blocks=['residual']): a residual block wraps other blocks; "
            "add at least one more kind"
        )
    return tuple(dict.fromkeys(blocks))  # repeated names would only bias the draw


def architectures(
    *,
    blocks: Sequence[str] | None = None,
    min_depth: int = 1,
    max_depth: int = 3,
    width: int = 4,
    max_time: int = 3,
) -> st.SearchStrategy[Architecture]:
    """Models of ``min_depth`` to ``max_depth`` blocks drawn from ``blocks`` (default: every
    kind in :data:`~analyzer.testing.blocks.BLOCKS`), with feature sizes from 1 to
    ``width`` and sequences of 2 to ``max_time`` steps. A residual block wraps one or two
    other blocks (they count within it). Options are checked when the strategy is made.

    >>> architectures(blocks=["lstn"])
    Traceback (most recent call last):
    ...
    analyzer.errors.SpecError: architectures(blocks=...): unknown block(s) 'lstn'; known blocks: ...
    """
    kinds = _check_blocks(blocks)
    _check_int("min_depth", min_depth, 1)
    _check_int("max_depth", max_depth, min_depth)
    _check_int("width", width, 1, 64)
    _check_int("max_time", max_time, 2, 64)
    return _architectures(kinds, min_depth, max_depth, width, max_time)


@st.composite
def _element(draw: Any, kinds: tuple[str, ...], width: int, nesting: int) -> tuple:
    """A block before its sizes are threaded: ``(kind, drawn size, inner elements)``."""
    usable = kinds if nesting < MAX_NESTING else tuple(k for k in kinds if k != "residual")
    kind = draw(st.sampled_from(usable))
    size = draw(st.integers(1, width))
    inner: tuple = ()
    if kind == "residual":
        inner = tuple(draw(st.lists(_element(kinds, width, nesting + 1), min_size=1, max_size=2)))
    return kind, size, inner


def _thread(elements: Sequence[tuple], d: int, *, keep: bool = False) -> tuple[list[Block], int]:
    """Sizes in and out for a row of elements; with ``keep`` the row ends at width ``d``
    (a residual's inner row: its last resizing block maps back to ``d``)."""
    last_resizing = max(
        (i for i, (kind, _, _) in enumerate(elements) if BLOCKS[kind].resizes), default=None
    )
    start, blocks = d, []
    for index, (kind, size, inner) in enumerate(elements):
        if kind == "residual":
            inner_blocks, _ = _thread(inner, d, keep=True)
            blocks.append(Block(kind, d, d, tuple(inner_blocks)))
            continue
        out = size if BLOCKS[kind].resizes else d
        if keep and index == last_resizing:
            out = start
        blocks.append(Block(kind, d, out))
        d = out
    return blocks, d


def _architectures(
    kinds: tuple[str, ...], min_depth: int, max_depth: int, width: int, max_time: int
) -> st.SearchStrategy[Architecture]:
    @st.composite
    def draw_one(draw: Any) -> Architecture:
        features = draw(st.integers(1, width))
        elements = draw(st.lists(_element(kinds, width, 0), min_size=min_depth, max_size=max_depth))
        blocks, _ = _thread(elements, features)
        time = draw(st.integers(2, max_time))
        batch = draw(st.integers(1, 2))
        seed = draw(st.integers(0, 2**31 - 1))
        return Architecture(tuple(blocks), batch, time, features, seed)

    return draw_one()
