"""What each aten op does to tensors of exact entries: one rule per op, as data.

Most ops need no rule of their own: data movement runs on index tensors
(:func:`~analyzer.symbolic.tensors.move`), and the registry's structural ops all go
there. The rules below cover arithmetic (exact), contractions (einsum), reductions,
piecewise-linear functions (``Max``, ``Min``, ``Abs``, ``Piecewise``) and smooth
functions (sympy's ``tanh``, ``exp``, …). A smooth function of a *constant* is
evaluated in float64 and kept as the rational that float holds, as the concrete run of
the weights' own preprocessing is: the expansion is exact in the input symbols.

>>> RULES["aten.softmax"].__name__, "aten.linear" in RULES
('_softmax', True)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce as fold
from typing import Any

import sympy
import torch
import torch.fx as fx

from analyzer.errors import SpecError
from analyzer.frontend.dialect import op_name
from analyzer.symbolic.exact import (
    Entry,
    Rat,
    Ring,
    add,
    as_expr,
    constant,
    divide,
    mul,
    neg,
    power,
    total,
)
from analyzer.symbolic.tensors import (
    Budget,
    SymTensor,
    einsum,
    lift,
    origins_of,
    pointwise,
    reduce,
)


@dataclass
class Context:
    """What a rule needs besides its arguments."""

    ring: Ring
    budget: Budget
    node: fx.Node

    def const(self, value: Any) -> Rat:
        return constant(value, self.ring)


@dataclass(frozen=True)
class Withheld:
    """An output that has no exact value (the positions a max pooling or ``max(dim)``
    selects): any op that reads it is refused with ``reason``."""

    reason: str


RuleFunction = Callable[[Context, tuple[Any, ...], dict[str, Any]], Any]
RULES: dict[str, RuleFunction] = {}


def rule(*names: str) -> Callable[[RuleFunction], RuleFunction]:
    """Register a rule under every op name; twice is an error."""

    def register(function: RuleFunction) -> RuleFunction:
        for name in names:
            if name in RULES:
                raise ValueError(f"op {name!r} has two expansion rules")
            RULES[name] = function
        return function

    return register


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], position: int, name: str, default: Any):
    if position < len(args):
        return args[position]
    return kwargs.get(name, default)


def _scale(context: Context, value: Entry, factor: Any) -> Entry:
    if factor == 1:
        return value
    return mul(value, context.const(factor))


def _charge_products(context: Context, a: SymTensor, b: SymTensor) -> None:
    """Elementwise products of polynomials cost the product of their term counts."""
    widest = max((len(e) for e in a.entries if isinstance(e, Rat)), default=1)
    other = max((len(e) for e in b.entries if isinstance(e, Rat)), default=1)
    if widest > 1 and other > 1:
        count = max(a.numel, b.numel)
        context.budget.charge(count * widest * other, f"{context.node.name} (a product)")


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
    return _unary(context, args, _SMOOTH[op_name(context.node)])


@rule("aten.gelu")
def _gelu(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    if _arg(args, kwargs, 1, "approximate", "none") == "tanh":
        c = sympy.sqrt(2 / sympy.pi)
        return _unary(context, args, lambda x: x / 2 * (1 + sympy.tanh(c * (x + x**3 * 0.044715))))
    return _unary(context, args, lambda x: x / 2 * (1 + sympy.erf(x / sympy.sqrt(2))))


@rule("aten.softplus")
def _softplus(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    beta = _rational(_arg(args, kwargs, 1, "beta", 1))
    return _unary(context, args, lambda x: sympy.log(1 + sympy.exp(beta * x)) / beta)


@rule("aten.elu")
def _elu(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    alpha = _rational(_arg(args, kwargs, 1, "alpha", 1))
    return _unary(
        context, args, lambda x: sympy.Piecewise((x, x > 0), (alpha * (sympy.exp(x) - 1), True))
    )


# --- reductions and normalisations --------------------------------------------------------


def _dims(value: Any) -> list[int] | None:
    if value is None:
        return None
    return [value] if isinstance(value, int) else list(value)


@rule("aten.sum", "aten.mean", "aten.nansum")
def _sum(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    tensor = lift(args[0], context.ring)
    dims = _dims(_arg(args, kwargs, 1, "dim", None))
    keepdim = bool(_arg(args, kwargs, 2, "keepdim", False))
    summed = reduce(tensor, dims, keepdim, lambda items: total(items, context.ring))
    if op_name(context.node) != "aten.mean":
        return summed
    count = tensor.numel // max(summed.numel, 1)
    return pointwise(lambda x: divide(x, context.const(count)), [summed])


@rule("aten.amax", "aten.amin")
def _amax(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    function = _max if op_name(context.node) == "aten.amax" else _min
    tensor = lift(args[0], context.ring)
    dims = _dims(_arg(args, kwargs, 1, "dim", None))
    keepdim = bool(_arg(args, kwargs, 2, "keepdim", False))
    return reduce(tensor, dims, keepdim, lambda items: _exact_or(function, context)(*items))


@rule("aten.prod")
def _prod(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    tensor = lift(args[0], context.ring)
    dims = _dims(_arg(args, kwargs, 1, "dim", None))
    keepdim = bool(_arg(args, kwargs, 2, "keepdim", False))
    return reduce(tensor, dims, keepdim, lambda items: fold(mul, items, context.const(1)))


def _variance(context: Context, tensor: SymTensor, dims: list[int] | None, correction: Any,
              keepdim: bool) -> SymTensor:  # fmt: skip
    mean = _sum(context, (tensor, dims, True), {})
    centred = pointwise(lambda x, m: add(x, neg(m)), [tensor, mean])
    _charge_products(context, centred, centred)
    squares = pointwise(lambda x: power(x, 2), [centred])
    summed = reduce(squares, dims, keepdim, lambda items: total(items, context.ring))
    count = tensor.numel // max(summed.numel, 1) - correction
    return pointwise(lambda x: divide(x, context.const(count)), [summed])


@rule("aten.var")
def _var(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    tensor = lift(args[0], context.ring)
    dims = _dims(_arg(args, kwargs, 1, "dim", None))
    correction = kwargs.get("correction")
    if correction is None:
        unbiased = args[2] if len(args) > 2 and isinstance(args[2], bool) else True
        correction = 1 if unbiased else 0
    keepdim = bool(kwargs.get("keepdim", args[3] if len(args) > 3 else False))
    return _variance(context, tensor, dims, correction, keepdim)


def _softmax_entries(items: list[Entry], log: bool) -> list[Entry]:
    exps = [sympy.exp(as_expr(x)) for x in items]
    denominator = sympy.Add(*exps)
    if log:
        return [as_expr(x) - sympy.log(denominator) for x in items]
    return [e / denominator for e in exps]


def _along(tensor: SymTensor, dim: int, function: Callable[[list[Entry]], list[Entry]]):
    """Apply a function of whole rows along ``dim`` (softmax, normalisation)."""
    from analyzer.symbolic.tensors import grid

    rank = len(tensor.shape)
    dim %= max(rank, 1)
    order = [d for d in range(rank) if d != dim] + [dim]
    index = grid(tensor.shape).permute(*order).reshape(-1, tensor.shape[dim]).tolist()
    entries: list[Entry] = [None] * tensor.numel
    for row in index:
        for position, value in zip(row, function([tensor.entries[i] for i in row]), strict=True):
            entries[position] = value
    return SymTensor(tensor.shape, entries, tensor.origins)


@rule("aten.softmax", "aten._softmax", "aten.log_softmax", "aten._log_softmax")
def _softmax(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    log = "log_softmax" in op_name(context.node)
    return _along(lift(args[0], context.ring), args[1], lambda row: _softmax_entries(row, log))


def _normalise(context: Context, tensor: SymTensor, count: int, centre: bool, eps: float,
               weight: Any, bias: Any) -> SymTensor:  # fmt: skip
    dims = list(range(len(tensor.shape) - count, len(tensor.shape)))
    if centre:
        mean = _sum(context, (tensor, dims, True), {})
        tensor = pointwise(lambda x, m: add(x, neg(m)), [tensor, mean])
    squares = pointwise(lambda x: power(x, 2), [tensor])
    second = reduce(squares, dims, True, lambda items: total(items, context.ring))
    n = math.prod(tensor.shape[d] for d in dims)
    eps_value = _rational(eps)
    out = pointwise(
        lambda x, s: as_expr(x) / sympy.sqrt(as_expr(s) / n + eps_value), [tensor, second]
    )
    if weight is not None:
        out = pointwise(mul, [out, lift(weight, context.ring)])
    if bias is not None:
        out = pointwise(add, [out, lift(bias, context.ring)])
    return out


@rule("aten.layer_norm")
def _layer_norm(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    tensor = lift(args[0], context.ring)
    shape = list(args[1])
    weight, bias = _arg(args, kwargs, 2, "weight", None), _arg(args, kwargs, 3, "bias", None)
    eps = _arg(args, kwargs, 4, "eps", 1e-5)
    return _normalise(context, tensor, len(shape), True, eps, weight, bias)


@rule("aten.rms_norm")
def _rms_norm(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    tensor = lift(args[0], context.ring)
    shape = list(args[1])
    weight = _arg(args, kwargs, 2, "weight", None)
    eps = _arg(args, kwargs, 3, "eps", None)
    eps = float(torch.finfo(torch.float32).eps) if eps is None else eps
    return _normalise(context, tensor, len(shape), False, eps, weight, None)


@rule("aten.batch_norm", "aten._native_batch_norm_legit_no_training", "aten.native_batch_norm")
def _batch_norm(context: Context, args: tuple, kwargs: dict) -> Any:
    """Eval mode: ``x·s + t`` per channel (axis 1) with ``s = w/√(var+ε)`` and
    ``t = b − mean·s`` from the running statistics, each the rational its float64 holds."""
    name = op_name(context.node)
    x, weight, bias, mean, var = (args + (None,) * 5)[:5]
    if name == "aten._native_batch_norm_legit_no_training":
        training, eps = False, _arg(args, kwargs, 6, "eps", 1e-5)
    else:
        training, eps = _arg(args, kwargs, 5, "training", False), _arg(args, kwargs, 7, "eps", 1e-5)
    if training or not isinstance(mean, torch.Tensor) or not isinstance(var, torch.Tensor):
        raise SpecError(
            f"expand: {context.node.name} ({name}) normalises by batch statistics (training "
            "mode): analyse the model in eval mode, where batch norm is affine"
        )
    if isinstance(weight, SymTensor) or isinstance(bias, SymTensor):
        raise SpecError(f"expand: {context.node.name} ({name}) has input-dependent weights")
    channels = mean.numel()
    scale = torch.ones(channels, dtype=torch.float64) / torch.sqrt(var.double() + eps)
    if weight is not None:
        scale = scale * weight.double()
    shift = -mean.double() * scale + (bias.double() if bias is not None else 0)
    tensor = lift(x, context.ring)
    trailing = [1] * max(len(tensor.shape) - 2, 0)
    out = pointwise(
        lambda v, s, t: add(mul(v, s), t),
        [tensor, lift(scale.reshape(channels, *trailing), context.ring),
         lift(shift.reshape(channels, *trailing), context.ring)],
    )  # fmt: skip
    if name == "aten.batch_norm":
        return out
    return out, torch.empty(0), torch.empty(0)


# --- contractions ---------------------------------------------------------------------------


def _einsum(context: Context, equation: str, *operands: Any) -> SymTensor:
    tensors = [lift(o, context.ring) for o in operands]
    return einsum(equation, tensors, context.ring, context.budget)


def _plus(context: Context, value: SymTensor, bias: Any, beta: Any = 1) -> SymTensor:
    if bias is None or beta == 0:
        return value
    return pointwise(
        lambda x, b: add(x, _scale(context, b, beta)), [value, lift(bias, context.ring)]
    )


@rule("aten.linear")
def _linear(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    out = _einsum(context, "...i,oi->...o", args[0], args[1])
    return _plus(context, out, _arg(args, kwargs, 2, "bias", None))


@rule("aten.mm", "aten.bmm", "aten.matmul", "aten.dot", "aten.mv", "aten.inner", "aten.vdot")
def _matmul(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    return _product(context, args[0], args[1])


def _product(context: Context, a: Any, b: Any) -> SymTensor:
    left, right = lift(a, context.ring), lift(b, context.ring)
    if len(left.shape) == 1 and len(right.shape) == 1:
        return _einsum(context, "i,i->", left, right)
    if len(left.shape) == 1:
        return _einsum(context, "i,...ij->...j", left, right)
    if len(right.shape) == 1:
        return _einsum(context, "...ij,j->...i", left, right)
    return _einsum(context, "...ij,...jk->...ik", left, right)


@rule("aten.outer", "aten.ger")
def _outer(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    return _einsum(context, "i,j->ij", args[0], args[1])


@rule("aten.addmm", "aten.baddbmm", "aten.addmv")
def _addmm(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    beta, alpha = kwargs.get("beta", 1), kwargs.get("alpha", 1)
    product = _product(context, args[1], args[2])
    if alpha != 1:
        product = pointwise(lambda x: _scale(context, x, alpha), [product])
    return _plus(context, product, args[0], beta)


@rule("aten.einsum")
def _einsum_rule(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    return _einsum(context, args[0], *args[1])


@rule("aten.bilinear")
def _bilinear(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    out = _einsum(context, "...i,oij,...j->...o", args[0], args[2], args[1])
    return _plus(context, out, _arg(args, kwargs, 3, "bias", None))


@rule("aten.scaled_dot_product_attention")
def _attention(context: Context, args: tuple, kwargs: dict) -> SymTensor:
    query, key, value = (lift(a, context.ring) for a in args[:3])
    mask = _arg(args, kwargs, 3, "attn_mask", None)
    if _arg(args, kwargs, 4, "dropout_p", 0.0):
        raise SpecError(f"expand: {context.node.name} applies dropout (analyse in eval mode)")
    causal = bool(_arg(args, kwargs, 5, "is_causal", False))
    scale = kwargs.get("scale")
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    heads = query.shape[-3] if len(query.shape) > 2 else 1
    kv_heads = key.shape[-3] if len(key.shape) > 2 else 1
    if heads != kv_heads:  # grouped-query attention: each key/value head serves a group
        from analyzer.symbolic.tensors import move

        repeat = heads // kv_heads
        key, value = (
            move(torch.repeat_interleave, (t, repeat, -3), {}, context.ring) for t in (key, value)
        )
    scores = _einsum(context, "...qd,...kd->...qk", query, key)
    scores = pointwise(lambda x: _scale(context, x, scale), [scores])
    queries, keys = scores.shape[-2], scores.shape[-1]
    allowed = torch.ones(queries, keys, dtype=torch.bool)
    if causal:
        allowed = torch.ones(queries, keys, dtype=torch.bool).tril()
    if isinstance(mask, torch.Tensor) and mask.dtype == torch.bool:
        allowed = allowed & mask
        mask = None
    if mask is not None:
        scores = pointwise(add, [scores, lift(mask, context.ring)])
    keep = lift(allowed.to(torch.int64), context.ring)
    # pair each score with its mask bit (broadcast as torch would), then one softmax per row
    paired = pointwise(lambda s, k: (s, k), [scores, keep])
    weights = _along(paired, -1, _masked_softmax)
    return _einsum(context, "...qk,...kd->...qd", weights, value)


def _masked_softmax(row: list[tuple[Entry, Rat]]) -> list[Entry]:
    kept = [i for i, (_, keep) in enumerate(row) if keep.constant_value() != 0]
    values = _softmax_entries([row[i][0] for i in kept], log=False)
    out: list[Entry] = [sympy.Integer(0)] * len(row)
    for i, v in zip(kept, values, strict=True):
        out[i] = v
    return out


# --- identities -------------------------------------------------------------------------------


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


def non_polynomial_origin(node: fx.Node, operands: list[Any], result: Any) -> frozenset[str]:
    """The nodes that made some entry non-polynomial: this one, when its symbolic
    operands were polynomial and its result is not."""
    before = origins_of(*operands)
    results = result if isinstance(result, (list, tuple)) else [result]
    made = any(isinstance(r, SymTensor) and not r.polynomial for r in results) and all(
        o.polynomial for o in operands if isinstance(o, SymTensor)
    )
    return before | ({f"{node.name} ({op_name(node)})"} if made else frozenset())
