"""Run a traced graph as a function of its continuous sources.

The empirical backend differentiates the *traced, decomposed graph*, not the Python
model: fused kernels (cuDNN RNNs, flash attention) cannot hide a product there, and
every node the static passes judged can be watched. :class:`SourceInterpreter` is an
``fx.Interpreter`` whose one hook, ``run_node``, substitutes values at the continuous
sources (float inputs and embedding lookups, so that token-id models are perturbed
where they become continuous) and reports values of watched nodes to a callback.

>>> import torch
>>> from analyzer.frontend.tracing import trace
>>> from analyzer.passes.dataflow import node_facts
>>> traced = trace(torch.nn.Linear(2, 1), (torch.randn(3, 2),))
>>> program = SourceProgram.of(traced, node_facts(traced))
>>> [n.name for n in program.sources], program.outputs(program.source_values)[0].shape
(['input_1'], torch.Size([3, 1]))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.fx as fx

from analyzer.errors import AnalyzerError
from analyzer.frontend.dialect import TracedModel, op_name, tensor_operands
from analyzer.passes.dataflow import Facts

Observer = Callable[[fx.Node, Any], None]
_SKIPPED = ("aten._assert", "aten.sym_constrain", "aten._functional_assert")


class SourceInterpreter(fx.Interpreter):
    """Runs a graph with given values at the source nodes, reporting watched values."""

    def __init__(
        self,
        module: fx.GraphModule,
        overrides: dict[fx.Node, torch.Tensor],
        observe: Observer | None = None,
        watched: frozenset[fx.Node] = frozenset(),
    ) -> None:
        super().__init__(module)
        self.overrides, self.observe, self.watched = overrides, observe, watched

    def run_node(self, node: fx.Node) -> Any:
        if node in self.overrides:
            value = self.overrides[node]
        elif node.op == "call_function" and op_name(node).startswith(_SKIPPED):
            return None  # shape/dtype assertions: nothing to compute, and vmap-hostile
        else:
            try:
                value = super().run_node(node)
            except Exception as error:
                trace = node.meta.get("stack_trace", "")
                raise AnalyzerError(
                    f"running {node.format_node()} failed: {type(error).__name__}: {error}"
                    + (f"\nfrom: {trace.strip().splitlines()[-1]}" if trace else "")
                ) from error
        if self.observe is not None and node in self.watched:
            self.observe(node, value)
        return value


@dataclass
class SourceProgram:
    """A traced graph seen as a function of the values of its continuous sources."""

    traced: TracedModel
    sources: list[fx.Node]
    source_values: tuple[torch.Tensor, ...]
    placeholder_args: tuple[Any, ...]

    @staticmethod
    def of(traced: TracedModel, facts: Facts) -> SourceProgram:
        """Find the continuous sources and their example values by one plain run."""
        if traced.graph_module is None:
            raise AnalyzerError(
                "this traced model cannot be executed (a stored trace has no weights): "
                "validate the model itself"
            )
        continuous = {n for n, f in facts.items() if f.is_continuous and n.op != "output"}
        sources = [
            n for n in traced.graph.nodes
            if n in continuous and not any(o in continuous for o in tensor_operands(n))
        ]  # fmt: skip
        placeholders = [n for n in traced.graph.nodes if n.op == "placeholder"]
        inputs = iter(traced.example_inputs)
        args = tuple(
            traced.placeholder_values[n.name] if n.name in traced.placeholder_values
            else next(inputs)
            for n in placeholders
        )  # fmt: skip
        values: dict[fx.Node, torch.Tensor] = {}
        with torch.no_grad():
            SourceInterpreter(
                traced.graph_module, {}, lambda n, v: values.__setitem__(n, v), frozenset(sources)
            ).run(*args)
        return SourceProgram(traced, sources, tuple(values[n] for n in sources), args)

    def run(
        self, source_values: tuple[torch.Tensor, ...], observe: Observer | None = None,
        watched: frozenset[fx.Node] = frozenset(),
    ) -> Any:  # fmt: skip
        """The graph's outputs with ``source_values`` at the sources."""
        overrides = dict(zip(self.sources, source_values, strict=True))
        interpreter = SourceInterpreter(self.traced.graph_module, overrides, observe, watched)
        return interpreter.run(*self.placeholder_args)

    def outputs(self, source_values: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        """The floating-point outputs, flattened into a tuple."""
        result = self.run(source_values)
        flat = result if isinstance(result, (tuple, list)) else (result,)
        return tuple(t for t in flat if isinstance(t, torch.Tensor) and t.is_floating_point())
