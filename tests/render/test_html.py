"""The page's text: the title shows the overrides, sites of repeated blocks fold, fused
ops read as one op with two parts, source paths are shortened with the full path kept,
identifiers wrap only at their separators, how to reproduce the run is there, and the
page of the 70B shape stays under 1 MB."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from analyzer.analysis import analyze
from analyzer.frontend.zoo import build_zoo_model
from analyzer.render.annotated import annotated_graph
from analyzer.render.dot import draw
from analyzer.render.html import html_page
from analyzer.render.wording import short_source


class Gated(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.a(x) * self.b(x)


class Deep(nn.Module):
    def __init__(self, depth: int = 12) -> None:
        super().__init__()
        self.layers = nn.ModuleList(Gated() for _ in range(depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


def page_of(result, level: str = "auto") -> str:
    drawing = draw(annotated_graph(result), level=level)
    return html_page(result, "<svg viewBox='0 0 10 10'></svg>", drawing)


def test_the_page_and_the_index_match_their_golden_files(request: pytest.FixtureRequest) -> None:
    """The whole page of one small model (the inline style and script, and the versions
    row, left out) and an index of two rows, as they were reviewed: every piece of
    markup the escaping tests do not read back (toolbar, table heads, notes) is checked
    here. ``pytest --update-golden`` rewrites them after an intended change."""
    from analyzer.render.assets import SCRIPT, STYLE
    from analyzer.render.html import analysis_body, index_page

    result = analyze(*build_zoo_model("swiglu_mlp"), model="zoo:swiglu_mlp")
    page = page_of(result).replace(STYLE, "STYLE").replace(SCRIPT, "SCRIPT")
    page = re.sub(r"<tr><th>versions</th><td>[^<]*</td></tr>", "", page)
    rows = [
        {"name": "zoo:mlp", "href": "mlp/index.html", "circuit_class": ["matmul", "relu"],
         "degree": "1", "sites": {}},
        {"name": "zoo:bilinear", "href": "bilinear/index.html", "circuit_class": ["gating"],
         "degree": "2", "sites": {"gating": 12}, "differs": "documented: 1"},
    ]  # fmt: skip
    index = index_page(rows).replace(STYLE, "STYLE")
    drawing = draw(annotated_graph(result), level="modules")
    static = analysis_body(result, "<svg></svg>", drawing, interactive=False)  # a notebook's
    static = re.sub(r"<tr><th>versions</th><td>[^<]*</td></tr>", "", static)
    goldens = (("swiglu_mlp.html", page), ("swiglu_mlp_static.html", static), ("index.html", index))
    for name, text in goldens:
        golden = Path(__file__).parent / "golden" / name
        if request.config.getoption("--update-golden"):
            golden.write_text(text)
        assert text == golden.read_text(), f"{name}: run pytest --update-golden after a change"


def test_sites_of_a_repeated_block_fold_and_unfold_to_every_row() -> None:
    result = analyze(Deep(), (torch.randn(2, 4),), model="deep")
    page = page_of(result)
    summary = re.search(r"<summary>(.*?)</summary>", page).group(1)
    assert summary.startswith("<b>layers.{0…11} ×12</b>: 1 gating site each · <code>aten.")
    assert "test_<wbr>html.<wbr>py:" in summary  # the one source line all rows share
    assert page.count('<tr class="site"') == 12  # every instance, inside the fold
    assert page.count("<details") == 1 and "<th>source</th>" not in page  # compact rows


def test_a_fused_attention_is_one_op_with_two_parts() -> None:
    result = analyze(*build_zoo_model("transformer_block"), model="zoo:transformer_block")
    page = page_of(result)
    assert 'rowspan="2"' in page  # node, op, module and source cells are shared
    assert "contraction · scores" in page and "contraction · mix" in page
    assert page.count("scaled_<wbr>dot_<wbr>product_<wbr>attention</code></td>") >= 1


def test_identifiers_wrap_only_at_separators_and_sources_are_shortened() -> None:
    place, code = short_source(
        "/opt/venv/lib/python3.11/site-packages/transformers/models/llama/modeling_llama.py:66:"
        " h = h * torch.rsqrt(v)"
    )
    assert place == "transformers/models/llama/modeling_llama.py:66" and code.startswith("h =")
    assert short_source("/home/me/work/project/deep/models/net.py:9: y")[0] == (
        "…/deep/models/net.py:9"
    )
    result = analyze(*build_zoo_model("swiglu_mlp"), model="zoo:swiglu_mlp")
    page = page_of(result)
    assert "word-break: normal" in page and "<code>aten.<wbr>mul</code>" in page
    source = result.to_json()["input_products"][0]["source"]
    assert f'title="{source}"' in page  # the full path on hover


def test_title_parameters_inputs_and_reproduction() -> None:
    result = analyze(*build_zoo_model("mlp"), model="hf:made_up")
    result.traced.metadata.update(
        config={"num_hidden_layers": 32, "hidden_size": 64}, seed=3,
        command="analyzer report hf:made_up --config num_hidden_layers=32",
    )  # fmt: skip
    page = page_of(result)
    assert "<title>analyzer: hf:made_up (num_hidden_layers=32, hidden_size=64)</title>" in page
    assert '<span class="overrides">num_hidden_layers=32, hidden_size=64</span>' in page
    assert "1,732 parameters" in page and "inputs x float32[2, 6, 16]" in page
    assert "analyzer report hf:made_up --config num_hidden_layers=32" in page
    assert "<th>seed</th><td>3</td>" in page and "torch 2." in page


def test_the_script_data_is_safe_json() -> None:
    result = analyze(*build_zoo_model("transformer_block"))
    page = page_of(result)
    blob = re.search(r'class="analyzer-data">(.*?)</script>', page, re.S).group(1)
    assert "<" not in blob
    data = json.loads(blob)
    assert {"nodes", "sites", "labels"} <= set(data)
    assert len(data["sites"]) == 4 and data["sites"][0]["node"] in data["nodes"]
    assert all(edge.startswith("e_") for site in data["sites"] for edge in site["edges"])


@pytest.mark.slow
def test_the_70b_page_stays_under_a_megabyte(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from analyzer.analysis import analyze_traced
    from analyzer.frontend.specs import load_model
    from analyzer.frontend.tracing import trace
    from analyzer.render.report import write_report

    config = ["num_hidden_layers=80", "hidden_size=8192", "intermediate_size=28672",
              "num_attention_heads=64", "num_key_value_heads=8", "vocab_size=128256"]  # fmt: skip
    loaded = load_model("hf:llama", config=config)
    traced = trace(loaded.module, loaded.args, example_kwargs=loaded.kwargs, model="hf:llama")
    folder = write_report(analyze_traced(traced), tmp_path / "llama70b")
    assert (folder / "index.html").stat().st_size < 1_000_000
    assert (folder / "graph.svg").stat().st_size < 100_000


class Quoted(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * x.flip(-1) if "q" != '"' else x  # a line with both quotes: " and '


def test_a_source_line_with_quotes_stays_inside_its_title() -> None:
    """The title attribute holds the whole source line, quotes and all: a ``"`` that is
    not escaped would end the attribute and let the rest of the line into the markup."""
    from html.parser import HTMLParser

    result = analyze(Quoted(), (torch.randn(2, 3),), model="quoted")
    (source,) = {site["source"] for site in result.to_json()["input_products"]}
    assert '"' in source
    titles: list[str] = []

    class Titles(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag == "td":
                titles.extend(value for name, value in attrs if name == "title")

    Titles().feed(page_of(result))
    assert source in titles, titles
