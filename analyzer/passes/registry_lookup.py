"""Finding an op's entry in the registry: by name, or for a graph node by its overload
first (``"aten.bernoulli.p"``), then its packet (``"aten.bernoulli"``).

>>> lookup("aten.linear").primitive
'matmul'
>>> lookup("aten.no_such_op") is None
True
"""

from __future__ import annotations

import torch.fx as fx

from analyzer.frontend.dialect import op_name, overload_name
from analyzer.passes.registry import REGISTRY, OpEntry


def lookup(name: str) -> OpEntry | None:
    """The entry for an op name such as ``"aten.mm"``, or ``None`` when unknown."""
    return REGISTRY.get(name)


def entry_for(node: fx.Node) -> OpEntry | None:
    """The registry entry of a node: its overload first, then its packet."""
    return lookup(overload_name(node)) or lookup(op_name(node))
