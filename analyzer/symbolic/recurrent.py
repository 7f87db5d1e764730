"""Exact rules for the fused recurrent layers (``aten.rnn_tanh``, ``rnn_relu``, ``lstm``,
``gru``), through their textbook decomposition step by step, as torch's reference
cells compute them:

* RNN: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``;
* LSTM: gates ``i, f, g, o`` from one such affine map, ``c' = σ(f)·c + σ(i)·tanh(g)``,
  ``h' = σ(o)·tanh(c')`` (and ``h' = W_hr h'`` with a projection);
* GRU: ``r = σ(·)``, ``z = σ(·)``, ``n = tanh(W_in x + b_in + r·(W_hn h + b_hn))``,
  ``h' = (1 − z)·n + z·h``.

Layers stack, a bidirectional layer runs a second pass backwards over time and
concatenates the two; dropout between layers (training mode) is refused.

>>> from analyzer.symbolic.rules import RULES
>>> sorted(name for name in RULES if name.startswith(("aten.rnn", "aten.lstm", "aten.gru")))
['aten.gru', 'aten.lstm', 'aten.rnn_relu', 'aten.rnn_tanh']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy
import torch

from analyzer.errors import SpecError
from analyzer.frontend.dialect import op_name
from analyzer.symbolic.exact import Entry, Rat, as_expr
from analyzer.symbolic.rules import Context, _exact_or, _max, _plus, rule
from analyzer.symbolic.tensors import SymTensor, einsum, lift, move, pointwise


def _sigmoid(x: Any) -> sympy.Expr:
    # unevaluated: sympy's eager evaluation asks assumptions of every nested tanh and
    # exp, which grows with the depth of the recurrence (minutes at three steps)
    return sympy.Pow(1 + sympy.exp(-x, evaluate=False), -1, evaluate=False)


def _tanh(x: Any) -> sympy.Expr:
    return sympy.tanh(x, evaluate=False)


def _affine(context: Context, x: SymTensor, weight: Any, bias: Any) -> SymTensor:
    out = einsum("...i,oi->...o", [x, lift(weight, context.ring)], context.ring, context.budget)
    return _plus(context, out, bias)


def _piece(context: Context, tensor: SymTensor, function: Callable[..., Any]) -> SymTensor:
    return pointwise(_exact_or(function, context), [tensor])


def _take(context: Context, tensor: SymTensor, pick: Callable[[torch.Tensor], Any]) -> Any:
    return move(pick, (tensor,), {}, context.ring)


def _add(a: Entry, b: Entry) -> Entry:
    if isinstance(a, Rat) and isinstance(b, Rat):
        return a + b
    # unevaluated, as below: sympy would otherwise merge and re-simplify exponentials
    return sympy.Add(as_expr(a), as_expr(b), evaluate=False)


def _mul(a: Entry, b: Entry) -> Entry:
    if isinstance(a, Rat) and isinstance(b, Rat):
        return a * b
    return sympy.Mul(as_expr(a), as_expr(b), evaluate=False)


def _sum(*tensors: SymTensor) -> SymTensor:
    return pointwise(lambda *items: _fold(_add, items), list(tensors))


def _fold(step: Callable[[Entry, Entry], Entry], items: tuple[Entry, ...]) -> Entry:
    value = items[0]
    for item in items[1:]:
        value = step(value, item)
    return value


def _product(a: SymTensor, b: SymTensor) -> SymTensor:
    return pointwise(_mul, [a, b])


class _Cell:
    """One direction of one layer: its weights and the step it takes."""

    def __init__(self, context: Context, kind: str, weights: list[Any], biased: bool) -> None:
        self.context, self.kind = context, kind
        self.w_ih, self.w_hh = weights[0], weights[1]
        self.b_ih, self.b_hh = (weights[2], weights[3]) if biased else (None, None)
        rest = weights[4:] if biased else weights[2:]
        self.w_hr = rest[0] if rest else None

    def gates(self, part: SymTensor, count: int) -> list[SymTensor]:
        width = part.shape[-1] // count
        return [
            _take(self.context, part, lambda t, i=i: t[..., i * width : (i + 1) * width])
            for i in range(count)
        ]

    def step(self, x_part: SymTensor, h: SymTensor, c: SymTensor | None) -> tuple[Any, Any]:
        """``x_part`` is ``W_ih x + b_ih``, precomputed for every step."""
        context = self.context
        h_part = _affine(context, h, self.w_hh, self.b_hh)
        sigmoid = lambda t: _piece(context, t, _sigmoid)  # noqa: E731
        tanh = lambda t: _piece(context, t, _tanh)  # noqa: E731
        if self.kind in ("rnn_tanh", "rnn_relu"):
            act = _tanh if self.kind == "rnn_tanh" else (lambda v: _max(0, v))
            return _piece(context, _sum(x_part, h_part), act), None
        if self.kind == "lstm":
            i, f, g, o = self.gates(_sum(x_part, h_part), 4)
            c = _sum(_product(sigmoid(f), c), _product(sigmoid(i), tanh(g)))
            h = _product(sigmoid(o), tanh(c))
            if self.w_hr is not None:
                h = _affine(context, h, self.w_hr, None)
            return h, c
        x_r, x_z, x_n = self.gates(x_part, 3)
        h_r, h_z, h_n = self.gates(h_part, 3)
        r, z = sigmoid(_sum(x_r, h_r)), sigmoid(_sum(x_z, h_z))
        n = tanh(_sum(x_n, _product(r, h_n)))
        one = context.const(1)
        keep = pointwise(lambda v: _add(one, _mul(context.const(-1), v)), [z])
        return _sum(_product(keep, n), _product(z, h)), None


@rule("aten.rnn_tanh", "aten.rnn_relu", "aten.lstm", "aten.gru")
def _recurrent(context: Context, args: tuple, kwargs: dict) -> tuple[SymTensor, ...]:
    kind = op_name(context.node).removeprefix("aten.")
    x, hx, params, biased, layers, dropout, train, bidirectional, batch_first = args[:9]
    if train and dropout:
        raise SpecError(
            f"expand: {context.node.name} ({op_name(context.node)}) applies dropout between "
            "layers (analyse in eval mode)"
        )
    ring = context.ring
    sequence = lift(x, ring)
    states = [lift(h, ring) for h in (hx if kind == "lstm" else [hx])]
    batched = len(sequence.shape) == 3
    if not batched:
        sequence = _take(context, sequence, lambda t: t.unsqueeze(1))
        states = [_take(context, s, lambda t: t.unsqueeze(1)) for s in states]
    elif batch_first:
        sequence = _take(context, sequence, lambda t: t.transpose(0, 1))
    directions = 2 if bidirectional else 1
    per_cell = len(params) // (layers * directions)
    steps = sequence.shape[0]
    # each step's state reads every entry of the last one through every gate: written
    # out (as printing, degrees and monomials read it) the expression grows that fast
    hidden = states[0].shape[-1]
    fan_in = {"lstm": 4, "gru": 3}.get(kind, 1) * hidden
    context.budget.charge(
        layers * directions * fan_in**steps,
        f"{context.node.name} ({op_name(context.node)}: {steps} steps, hidden size {hidden})",
    )
    finals: list[list[SymTensor]] = [[] for _ in states]
    for layer in range(layers):
        outputs: list[list[SymTensor]] = []
        for direction in range(directions):
            slot = layer * directions + direction
            cell = _Cell(context, kind, list(params[slot * per_cell : (slot + 1) * per_cell]),
                         bool(biased))  # fmt: skip
            x_part = _affine(context, sequence, cell.w_ih, cell.b_ih)
            h = _take(context, states[0], lambda t, i=slot: t[i])
            c = _take(context, states[1], lambda t, i=slot: t[i]) if kind == "lstm" else None
            produced: list[SymTensor] = [None] * steps  # type: ignore[list-item]
            order = range(steps) if direction == 0 else range(steps - 1, -1, -1)
            for t in order:
                h, c = cell.step(_take(context, x_part, lambda v, t=t: v[t]), h, c)
                produced[t] = h
            outputs.append(produced)
            finals[0].append(h)
            if kind == "lstm":
                finals[1].append(c)
        sequence = move(
            lambda *hs: torch.stack(
                [torch.cat(hs[t::steps], -1) for t in range(steps)]
            ),
            tuple(h for produced in outputs for h in produced),
            {},
            ring,
        )  # fmt: skip
    stacked = [move(lambda *hs: torch.stack(hs), tuple(f), {}, ring) for f in finals]
    if not batched:
        sequence = _take(context, sequence, lambda t: t.squeeze(1))
        stacked = [_take(context, s, lambda t: t.squeeze(1)) for s in stacked]
    elif batch_first:
        sequence = _take(context, sequence, lambda t: t.transpose(0, 1))
    return (sequence, *stacked)
