"""Which nodes of a graph draw random numbers, read from the ops themselves.

An op draws random numbers when PyTorch tags it ``nondeterministic_seeded`` (every
sampling op, in-place and functional forms alike: ``normal_functional``, ``bernoulli_``,
``randn_like``…), unless the call switches its randomness off: a dropout-like op with
``train``/``training`` false or a dropout probability of zero is the identity (an
eval-mode model's ``dropout(x, 0.1, False)``), and attention with ``dropout_p=0`` draws
nothing. A higher-order op's bodies are searched too.

>>> import torch
>>> from analyzer.frontend.tracing import trace
>>> dropout = torch.nn.Dropout(0.1)
>>> random_ops(trace(dropout.eval(), (torch.randn(3),)).graph)
[]
>>> random_ops(trace(dropout.train(), (torch.randn(3),), mode="train").graph)
['aten.dropout']
"""

from __future__ import annotations

from typing import Any

import torch
import torch.fx as fx

from analyzer.frontend.dialect import has_tag, op_name

_SWITCHES = ("train", "training")  # false: the op is deterministic
_PROBABILITIES = ("dropout_p", "dropout")  # zero: nothing is dropped


def draws_random_numbers(node: fx.Node) -> bool:
    """Whether one call node draws random numbers (see the module doc)."""
    if not has_tag(node, torch.Tag.nondeterministic_seeded):
        return False
    target = node.target
    bound = _arguments(node)
    if any(bound.get(name) is False for name in _SWITCHES):
        return False
    probabilities = [bound[n] for n in _PROBABILITIES if n in bound]
    if "dropout" in target.overloadpacket.__name__ and "p" in bound:
        probabilities.append(bound["p"])
    return not (probabilities and all(_zero(p) for p in probabilities))


def random_ops(graph: fx.Graph, root: Any = None) -> list[str]:
    """The names of the ops that draw random numbers in ``graph`` and in the bodies of
    its higher-order ops (``root``: the module owning those bodies), sorted."""
    found = set()
    module = root if root is not None else graph.owning_module
    for node in graph.nodes:
        if draws_random_numbers(node):
            found.add(op_name(node))
        if node.op == "get_attr" and module is not None:
            body = _attribute(module, str(node.target))
            if isinstance(body, fx.GraphModule):
                found.update(random_ops(body.graph, body))
    return sorted(found)


def _arguments(node: fx.Node) -> dict[str, Any]:
    """The node's arguments by schema name (positional and keyword), defaults included."""
    schema = node.target._schema
    bound: dict[str, Any] = {}
    for position, spec in enumerate(schema.arguments):
        if position < len(node.args) and not spec.kwarg_only:
            bound[spec.name] = node.args[position]
        elif spec.name in node.kwargs:
            bound[spec.name] = node.kwargs[spec.name]
        elif spec.has_default_value():
            bound[spec.name] = spec.default_value
    return bound


def _zero(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0


def _attribute(module: Any, target: str) -> Any:
    value = module
    for part in target.split("."):
        value = getattr(value, part, None)
    return value
