"""The module view: residual additions drawn as skip connections, repetitions as dashed
edges into the next instance, never as two-way edges between a block and its parent."""

from __future__ import annotations

import re

import torch
from torch import nn

from analyzer.analysis import analyze
from analyzer.render.annotated import annotated_graph
from analyzer.render.dot import draw


class Gate(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(width, width), nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(x) * self.b(x)  # a gating site, so witness paths run through


class Block(nn.Module):
    """A pre-norm transformer-like block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attn = Gate(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, 2 * width), nn.ReLU(), nn.Linear(2 * width, width)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Stack(nn.Module):
    def __init__(self, depth: int = 6) -> None:
        super().__init__()
        self.embed = nn.Linear(4, 8)
        self.layers = nn.ModuleList(Block() for _ in range(depth))
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x)
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


def edges(dot: str) -> list[tuple[str, str, str]]:
    return re.findall(r"(u\d+) -> (u\d+) \[([^\]]*)\]", dot)


def test_residual_additions_are_skip_connections_not_loops() -> None:
    result = analyze(Stack(), (torch.randn(2, 4),))
    drawing = draw(annotated_graph(result), level="modules", parameters={"layers.0.mlp": 272})
    labels = {ident: info["title"] for ident, info in drawing.info.items()}
    residual = [ident for ident, info in drawing.info.items() if info.get("residual")]
    assert len(residual) == 2  # one after attn, one after mlp, each drawn once for ×6
    solid = {(a, b) for a, b, style in edges(drawing.dot) if "dashed" not in style}
    dashed = {(a, b) for a, b, style in edges(drawing.dot) if "dashed" in style}
    assert not {(b, a) for a, b in solid} & solid, "a two-way edge between modules"
    # the solid edges form a DAG read top-down: embed → norm1 → attn → + → norm2 → mlp → +
    by_title = {title: ident for ident, title in labels.items()}
    attn = by_title["layers.{0…5}.attn ×6"]
    first_add, second_add = residual
    assert (attn, first_add) in solid and (by_title["layers.{0…5}.mlp ×6"], second_add) in solid
    assert (first_add, second_add) in solid  # the skip connection around norm2 and mlp
    assert dashed and all(a == second_add for a, _ in dashed)  # into the next layer only
    assert "repeat" in drawing.marks and "residual" in drawing.marks
    mlp = drawing.info[by_title["layers.{0…5}.mlp ×6"]]
    assert mlp["parameters"] == "272 each" and mlp["instances"] == 6
    rows = {row["module"]: row for row in drawing.modules}
    assert rows["layers.{0…5}.attn ×6"]["ops"] == "gating 1, matmul 2"
    assert rows["layers.{0…5}.attn ×6"]["sites"] == "1 gating"
    assert rows["layers.{0…5} ×6"]["ops"] == "elementwise 2"  # the block's own: residual adds


def test_witness_edges_and_sites_map_to_units() -> None:
    result = analyze(Stack(depth=4), (torch.randn(2, 4),))
    drawing = draw(annotated_graph(result), level="modules")
    site = result.sites[0]
    assert drawing.idents[site.node.name] in drawing.info
    assert "witness" in drawing.marks and 'color="#d62728"' in drawing.dot
    assert all(edge.startswith("e_u") for edge in drawing.edges.values())


def test_op_view_has_ids_for_every_node_and_edge() -> None:
    result = analyze(Block(), (torch.randn(2, 8),))
    drawing = draw(annotated_graph(result), level="ops")
    assert drawing.level == "ops"
    for ident in drawing.info:
        assert f'id="{ident}"' in drawing.dot
    for (a, b), ident in drawing.edges.items():
        assert re.search(rf'{a} -> {b} \[.*id="{ident}"', drawing.dot)
    gate = next(site for site in result.sites if site.kind == "gating")
    facts = drawing.info[drawing.idents[gate.node.name]]
    assert facts["site"] == "gating" and facts["dependence"] == "continuous"
    assert facts["shape"] == "float32[2, 8]" and "degree" in facts
