"""Elementwise rules: exact arithmetic, piecewise-linear functions (``Max``, ``Min``,
``Abs``, ``Piecewise``), comparisons and selections, smooth functions; and the ops that
only carry a value (copies, casts, dropout in eval mode)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy
import torch

from analyzer.errors import SpecError
from analyzer.frontend.dialect import op_name
from analyzer.symbolic.exact import (
    Entry,
    Rat,
    add,
    as_expr,
    divide,
    mul,
    neg,
    power,
)
from analyzer.symbolic.rules.base import (
    Context,
    _arg,
    _charge_products,
    _charge_smooth,
    _scale,
    rule,
)
from analyzer.symbolic.tensors import (
    SymTensor,
    lift,
    pointwise,
)

# --- arithmetic -----------------------------------------------------------------------


@rule("aten.add", "aten.add_")
def _add(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    alpha = _arg(args, kwargs, 2, "alpha", 1)
    a, b = lift(args[0], context.ring), lift(args[1], context.ring)
    return pointwise(lambda x, y: add(x, _scale(context, y, alpha)), [a, b])


@rule("aten.sub", "aten.sub_", "aten.subtract")
def _sub(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    alpha = _arg(args, kwargs, 2, "alpha", 1)
    a, b = lift(args[0], context.ring), lift(args[1], context.ring)
    return pointwise(lambda x, y: add(x, neg(_scale(context, y, alpha))), [a, b])


@rule("aten.rsub")
def _rsub(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    alpha = _arg(args, kwargs, 2, "alpha", 1)
    a, b = lift(args[0], context.ring), lift(args[1], context.ring)
    return pointwise(lambda x, y: add(y, neg(_scale(context, x, alpha))), [a, b])


@rule("aten.neg", "aten.positive")
def _neg(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    sign = -1 if op_name(context.node) == "aten.neg" else 1
    return pointwise(lambda x: _scale(context, x, sign), [lift(args[0], context.ring)])


@rule("aten.mul", "aten.mul_", "aten.multiply")
def _mul(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    a, b = lift(args[0], context.ring), lift(args[1], context.ring)
    _charge_products(context, a, b)
    return pointwise(mul, [a, b])


@rule("aten.div", "aten.div_", "aten.divide", "aten.true_divide")
def _div(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    if _arg(args, kwargs, 2, "rounding_mode", None) is not None:
        raise SpecError(f"expand: {context.node.name} divides with rounding, which is not exact")
    a, b = lift(args[0], context.ring), lift(args[1], context.ring)
    return pointwise(divide, [a, b])


@rule("aten.reciprocal")
def _reciprocal(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    return pointwise(lambda x: divide(context.const(1), x), [lift(args[0], context.ring)])


@rule("aten.square")
def _square(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    value = lift(args[0], context.ring)
    _charge_products(context, value, value)
    return pointwise(lambda x: power(x, 2), [value])


@rule("aten.pow")
def _pow(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    base, exponent = args[0], args[1]
    if isinstance(exponent, (int, float)):
        value = lift(base, context.ring)
        if float(exponent).is_integer() and exponent >= 2:
            widest = max((len(e) for e in value.entries if isinstance(e, Rat)), default=1)
            context.budget.charge(value.numel * widest ** int(exponent), context.node.name)
        return pointwise(lambda x: power(x, exponent), [value])
    a, b = lift(base, context.ring), lift(exponent, context.ring)
    return pointwise(lambda x, y: as_expr(x) ** as_expr(y), [a, b])


@rule("aten.addcmul")
def _addcmul(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    value = _arg(args, kwargs, 3, "value", 1)
    tensors = [lift(a, context.ring) for a in args[:3]]
    _charge_products(context, tensors[1], tensors[2])
    return pointwise(lambda s, a, b: add(s, _scale(context, mul(a, b), value)), tensors)


@rule("aten.addcdiv")
def _addcdiv(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    value = _arg(args, kwargs, 3, "value", 1)
    tensors = [lift(a, context.ring) for a in args[:3]]
    return pointwise(lambda s, a, b: add(s, _scale(context, divide(a, b), value)), tensors)


@rule("aten.lerp")
def _lerp(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    tensors = [lift(a, context.ring) for a in args[:3]]
    return pointwise(lambda a, b, w: add(a, mul(w, add(b, neg(a)))), tensors)


# --- piecewise-linear: Max, Min, Abs, Piecewise ------------------------------------------


def _exact_or(function: Callable[..., Any], context: Context) -> Callable[..., Entry]:
    """Apply a sympy function; on constants the result is a constant again."""

    def apply(*entries: Entry) -> Entry:
        if all(isinstance(e, Rat) and e.is_constant for e in entries):
            value = function(*(e.constant_value() for e in entries))
            if isinstance(value, sympy.Rational):
                return context.const(value)
            return context.const(float(value))
        return function(*(as_expr(e) for e in entries))

    return apply


def _max(*items: Any) -> sympy.Expr:
    return sympy.Max(*items, evaluate=False) if _symbolic(items) else sympy.Max(*items)


def _min(*items: Any) -> sympy.Expr:
    return sympy.Min(*items, evaluate=False) if _symbolic(items) else sympy.Min(*items)


def _symbolic(items: tuple[Any, ...]) -> bool:
    # cheap: an expression's free_symbols walks the whole tree
    return not all(isinstance(i, (int, float, sympy.Number)) for i in items)


def _unary(context: Context, args: tuple, function: Callable[..., Any]) -> SymTensor:
    return pointwise(_exact_or(function, context), [lift(args[0], context.ring)])


@rule("aten.relu", "aten.relu_")
def _relu(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    return _unary(context, args, lambda x: _max(0, x))


@rule("aten.abs")
def _abs(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    return _unary(context, args, sympy.Abs)


def _clamped(low: Any, high: Any) -> Callable[[Any], sympy.Expr]:
    def clamp(x: Any) -> sympy.Expr:
        if low is not None:
            x = _max(_rational(low), x)
        if high is not None:
            x = _min(_rational(high), x)
        return x

    return clamp


def _rational(value: Any) -> sympy.Rational:
    if isinstance(value, float):
        return sympy.Rational(*value.as_integer_ratio())
    return sympy.Rational(value)


@rule("aten.clamp", "aten.clip", "aten.clamp_min", "aten.clamp_max", "aten.hardtanh", "aten.relu6")
def _clamp(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    name = op_name(context.node)
    if name == "aten.clamp_min":
        low, high = args[1], None
    elif name == "aten.clamp_max":
        low, high = None, args[1]
    elif name == "aten.hardtanh":
        low, high = _arg(args, kwargs, 1, "min_val", -1.0), _arg(args, kwargs, 2, "max_val", 1.0)
    elif name == "aten.relu6":
        low, high = 0, 6
    else:
        low, high = _arg(args, kwargs, 1, "min", None), _arg(args, kwargs, 2, "max", None)
    if isinstance(low, (torch.Tensor, SymTensor)) or isinstance(high, (torch.Tensor, SymTensor)):
        raise SpecError(f"expand: {context.node.name} clamps to tensor bounds (not supported)")
    return _unary(context, args, _clamped(low, high))


@rule("aten.leaky_relu")
def _leaky_relu(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    slope = _rational(_arg(args, kwargs, 1, "negative_slope", 0.01))
    return _unary(context, args, lambda x: _max(x, slope * x) if slope <= 1 else _min(x, slope * x))


@rule("aten.maximum", "aten.minimum")
def _maximum(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    function = _max if op_name(context.node) == "aten.maximum" else _min
    operands = [lift(a, context.ring) for a in args[:2]]
    return pointwise(_exact_or(function, context), operands)


@rule("aten.threshold")
def _threshold(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    limit, value = _rational(args[1]), _rational(args[2])
    return _unary(context, args, lambda x: sympy.Piecewise((x, x > limit), (value, True)))


_COMPARISONS = {
    "aten.gt": sympy.StrictGreaterThan, "aten.lt": sympy.StrictLessThan,
    "aten.ge": sympy.GreaterThan, "aten.le": sympy.LessThan, "aten.eq": sympy.Eq,
    "aten.ne": sympy.Ne,
}  # fmt: skip


@rule(*_COMPARISONS)
def _compare(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    """A comparison as a 0/1 indicator: ``Piecewise((1, a > b), (0, True))``."""
    relation = _COMPARISONS[op_name(context.node)]
    operands = [lift(a, context.ring) for a in args[:2]]
    return pointwise(
        _exact_or(lambda a, b: sympy.Piecewise((1, relation(a, b)), (0, True)), context),
        operands,
    )


@rule("aten.sign")
def _sign(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    return _unary(context, args, sympy.sign)


@rule("aten.where")
def _where(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    condition, a, b = (lift(x, context.ring) for x in args[:3])
    return pointwise(_select(context), [condition, a, b])


@rule("aten.masked_fill", "aten.masked_fill_")
def _masked_fill(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    a, mask, value = (lift(x, context.ring) for x in args[:3])
    return pointwise(lambda x, m, v: _select(context)(m, v, x), [a, mask, value])


def _select(context: Context) -> Callable[[Entry, Entry, Entry], Entry]:
    def select(condition: Entry, a: Entry, b: Entry) -> Entry:
        if isinstance(condition, Rat) and condition.is_constant:
            return a if condition.constant_value() != 0 else b
        # a condition that depends on the input: c·a + (1 − c)·b with c in {0, 1}
        c = as_expr(condition)
        return c * as_expr(a) + (1 - c) * as_expr(b)

    return select


# --- smooth functions -------------------------------------------------------------------


def _sigmoid(x: Any) -> sympy.Expr:
    return 1 / (1 + sympy.exp(-x))


_SMOOTH: dict[str, Callable[[Any], Any]] = {
    "aten.tanh": sympy.tanh, "aten.sigmoid": _sigmoid, "aten.exp": sympy.exp,
    "aten.log": sympy.log, "aten.sqrt": sympy.sqrt, "aten.rsqrt": lambda x: 1 / sympy.sqrt(x),
    "aten.sin": sympy.sin, "aten.cos": sympy.cos, "aten.erf": sympy.erf,
    "aten.silu": lambda x: x * _sigmoid(x), "aten.expm1": lambda x: sympy.exp(x) - 1,
    "aten.log1p": lambda x: sympy.log(1 + x), "aten.logsigmoid": lambda x: sympy.log(_sigmoid(x)),
    "aten.softsign": lambda x: x / (1 + sympy.Abs(x)),
    "aten.mish": lambda x: x * sympy.tanh(sympy.log(1 + sympy.exp(x))),
}  # fmt: skip


@rule(*_SMOOTH)
def _smooth(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    return _smooth_unary(context, args, _SMOOTH[op_name(context.node)])


def _smooth_unary(context: Context, args: tuple, function: Callable[..., Any]) -> SymTensor:
    """:func:`_unary` for a smooth function, refused before sympy builds it when the
    operand's expressions alone are past the limit (the result holds each at least once,
    so the size check after the op would refuse it too, minutes later)."""
    operand = lift(args[0], context.ring)
    _charge_smooth(context, operand)
    return pointwise(_exact_or(function, context), [operand])


@rule("aten.gelu")
def _gelu(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    if _arg(args, kwargs, 1, "approximate", "none") == "tanh":
        c = sympy.sqrt(2 / sympy.pi)
        return _smooth_unary(
            context, args, lambda x: x / 2 * (1 + sympy.tanh(c * (x + x**3 * 0.044715)))
        )
    return _smooth_unary(context, args, lambda x: x / 2 * (1 + sympy.erf(x / sympy.sqrt(2))))


@rule("aten.softplus")
def _softplus(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    beta = _rational(_arg(args, kwargs, 1, "beta", 1))
    return _smooth_unary(context, args, lambda x: sympy.log(1 + sympy.exp(beta * x)) / beta)


@rule("aten.elu")
def _elu(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    alpha = _rational(_arg(args, kwargs, 1, "alpha", 1))
    return _unary(
        context, args, lambda x: sympy.Piecewise((x, x > 0), (alpha * (sympy.exp(x) - 1), True))
    )


@rule(
    "aten.clone", "aten.contiguous", "aten.alias", "aten.detach", "aten.lift_fresh_copy",
    "aten._to_copy", "aten.to", "aten.type_as", "aten.float", "aten.double", "aten.half",
    "aten.bfloat16", "aten.dropout", "aten.feature_dropout", "aten.alpha_dropout",
)  # fmt: skip
def _identity(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    name = op_name(context.node)
    if "dropout" in name and _arg(args, kwargs, 2, "train", False):
        raise SpecError(f"expand: {context.node.name} applies dropout (analyse in eval mode)")
    dtype = kwargs.get("dtype")
    if dtype is not None and not (dtype.is_floating_point or dtype.is_complex):
        raise SpecError(f"expand: {context.node.name} casts input-dependent values to {dtype}")
    value = args[0]
    return value if isinstance(value, SymTensor) else lift(value, context.ring)
