"""The registry of explicit implementations: :data:`EXPLICIT` (aten overload → an
implementation with exact nested derivatives), the :func:`explicit` decorator that fills
it, and the helpers every family of implementations shares."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.fx.operator_schemas import normalize_function

aten = torch.ops.aten
EXPLICIT: dict[Any, Callable[..., Any]] = {}
"""aten op overload -> an implementation with exact nested derivatives."""


@dataclass
class WithInner:
    """A node's value together with named values computed inside a fused op."""

    value: Any
    inner: dict[str, torch.Tensor] = field(default_factory=dict)


def explicit(*ops: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register an implementation for ``ops``; registering an op twice is an error."""

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        for op in ops:
            if op in EXPLICIT:
                raise ValueError(f"{op} has two explicit implementations")
            EXPLICIT[op] = function
        return function

    return register


def named_arguments(op: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Every argument of an aten call by its schema name (defaults filled in)."""
    normalized = normalize_function(op, args, kwargs, normalize_to_only_use_kwargs=True)
    assert normalized is not None, op
    bound = dict(normalized.kwargs)
    for spec in op._schema.arguments:
        if spec.name not in bound and spec.has_default_value():
            bound[spec.name] = spec.default_value
    return bound


def _overloads(packet: Any, *names: str) -> list[Any]:
    """The overloads of ``packet`` that this PyTorch has, by name."""
    return [getattr(packet, n) for n in names if n in packet.overloads()]
