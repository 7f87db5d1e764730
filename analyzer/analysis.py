"""``analyze``: every pass run once over a traced model, gathered in one object.

>>> import torch
>>> result = analyze(torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Tanh()),
...                  (torch.randn(2, 4),))
>>> result.circuit_class, result.degree, result.to_json()["schema"]
(['matmul', 'nonlinearity'], 'inf', 'analyzer.analysis/1')
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch.fx as fx

from analyzer.frontend.dialect import (
    TracedModel,
    module_path,
    op_name,
    source_line,
    tensor_operands,
)
from analyzer.frontend.specs import versions
from analyzer.passes.alignment import alignment
from analyzer.passes.classify import circuit_class, primitive_class
from analyzer.passes.dataflow import Facts, node_facts
from analyzer.passes.facts import INF, Fact, Site, format_degree
from analyzer.passes.registry import PRIMITIVE_CLASSES
from analyzer.passes.sites import input_products
from analyzer.passes.transposes import DynamicTranspose, dynamic_transposes
from analyzer.passes.witness import witness_parents, witness_path

SCHEMA = "analyzer.analysis/1"


class ByNode(dict):  # type: ignore[type-arg]
    """A dict keyed by fx node that also answers to the node's name:
    ``facts["linear"]`` is ``facts[node]`` for the node called ``linear``."""

    def _node(self, key: Any) -> Any:
        if not isinstance(key, str):
            return key
        names = self.__dict__.get("_names")
        if names is None or len(names) != len(self):  # built on first use by name
            names = self.__dict__["_names"] = {node.name: node for node in self}
        return names.get(key, key)

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(self._node(key))

    def __contains__(self, key: object) -> bool:
        return super().__contains__(self._node(key))

    def get(self, key: Any, default: Any = None) -> Any:
        return super().get(self._node(key), default)


@dataclass
class Analysis:
    """The facts of one model: per node, the sites, the transposes and the verdict.

    ``facts`` and ``classes`` are indexed by fx node or by node name.
    """

    traced: TracedModel
    facts: Facts
    classes: dict[fx.Node, str]
    sites: list[Site]
    transposes: list[DynamicTranspose]
    circuit_class: list[str]
    parents: dict[fx.Node, fx.Node | None] = field(repr=False)

    def __post_init__(self) -> None:
        self.facts = ByNode(self.facts)
        self.classes = ByNode(self.classes)

    def __repr__(self) -> str:
        primitive_set = ", ".join(self.circuit_class) or "none"
        return (
            f"<Analysis {self.model}: {len(self.traced.graph.nodes)} nodes, primitive set "
            f"[{primitive_set}], {len(self.sites)} input-by-input sites, degree {self.degree}>"
        )

    @property
    def model(self) -> str:
        return self.traced.model

    @property
    def output_fact(self) -> Fact:
        """Dependence, degree and piecewise flag of the model's output (all outputs joined)."""
        return self.facts[self.traced.output_node]

    @property
    def degree(self) -> str:
        """The output's degree in the continuous sources, as the JSON spells it."""
        return format_degree(self.output_fact.degree)

    @property
    def piecewise_affine(self) -> bool:
        return self.output_fact.degree <= 1

    @property
    def unknown_ops(self) -> list[str]:
        return sorted({op_name(n) for n, cls in self.classes.items() if cls == "unknown"})

    @property
    def warnings(self) -> list[str]:
        return list(self.traced.warnings)

    def degree_reasons(self) -> dict[str, list[str]]:
        """The ops that make the output's degree infinite (``"infinite"``) or piecewise
        (``"piecewise"``), as ``"node (op)"``: on every path from a source to the output
        along which the value is not a polynomial (or is piecewise), the first op on it —
        the one whose operands were still polynomial (unkinked) and whose result is not.
        An op that makes a value non-polynomial which never reaches the output (it is
        compared, or read only for its shape) is not named.

        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(),
        ...                           torch.nn.Linear(2, 2), torch.nn.Tanh())
        >>> analyze(net, (torch.randn(1, 2),)).degree_reasons()
        {'infinite': ['tanh (aten.tanh)'], 'piecewise': ['relu (aten.relu)']}
        """
        output = self.traced.output_node
        infinite = _first_on_paths(output, self.facts, lambda f: f.degree == INF)
        piecewise = _first_on_paths(output, self.facts, lambda f: f.piecewise)
        return {"infinite": infinite, "piecewise": piecewise}

    def primitive_counts(self) -> dict[str, int]:
        """Op nodes per primitive class, every class present (zeros included)."""
        counts = Counter(self.classes.values())
        return {cls: counts.get(cls, 0) for cls in PRIMITIVE_CLASSES}

    def module_of(self, node: fx.Node) -> str:
        return module_path(node, self.traced.module_prefix)

    def path_to(self, node: fx.Node) -> list[str]:
        """A shortest chain of node names from a continuous source to ``node``."""
        return witness_path(self.parents, node)

    def to_json(self) -> dict[str, Any]:
        """The ``analyzer.analysis/1`` document of docs/json.md."""
        graph = self.traced.graph
        edges = sum(len(tensor_operands(n)) for n in graph.nodes)
        return {
            "schema": SCHEMA,
            "model": self.model,
            "frontend": self.traced.frontend,
            "graph": {"nodes": len(graph.nodes), "edges": edges},
            "primitives": self.primitive_counts(),
            "circuit_class": list(self.circuit_class),
            "mode": self.traced.mode,
            "input_products": [self._site_json(site) for site in self.sites],
            "dynamic_transposes": [
                {
                    "node": t.node.name,
                    "op": op_name(t.node),
                    "module": self.module_of(t.node),
                    "implied": t.implied,
                    "feeds_contraction": t.feeds_contraction,
                }
                for t in self.transposes
            ],
            "degree": self.degree,
            "piecewise": self.output_fact.piecewise,
            "degree_reasons": self.degree_reasons(),
            "piecewise_affine": self.piecewise_affine,
            "output_dependence": str(self.output_fact.dependence),
            "unknown_ops": self.unknown_ops,
            "warnings": self.warnings,
            "training": self.traced.metadata.get("training"),
            "metadata": {"versions": versions(), **self.traced.metadata},
        }

    def _site_json(self, site: Site) -> dict[str, Any]:
        document = {
            "node": site.node.name,
            "op": op_name(site.node),
            "kind": site.kind,
            "module": self.module_of(site.node),
            "operands": site.operand_names,
            "paths": [self.path_to(n) for n in site.operands],
            "source": source_line(site.node),
        }
        if site.part is not None:
            document["part"] = site.part
        return document

    def _repr_html_(self) -> str:
        """The report's HTML in Jupyter. The view is imported here, where Jupyter calls
        it, so that the analysis object never depends on its views at import time."""
        from analyzer.render.html import notebook_html

        return notebook_html(self)


def _first_on_paths(output: fx.Node, facts: Facts, holds: Callable[[Fact], bool]) -> list[str]:
    """Walk back from ``output`` through the values where ``holds``; name, in graph order,
    those whose own operands do not hold (where it started). A source where it holds
    (an integer input is discrete, hence piecewise) is named as the input it is."""
    seen: set[fx.Node] = set()
    stack = [node for node in output.all_input_nodes if holds(facts[node])]
    origins: list[fx.Node] = []
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        before = [n for n in node.all_input_nodes if n in facts and holds(facts[n])]
        stack += before
        if not before:
            origins.append(node)
    order = {node: i for i, node in enumerate(output.graph.nodes)}
    return [
        f"{node.name} ({op_name(node) if node.op == 'call_function' else 'input'})"
        for node in sorted(origins, key=order.__getitem__)
    ]


def analyze_traced(traced: TracedModel) -> Analysis:
    """Run every pass over an already traced model (a stored trace, say)."""
    facts = node_facts(traced)
    aligned = alignment(traced, facts)
    classes = {node: primitive_class(node, facts, aligned) for node in traced.op_nodes()}
    sites = input_products(traced, facts, aligned)
    transposes = dynamic_transposes(traced, facts, sites)
    return Analysis(
        traced=traced,
        facts=facts,
        classes=classes,
        sites=sites,
        transposes=transposes,
        circuit_class=circuit_class(classes, facts, transposes),
        parents=witness_parents(traced, facts),
    )


def analyze(
    module: Any,
    example_args: Sequence[Any] | None = None,
    *,
    frontend: str = "auto",
    model: str = "model",
    example_kwargs: dict[str, Any] | None = None,
) -> Analysis:
    """Trace ``module(*example_args, **example_kwargs)`` and analyse it.

    ``module`` may also be a :class:`~analyzer.frontend.dialect.TracedModel`, which is analysed
    as it is. See :func:`analyzer.frontend.tracing.trace` for ``frontend``.
    """
    if isinstance(module, TracedModel):
        return analyze_traced(module)
    from analyzer.errors import SpecError
    from analyzer.frontend.tracing import trace

    if example_args is None and not example_kwargs:
        raise SpecError("example_args is required: the inputs to call the model with")
    traced = trace(
        module, example_args or (), frontend=frontend, model=model, example_kwargs=example_kwargs
    )
    return analyze_traced(traced)
