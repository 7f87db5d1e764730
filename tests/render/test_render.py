"""Renderers: DOT/SVG, HTML and Markdown are deterministic, escaped, and readable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from torch import nn

from analyzer.analysis import analyze
from analyzer.frontend.zoo import build_zoo_model
from analyzer.render.annotated import annotated_graph
from analyzer.render.dot import collapse_module, dot_source, draw, repeated_containers
from analyzer.render.html import html_page
from analyzer.render.markdown import markdown_report
from analyzer.render.report import write_report
from tests.programs import has_program, need_program

GOLDEN = Path(__file__).parent / "golden"
EVIL = "<img src=x onerror=alert(1)>"
needs_dot = pytest.mark.usefixtures("dot_program")


@pytest.fixture
def dot_program() -> str:
    """graphviz's ``dot``: skip without it, fail in CI (``tests/programs.py``)."""
    return need_program("dot")


def test_dot_golden(request: pytest.FixtureRequest) -> None:
    dot = dot_source(annotated_graph(analyze(*build_zoo_model("linear_attention"))))
    golden = GOLDEN / "linear_attention.dot"
    if request.config.getoption("--update-golden"):
        golden.write_text(dot)
    assert dot == golden.read_text(), "run pytest --update-golden after an intended change"


def test_markdown_golden(request: pytest.FixtureRequest) -> None:
    result = analyze(*build_zoo_model("swiglu_mlp"), model="zoo:swiglu_mlp")
    text = markdown_report(result).replace(str(Path.cwd()), "")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("- versions:"))
    golden = GOLDEN / "swiglu_mlp.md"
    if request.config.getoption("--update-golden"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_rendering_is_deterministic() -> None:
    first = dot_source(annotated_graph(analyze(*build_zoo_model("moe_topk"))))
    second = dot_source(annotated_graph(analyze(*build_zoo_model("moe_topk"))))
    assert first == second


def test_sites_transposes_and_clusters_are_marked() -> None:
    drawing = draw(annotated_graph(analyze(*build_zoo_model("transformer_block"))))
    dot = drawing.dot
    assert 'class="site site-contraction"' in dot  # the fused attention (K transposed inside)
    explicit = draw(annotated_graph(analyze(*build_zoo_model("linear_attention")))).dot
    assert 'class="dynamic-transpose"' in explicit  # kᵀ in q·(kᵀ·v)
    assert "subgraph cluster_" in dot and 'label="self_attn"' in dot
    assert "⟨2 contraction sites: scores, mix⟩" in dot  # one node holds attention's two sites
    assert "cluster_legend" not in dot  # the legend sits beside the graph, not inside it
    assert drawing.classes == ["matmul", "relu", "transpose", "normalization", "structural",
                               "elementwise"]  # fmt: skip
    assert {"site", "feeds", "layout", "witness", "input"} <= set(drawing.marks)


def test_repeated_blocks_collapse() -> None:
    modules = [f"layers.{i}.mlp" for i in range(80)] + ["norm"]
    containers = repeated_containers(modules)
    assert containers == {"layers": list(range(80))}
    assert collapse_module("layers.17.mlp", containers) == "layers.*.mlp"

    class Deep(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(4, 4) for _ in range(120))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for layer in self.layers:
                x = x + torch.relu(layer(x)) * x
            return x

    drawing = draw(annotated_graph(analyze(Deep(), (torch.randn(2, 4),))))
    assert drawing.level == "modules" and "layers.{0…119} ×120" in drawing.dot
    assert drawing.dot.count("->") < 40  # a handful of units, not 600 ops


class Evil(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.add_module(EVIL, nn.Linear(4, 4))
        self.gate = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, EVIL)(x) * self.gate(x)


class _Gate(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(x) * self.b(x)


class EvilStack(nn.Module):
    """Repeated blocks under a hostile name: folded into ``<details>`` in report.md."""

    def __init__(self) -> None:
        super().__init__()
        self.add_module(EVIL, nn.ModuleList([_Gate() for _ in range(3)]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in getattr(self, EVIL):
            x = block(x)
        return x


def test_report_md_writes_user_names_as_text_not_html() -> None:
    for model in (Evil(), EvilStack()):
        markdown = markdown_report(analyze(model, (torch.randn(2, 4),), model=EVIL))
        outside_code = re.sub(r"``.*?``|`[^`]*`", "", markdown)
        assert "<img" not in outside_code and EVIL in markdown, markdown


def test_user_names_are_escaped_everywhere(tmp_path: Path) -> None:
    result = analyze(Evil(), (torch.randn(2, 4),), model=EVIL)
    assert result.to_json()["input_products"][0]["module"] == ""
    assert EVIL in {result.module_of(n) for n in result.classes}
    page = html_page(result)
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    dot = dot_source(annotated_graph(result))
    assert EVIL in dot  # inside quoted DOT strings, which graphviz escapes for SVG
    if has_program("dot"):
        folder = write_report(result, tmp_path / "evil")
        for name in ("graph.svg", "index.html"):
            assert "<img" not in (folder / name).read_text()


@needs_dot
def test_report_writes_every_file(run_cli, tmp_path: Path) -> None:
    code, _, _ = run_cli("report", "zoo:hopfield", "--out", str(tmp_path / "r"))
    assert code == 0
    names = sorted(p.name for p in (tmp_path / "r").iterdir())
    assert names == ["analysis.json", "graph.dot", "graph.svg", "index.html", "report.md"]
    page = (tmp_path / "r" / "index.html").read_text()
    assert "<svg" in page and "http" not in page.replace("http://www.w3.org", "")
    assert "<link" not in page and " src=" not in page  # self-contained: nothing fetched
    standalone = (tmp_path / "r" / "graph.svg").read_text()
    assert standalone.count("<svg") == 2 and "Legend" in standalone  # drawing + legend column


def test_report_without_dot_says_what_is_missing(run_cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot anywhere
    code, _, stderr = run_cli("report", "zoo:mlp", "--out", str(tmp_path / "r"))
    assert code == 4 and "graphviz" in stderr and "apt-get install graphviz" in stderr
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_repr_html_for_jupyter_carries_its_own_styles() -> None:
    html = analyze(*build_zoo_model("swiglu_mlp"))._repr_html_()
    assert "gating" in html and "<table>" in html
    assert html.startswith("<style>") and '<div class="analyzer-report">' in html
    for rule in (".analyzer-report .chip", ".analyzer-report table", ".analyzer-report .path",
                 '[data-jp-theme-light="false"] .analyzer-report'):  # dark JupyterLab  # fmt: skip
        assert rule in html
    assert "color: #111" in html  # chips keep dark text on their light fill in a dark theme
    assert "<script" not in html  # notebooks may not run scripts; the view works without


def test_repr_is_one_line() -> None:
    text = repr(analyze(*build_zoo_model("transformer_block"), model="zoo:transformer_block"))
    assert "\n" not in text and len(text) < 200
    assert text == (
        "<Analysis zoo:transformer_block: 49 nodes, primitive set [matmul, normalization, "
        "relu, transpose], 4 input-by-input sites, degree inf>"
    )


class _EveryOtherLayer(nn.Module):
    """Layers 0, 2 and 4 of five run: the fold must not read as five layers."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([_Gate() for _ in range(5)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[::2]:
            x = layer(x)
        return x


def test_a_fold_of_layers_0_2_4_lists_them() -> None:
    result = analyze(_EveryOtherLayer(), (torch.randn(2, 4),))
    markdown = markdown_report(result)
    assert "layers.{0,2,4} ×3" in markdown and "{0…4}" not in markdown
