"""The analysis as a networkx graph with plain attributes: what renderers read.

Facts flow one way: passes → :func:`annotated_graph` → DOT / SVG / HTML / GraphML.
Every attribute is a string, number or bool, so the graph exports to GraphML as is.

>>> import torch
>>> from analyzer.analysis import analyze
>>> g = annotated_graph(analyze(torch.nn.Linear(2, 2), (torch.randn(1, 2),)))
>>> g.nodes["linear"]["primitive"], g.nodes["linear"]["dependence"]
('matmul', 'continuous')
"""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import pairwise
from typing import TYPE_CHECKING

import networkx as nx
import torch.fx as fx

from analyzer.frontend.dialect import InputKind, op_name, source_line, tensor_operands, value_meta
from analyzer.passes.facts import format_degree

if TYPE_CHECKING:
    from analyzer.analysis import Analysis


def annotated_graph(analysis: Analysis) -> nx.DiGraph:
    """One node per fx node, one edge per operand, annotated with the analysis facts.

    Node attributes: ``op``, ``kind`` (fx op), ``primitive`` (class, or ``input`` /
    ``parameter`` / ``output``), ``dependence``, ``degree``, ``piecewise``, ``module``,
    ``source``, ``shape``, ``dtype``, ``site`` (a site kind or ``""``), ``sites`` (how many:
    a fused attention holds two), ``site_parts`` (``"scores, mix"``), ``witness``
    (on a witness path), ``transpose`` (``"feeds"``, ``"layout"`` or ``""``), ``order``.
    Edge attribute ``witness``: the edge lies on a site's witness path.
    """
    traced = analysis.traced
    sites = {site.node: site.kind for site in analysis.sites}
    site_counts = Counter(site.node for site in analysis.sites)
    site_parts: dict[fx.Node, list[str]] = defaultdict(list)
    for site in analysis.sites:
        if site.part:
            site_parts[site.node].append(site.part)
    transposes = {t.node: "feeds" if t.feeds_contraction else "layout" for t in analysis.transposes}
    witness_edges: set[tuple[str, str]] = set()
    for site in analysis.sites:
        for operand in site.operands:
            path = [*analysis.path_to(operand), site.node.name]
            witness_edges.update(pairwise(path))
    witness_nodes = {name for edge in witness_edges for name in edge}
    graph = nx.DiGraph(model=analysis.model, frontend=traced.frontend)
    for order, node in enumerate(traced.graph.nodes):
        fact = analysis.facts[node]
        shape, dtype = value_meta(node)
        graph.add_node(
            node.name,
            order=order,
            op=op_name(node),
            kind=node.op,
            primitive=_role(analysis, node),
            dependence=str(fact.dependence),
            degree=format_degree(fact.degree),
            piecewise=fact.piecewise,
            module=analysis.module_of(node),
            source=source_line(node),
            shape="" if shape is None else "×".join(str(s) for s in shape),
            dtype=dtype or "",
            site=sites.get(node, ""),
            sites=site_counts.get(node, 0),
            site_parts=", ".join(site_parts.get(node, [])),
            witness=node.name in witness_nodes,
            transpose=transposes.get(node, ""),
        )
    for node in traced.graph.nodes:
        for operand in tensor_operands(node):
            graph.add_edge(
                operand.name, node.name, witness=(operand.name, node.name) in witness_edges
            )
    return graph


def _role(analysis: Analysis, node: fx.Node) -> str:
    if node in analysis.classes:
        return analysis.classes[node]
    if node.op == "placeholder":
        input_kind = analysis.traced.input_kinds.get(node.name, InputKind.INPUT)
        return "input" if input_kind is InputKind.INPUT else "parameter"
    return "parameter" if node.op == "get_attr" else "output"


def write_graphml(analysis: Analysis, path: str) -> None:
    """Export the annotated graph as GraphML (for Gephi or yEd), atomically."""
    from analyzer.output import write_text_atomic

    text = "\n".join(nx.generate_graphml(annotated_graph(analysis)))
    write_text_atomic(path, text + "\n")
