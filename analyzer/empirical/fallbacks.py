"""How a node runs when its op cannot be differentiated or batched as it is.

In order: PyTorch's decomposition of the op; its functional form, for an op that writes
into an argument (the write is not replayed); the op on detached inputs, for an op
whose outputs are integers (they have no derivative); a central finite difference
wrapped as the op's ``jvp``. Ops from other libraries' namespaces (``torch.library``
custom ops) may return no tangent without saying so, so they always run through finite
differences. Nodes frozen at a line's centre run as their linearisation
(:func:`linearised`, used by :mod:`analyzer.empirical.lines`).

>>> import torch
>>> out_of_place(torch.ops.aten.div_.Tensor)
<OpOverload(op='aten.div', overload='Tensor')>
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx as fx
import torch.utils._pytree as pytree
from torch._decomp import decomposition_table
from torch.func import jvp

from analyzer.empirical.values import is_real_valued

FINITE_DIFFERENCE_STEP = 1e-6


@dataclass(frozen=True)
class Fallback:
    """How a node runs when its op fails under differentiation or batching."""

    how: str  # "decomposition" | "detached (integer output)" | "finite differences"
    function: Callable[..., Any] = field(repr=False)


def linearised(
    function: Callable[..., Any], centre: tuple[Any, Any, Any], args: Any, kwargs: Any
) -> Any:
    """``f(z₀) + J_f(z₀)·(z − z₀)`` for the floating arguments; an integer-valued result
    keeps its centre value."""
    (centre_args, centre_kwargs), centre_value = centre[:2], centre[2]
    leaves, spec = pytree.tree_flatten((args, kwargs))
    centre_leaves = pytree.tree_leaves((centre_args, centre_kwargs))
    moving = [i for i, a in enumerate(leaves) if isinstance(a, torch.Tensor) and is_real_valued(a)]
    if not moving or all(not is_real_valued(t) for t in _tensors(centre_value)):
        return centre_value

    out_leaves, out_spec = pytree.tree_flatten(centre_value)
    floating = [
        i for i, t in enumerate(out_leaves) if isinstance(t, torch.Tensor) and is_real_valued(t)
    ]

    def at(*values: torch.Tensor) -> tuple[torch.Tensor, ...]:
        filled = list(centre_leaves)
        for i, value in zip(moving, values, strict=True):
            filled[i] = value
        a, k = pytree.tree_unflatten(filled, spec)
        value = function(*a, **k)
        produced = pytree.tree_leaves(getattr(value, "value", value))
        return tuple(produced[i] for i in floating)

    points = tuple(centre_leaves[i] for i in moving)
    steps = tuple(leaves[i] - centre_leaves[i] for i in moving)
    _, change = jvp(at, points, steps)
    result = list(out_leaves)
    for i, delta in zip(floating, change, strict=True):
        result[i] = out_leaves[i] + delta
    return pytree.tree_unflatten(result, out_spec)


def _tensors(value: Any) -> list[torch.Tensor]:
    leaves = pytree.tree_leaves(value)
    return [t for t in leaves if isinstance(t, torch.Tensor)]


def out_of_place(target: Any) -> Any:
    """The functional form of an op that writes: ``aten.div.Tensor`` for
    ``aten.div_.Tensor``, the op's packet (without ``out=``) for ``aten.mul.out``;
    ``None`` for ops that write nothing."""
    if not isinstance(target, torch._ops.OpOverload):
        return None
    if target._overloadname == "out" or target._overloadname.endswith("_out"):
        packet = target.overloadpacket
        return lambda *args, out=None, **kwargs: packet(*args, **kwargs)
    name = target.overloadpacket.__name__
    if not name.endswith("_") or name.startswith("_"):
        return None
    packet = getattr(torch.ops.aten, name[:-1], None)
    return getattr(packet, target._overloadname, None) if packet is not None else None


def writes(target: Any) -> bool:
    """Whether an op writes into one of its arguments (in place, or ``out=``)."""
    schema = getattr(target, "_schema", None)
    return schema is not None and any(
        a.alias_info is not None and a.alias_info.is_write for a in schema.arguments
    )


SILENTLY_NOT_DIFFERENTIABLE = frozenset(
    f"special_{name}"
    for name in (
        "airy_ai bessel_j0 bessel_j1 bessel_y0 bessel_y1 modified_bessel_i0 modified_bessel_i1 "
        "modified_bessel_k0 modified_bessel_k1 scaled_modified_bessel_k0 "
        "scaled_modified_bessel_k1 spherical_bessel_j0 chebyshev_polynomial_t "
        "chebyshev_polynomial_u chebyshev_polynomial_v chebyshev_polynomial_w "
        "shifted_chebyshev_polynomial_t shifted_chebyshev_polynomial_u "
        "shifted_chebyshev_polynomial_v shifted_chebyshev_polynomial_w hermite_polynomial_h "
        "hermite_polynomial_he laguerre_polynomial_l legendre_polynomial_p"
    ).split()
)
"""aten ops (packet names) that PyTorch declares not differentiable although their values
vary smoothly with their floating arguments: autograd gives their output no gradient and
forward AD a zero tangent, without an error, so a measurement through them reads a
constant (``chebyshev_polynomial_t(x, 3)`` measured degree 0). They run through finite
differences; ``tests/empirical/test_fallbacks.py`` checks the list against PyTorch."""


def trusted(target: Any) -> bool:
    """Whether forward-mode AD of an op can be trusted: aten and prims ops have
    derivative formulas or fail loudly, except the few that PyTorch declares not
    differentiable (:data:`SILENTLY_NOT_DIFFERENTIABLE`); an op from another library's
    namespace (a ``torch.library`` custom op) may silently return no tangent. Untrusted
    ops run through finite differences.

    >>> trusted(torch.ops.aten.mul.Tensor), trusted(torch.ops.aten.special_bessel_j0.default)
    (True, False)
    """
    namespace = getattr(target, "namespace", "aten")
    packet = getattr(getattr(target, "overloadpacket", None), "__name__", "")
    return namespace in ("aten", "prims") and packet not in SILENTLY_NOT_DIFFERENTIABLE


def fallbacks_for(node: fx.Node) -> Iterator[Fallback]:
    target = node.target
    if target in decomposition_table:
        yield Fallback("decomposition", decomposition_table[target])
    functional = out_of_place(target)
    if functional is not None:
        yield Fallback("its functional form (the write into its argument not replayed)",
                       functional)  # fmt: skip
    recorded = node.meta.get("val")
    leaves = [t for t in pytree.tree_leaves(recorded) if isinstance(t, torch.Tensor)]
    if leaves and not any(is_real_valued(t) for t in leaves):

        def detached(*args: Any, **kwargs: Any) -> Any:
            plain = pytree.tree_map_only(torch.Tensor, lambda t: t.detach(), (args, kwargs))
            return target(*plain[0], **plain[1])

        yield Fallback("detached (integer output)", detached)
    if not writes(target):  # a difference of two writes into one buffer would be 0
        yield Fallback("finite differences", finite_difference(target))


def finite_difference(target: Callable[..., Any]) -> Callable[..., Any]:
    """``target`` whose derivative is a central finite difference (step
    :data:`FINITE_DIFFERENCE_STEP` along the tangent): for ops with no derivative at all."""

    def call(*args: Any, **kwargs: Any) -> Any:
        leaves, spec = pytree.tree_flatten((args, kwargs))
        positions = [i for i, x in enumerate(leaves) if isinstance(x, torch.Tensor)]
        tensors = [leaves[i] for i in positions]

        def rebuilt(values: tuple[torch.Tensor, ...]) -> tuple[tuple[Any, ...], dict[str, Any]]:
            filled = list(leaves)
            for i, value in zip(positions, values, strict=True):
                filled[i] = value
            return pytree.tree_unflatten(filled, spec)

        def function(*values: torch.Tensor) -> Any:
            a, k = rebuilt(values)
            return target(*a, **k)

        return _FiniteDifference.apply(function, *tensors)

    return call


class _FiniteDifference(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(function: Callable[..., Any], *tensors: torch.Tensor) -> Any:  # type: ignore[override]
        return function(*tensors)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        ctx.function = inputs[0]
        ctx.save_for_forward(*inputs[1:])

    @staticmethod
    def jvp(ctx: Any, _function: Any, *tangents: torch.Tensor | None) -> Any:  # type: ignore[override]
        step = FINITE_DIFFERENCE_STEP
        tensors = ctx.saved_tensors
        plus = [
            x + step * t if t is not None and is_real_valued(x) else x
            for x, t in zip(tensors, tangents, strict=True)
        ]
        minus = [
            x - step * t if t is not None and is_real_valued(x) else x
            for x, t in zip(tensors, tangents, strict=True)
        ]
        high = _FiniteDifference.apply(ctx.function, *plus)
        low = _FiniteDifference.apply(ctx.function, *minus)
        return pytree.tree_map(
            lambda h, lo: (
                (h - lo) / (2 * step) if isinstance(h, torch.Tensor) and is_real_valued(h) else None
            ),
            high,
            low,
        )

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:  # pragma: no cover - validate never reverses
        raise RuntimeError("finite-difference fallbacks support forward mode only")
