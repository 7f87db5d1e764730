"""Tensors of exact entries, and the few generic ways ops act on them.

A :class:`SymTensor` is a shape and a row-major list of entries
(:mod:`analyzer.symbolic.exact`). Ops act on it in one of four generic ways, so that the
rule table stays small:

* **moves** (views, permutes, slices, concatenation, gathers by fixed indices): the real
  aten op runs on *tensors of entry indices*, and the result's indices say which entry
  lands where: every structural op torch has works, with no rule of its own;
* **pointwise** functions, broadcast as torch broadcasts;
* **reductions** over some axes;
* **contractions**, as einsum equations, contracted pairwise left to right.

>>> import sympy
>>> from analyzer.symbolic.exact import Ring
>>> ring = Ring(sympy.symbols("a b"))
>>> t = SymTensor((2,), ring.generators())
>>> [e.as_expr() for e in einsum("i,i->", [t, t], ring, Budget(10**6)).entries]
[a**2 + b**2]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils import _pytree as pytree

from analyzer.errors import SpecError
from analyzer.symbolic.exact import Entry, Rat, Ring, constant, mul, total


@dataclass
class SymTensor:
    """A tensor of exact entries; ``origins`` names the nodes that made some entry
    non-polynomial on the way here."""

    shape: tuple[int, ...]
    entries: list[Entry]
    origins: frozenset[str] = frozenset()

    @property
    def numel(self) -> int:
        return len(self.entries)

    @property
    def polynomial(self) -> bool:
        return all(isinstance(e, Rat) for e in self.entries)


class Budget:
    """The work an expansion may do, in term products; past it, a clear refusal."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def charge(self, estimate: int, what: str, doing: str = "multiply out") -> None:
        """Refuse, before the work, when ``what`` would ``doing`` more than the limit."""
        if estimate > self.limit:
            raise SpecError(
                f"expand: {what} would {doing} about {estimate:,} terms, past the limit "
                f"of {self.limit:,} (--max-terms): expand a smaller instance (fewer or "
                "shorter inputs, e.g. --input 'float32[1,1,16]') or raise the limit"
            )


def grid(shape: Sequence[int]) -> torch.Tensor:
    """Row-major entry indices of a tensor of ``shape``."""
    return torch.arange(math.prod(shape), dtype=torch.int64).reshape(tuple(shape))


def from_tensor(value: torch.Tensor, ring: Ring) -> SymTensor:
    """A concrete tensor as exact constants (floats are the dyadic rationals they hold)."""
    flat = value.detach().to("cpu").reshape(-1).tolist()
    return SymTensor(tuple(value.shape), [constant(v, ring) for v in flat])


def lift(value: Any, ring: Ring) -> SymTensor:
    """A SymTensor, a concrete tensor or a Python number as a SymTensor."""
    if isinstance(value, SymTensor):
        return value
    if isinstance(value, torch.Tensor):
        return from_tensor(value, ring)
    if isinstance(value, (int, float, bool)):
        return SymTensor((), [constant(value, ring)])
    raise TypeError(f"cannot use {type(value).__name__} as a tensor of exact values")


def origins_of(*values: Any) -> frozenset[str]:
    found: frozenset[str] = frozenset()
    for value in values:
        if isinstance(value, SymTensor):
            found |= value.origins
    return found


def broadcast(operands: Sequence[SymTensor]) -> tuple[tuple[int, ...], list[list[Entry]]]:
    """The broadcast shape and, per operand, its entries at every output position."""
    shape = tuple(torch.broadcast_shapes(*(o.shape for o in operands)))
    columns = []
    for operand in operands:
        indices = grid(operand.shape).expand(shape).reshape(-1).tolist()
        columns.append([operand.entries[i] for i in indices])
    return shape, columns


def pointwise(function: Callable[..., Entry], operands: Sequence[SymTensor]) -> SymTensor:
    """``function`` applied entry by entry, with broadcasting."""
    shape, columns = broadcast(operands)
    entries = [function(*items) for items in zip(*columns, strict=True)]
    return SymTensor(shape, entries, origins_of(*operands))


def reduce(
    tensor: SymTensor, dims: Sequence[int] | None, keepdim: bool,
    function: Callable[[list[Entry]], Entry],
) -> SymTensor:  # fmt: skip
    """``function`` of the entries along ``dims`` (all of them when ``None``)."""
    rank = len(tensor.shape)
    axes = (
        sorted({d % rank for d in dims}) if dims not in (None, []) and rank else list(range(rank))
    )
    kept = [d for d in range(rank) if d not in axes]
    indices = grid(tensor.shape).permute(*kept, *axes) if rank else grid(())
    length = math.prod(tensor.shape[d] for d in axes)
    rows = indices.reshape(-1, max(length, 1)).tolist() if length else []
    entries = [function([tensor.entries[i] for i in row]) for row in rows]
    shape = (
        tuple(1 if d in axes else n for d, n in enumerate(tensor.shape))
        if keepdim
        else tuple(tensor.shape[d] for d in kept)
    )
    return SymTensor(shape, entries, tensor.origins)


def move(
    function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
    ring: Ring, fill: Entry | None = None,
) -> Any:  # fmt: skip
    """Run a data-movement op on tensors of entry indices and read the entries back.

    Symbolic operands and floating-point concrete ones become float64 index tensors
    (index 0 is reserved for what the op creates rather than moves: padding, ``fill``);
    integer tensors (indices, masks) stay as they are.
    """
    pool: list[Entry] = [fill if fill is not None else constant(0, ring)]
    origins = origins_of(*pytree.tree_leaves((args, kwargs)))

    def encode(leaf: Any) -> Any:
        if isinstance(leaf, torch.Tensor) and leaf.is_floating_point():
            leaf = from_tensor(leaf, ring)
        if not isinstance(leaf, SymTensor):
            return leaf
        start = len(pool)
        pool.extend(leaf.entries)
        return torch.arange(start, start + leaf.numel, dtype=torch.float64).reshape(leaf.shape)

    encoded_args, encoded_kwargs = pytree.tree_map(encode, (args, kwargs))
    result = function(*encoded_args, **encoded_kwargs)

    def decode(leaf: Any) -> Any:
        if not isinstance(leaf, torch.Tensor):
            return leaf
        indices = leaf.reshape(-1).tolist()
        return SymTensor(tuple(leaf.shape), [pool[int(i)] for i in indices], origins)

    return pytree.tree_map(decode, result)


def einsum(equation: str, operands: Sequence[SymTensor], ring: Ring, budget: Budget) -> SymTensor:
    """An einsum of exact tensors, contracted pairwise left to right (as torch does), so
    that ``x₁ᵀ W x₂`` costs two small contractions rather than one large one."""
    inputs, arrow, output = equation.replace(" ", "").partition("->")
    terms, width = _expand_ellipses(inputs.split(","), [o.shape for o in operands])
    broadcast_letters = "".join(_private(width))
    if arrow:
        output = output.replace("...", broadcast_letters)
    else:  # implicit output: the broadcast axes, then the letters used once, sorted
        named = "".join(terms)
        single = sorted(c for c in set(named) if named.count(c) == 1 and c not in broadcast_letters)
        output = broadcast_letters + "".join(single)
    current, letters = operands[0], terms[0]
    for index in range(1, len(operands)):
        later = set(output).union(*map(set, terms[index + 1 :]))
        other, other_letters = operands[index], terms[index]
        kept = "".join(dict.fromkeys(c for c in letters + other_letters if c in later))
        current = _pair(current, letters, other, other_letters, kept, ring, budget)
        letters = kept
    if len(operands) == 1 or letters != output:
        current = _pair(current, letters, None, "", output, ring, budget)
    return current


def _private(count: int) -> list[str]:
    return [chr(0x3B1 + count - 1 - i) for i in range(count)]


def _expand_ellipses(terms: list[str], shapes: list[tuple[int, ...]]) -> tuple[list[str], int]:
    """Terms with ``...`` spelled as private letters aligned from the right, and the
    widest ellipsis."""
    expanded, width = [], 0
    for term, shape in zip(terms, shapes, strict=True):
        if "..." in term:
            count = len(shape) - (len(term) - 3)
            width = max(width, count)
            term = term.replace("...", "".join(_private(count)))
        expanded.append(term)
    return expanded, width


def _pair(
    left: SymTensor, left_letters: str, right: SymTensor | None, right_letters: str,
    output: str, ring: Ring, budget: Budget,
) -> SymTensor:  # fmt: skip
    """``einsum(f"{left_letters},{right_letters}->{output}")`` of one or two tensors."""
    operands = [(left, left_letters)] + ([(right, right_letters)] if right is not None else [])
    sizes: dict[str, int] = {}
    for tensor, letters in operands:
        if len(set(letters)) != len(letters):
            raise SpecError(f"expand: einsum term {letters!r} repeats an index (a diagonal)")
        for letter, size in zip(letters, tensor.shape, strict=True):
            sizes[letter] = max(sizes.get(letter, 1), size)
    summed = [c for c in dict.fromkeys(left_letters + right_letters) if c not in output]
    space = list(output) + summed
    out_count = math.prod(sizes[c] for c in output)
    sum_count = max(1, math.prod(sizes[c] for c in summed))

    def rows(tensor: SymTensor, letters: str) -> list[list[int]]:
        """For every output position, the entry indices met along the summed letters."""
        present = [letters.index(c) for c in space if c in letters]
        index = grid(tensor.shape).permute(*present) if present else grid(tensor.shape)
        index = index.reshape([sizes[c] if c in letters else 1 for c in space])
        return index.expand([sizes[c] for c in space]).reshape(out_count, sum_count).tolist()

    shape = tuple(sizes[c] for c in output)
    left_rows = rows(left, left_letters)
    if right is None:
        entries = [total((left.entries[i] for i in row), ring) for row in left_rows]
        return SymTensor(shape, entries, left.origins)
    right_rows = rows(right, right_letters)
    pairs = [list(zip(a, b, strict=True)) for a, b in zip(left_rows, right_rows, strict=True)]
    width_left = [len(e) if isinstance(e, Rat) else 1 for e in left.entries]
    width_right = [len(e) if isinstance(e, Rat) else 1 for e in right.entries]
    estimate = sum(width_left[i] * width_right[j] for row in pairs for i, j in row)
    budget.charge(estimate, f"the contraction {left_letters},{right_letters}->{output}")
    entries = [
        total((mul(left.entries[i], right.entries[j]) for i, j in row), ring) for row in pairs
    ]
    return SymTensor(shape, entries, left.origins | right.origins)
