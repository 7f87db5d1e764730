"""Values around a traced function: flattening whatever a model returns into tensors.

>>> import torch
>>> [t.shape for t in flatten_tensors({"a": torch.ones(1), "b": (torch.zeros(2), None)})]
[torch.Size([1]), torch.Size([2])]
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn


def flatten_tensors(value: Any) -> list[torch.Tensor]:
    """Every tensor inside an output structure, in a deterministic order.

    >>> flatten_tensors({"a": torch.ones(1), "b": (torch.zeros(2), None)})[1].shape
    torch.Size([2])
    """
    found: list[torch.Tensor] = []
    _collect(value, found, set(), depth=0)
    return found


def _collect(value: Any, found: list[torch.Tensor], seen: set[int], depth: int) -> None:
    if isinstance(value, torch.Tensor):
        found.append(value)
        return
    if isinstance(value, (torch.SymFloat, torch.SymInt, float)) or (
        isinstance(value, int) and not isinstance(value, bool)
    ):
        # a number computed from the input (`.item()`) is an output too
        found.append(torch.scalar_tensor(value))
        return
    if value is None or isinstance(value, (str, bytes, int, float, bool)) or depth > 8:
        return
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, dict):  # includes transformers' ModelOutput
        for item in value.values():
            _collect(item, found, seen, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _collect(item, found, seen, depth + 1)
    elif dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            _collect(getattr(value, f.name), found, seen, depth + 1)
    elif hasattr(value, "__dict__") and not isinstance(value, nn.Module):
        # cache objects (DynamicCache and friends) keep their tensors in attributes
        for item in vars(value).values():
            _collect(item, found, seen, depth + 1)
