"""The report page as a person uses it: headless Chromium loads it with no console
errors, the graph renders right after the verdict, pans, zooms and fits, finds nodes,
lights up a site's witness paths when its row is clicked, shows a node's facts when the
node is clicked; a 32-layer model's page stays short; the notebook view stays readable
in light and dark themes.

Needs Debian's chromium (installed by scripts/bootstrap.sh test) and the playwright
package, which drives it without downloading a browser of its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.analysis import analyze
from analyzer.frontend.zoo import build_zoo_model
from analyzer.render.report import write_report
from tests.programs import need_module, need_program
from tests.render.test_render import EVIL, Evil

FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser():
    chromium = need_program("chromium", "chromium-browser")
    sync_api = need_module("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def block_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = analyze(*build_zoo_model("transformer_block"), model="zoo:transformer_block")
    return write_report(result, tmp_path_factory.mktemp("report")) / "index.html"


def open_page(browser, path: Path, height: int = 1000):
    page = browser.new_page(viewport={"width": 1300, "height": height})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors, dialogs


def view_box(page) -> list[float]:
    return [float(v) for v in page.locator(".graph-box svg").get_attribute("viewBox").split()]


def test_report_page_renders_with_the_graph_after_the_verdict(browser, block_report) -> None:
    page, errors, _ = open_page(browser, block_report)
    assert errors == []
    box = page.locator(".graph-box").bounding_box()
    assert box is not None and box["width"] > 500 and box["height"] > 300
    assert box["y"] < 400  # right after the verdict strip, in the first screen
    assert page.locator(".graph-box svg g.node").count() > 20  # graphviz drew the nodes
    assert page.locator(".graph-box svg g.site").count() == 3  # attention (2 sites) + 2 norms
    assert page.locator("tr.site").count() == 4 and page.locator("tr.site").first.is_visible()
    legend = page.locator(".legend").inner_text()
    assert "matmul" in legend and "sparsity" not in legend  # only the classes drawn
    assert "red edge" in legend and "hexagon" in legend  # edges and shapes explained
    legend_box = page.locator(".legend").bounding_box()
    assert legend_box["x"] > box["x"] + box["width"] - 5  # beside the graph, not below it
    page.screenshot(path=str(block_report.parent / "page.png"), full_page=False)
    assert (block_report.parent / "page.png").stat().st_size > 10_000


def test_pan_zoom_and_fit(browser, block_report) -> None:
    page, errors, _ = open_page(browser, block_report)
    start = view_box(page)
    page.click("[data-act=in]")
    zoomed = view_box(page)
    assert zoomed[2] < start[2] * 0.9  # a narrower view: zoomed in
    graph = page.locator(".graph-box").bounding_box()
    x, y = graph["x"] + graph["width"] / 2, graph["y"] + graph["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 150, y - 100, steps=5)
    page.mouse.up()
    panned = view_box(page)
    assert panned[0] > zoomed[0] and panned[1] > zoomed[1]  # dragged left and up
    page.click("[data-act=fit]")
    fitted = view_box(page)
    svg = page.locator(".graph-box svg g.graph").bounding_box()
    assert fitted[3] > zoomed[3] and svg["height"] <= graph["height"] + 2  # all of it shows
    page.keyboard.press("Escape")
    assert errors == []


def test_search_finds_nodes_and_modules(browser, block_report) -> None:
    page, errors, _ = open_page(browser, block_report)
    page.fill("input[type=search]", "linear")
    found = page.locator(".graph-box svg g.node.found")
    assert found.count() >= 3 and "matches" in page.locator(".found-count").inner_text()
    page.press("input[type=search]", "Enter")
    assert page.locator(".found-count").inner_text().startswith("1 of ")
    assert "linear" in page.locator(".facts h3").inner_text()
    page.fill("input[type=search]", "norm1")  # a module name finds its ops
    assert page.locator(".graph-box svg g.node.found").count() >= 1
    page.fill("input[type=search]", "")
    assert page.locator(".graph-box svg g.node.found").count() == 0
    assert errors == []


def test_clicking_a_site_row_lights_its_witness_paths(browser, block_report) -> None:
    page, errors, _ = open_page(browser, block_report)
    page.locator("tr.site").first.click()
    svg = page.locator(".graph-box svg")
    assert "dim" in (svg.get_attribute("class") or "")
    lit_nodes = page.locator(".graph-box svg g.node.hl")
    assert lit_nodes.count() >= 5 and page.locator(".graph-box svg g.edge.hl").count() >= 4
    assert page.locator(".graph-box svg g.site.hl").count() == 1  # the site's own node
    assert "scaled_dot_product_attention" in page.locator(".facts h3").inner_text()
    assert page.locator("tr.active").count() == 1
    page.click("[data-act=clear]")
    assert page.locator(".graph-box svg g.hl").count() == 0
    assert errors == []


def test_clicking_a_node_shows_its_facts(browser, block_report) -> None:
    page, errors, _ = open_page(browser, block_report)
    page.click("[data-act=fit]")
    node = page.locator(".graph-box svg g.site").first
    box = node.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    facts = page.locator(".facts").inner_text()
    for label in ("op", "class", "dependence", "degree", "module", "source", "value"):
        assert f"\n{label}" in f"\n{facts}", (label, facts)
    assert "continuous" in facts and "float32[" in facts
    assert errors == []


def test_hostile_module_names_stay_text(browser, tmp_path: Path) -> None:
    import torch

    result = analyze(Evil(), (torch.randn(2, 4),), model=EVIL)
    folder = write_report(result, tmp_path / "evil")
    page, errors, dialogs = open_page(browser, folder / "index.html")
    assert errors == [] and dialogs == []
    assert page.locator("img").count() == 0
    assert EVIL in page.locator("h1").inner_text()
    page.locator("tr.site").first.click()  # the script reads the escaped data safely
    page.fill("input[type=search]", "<img")
    assert errors == [] and dialogs == [] and page.locator("img").count() == 0


def test_a_32_layer_model_reads_in_one_screen_before_the_graph(browser, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from analyzer.analysis import analyze_traced
    from analyzer.frontend.specs import load_model
    from analyzer.frontend.tracing import trace

    config = ["num_hidden_layers=32", "hidden_size=32", "intermediate_size=64",
              "num_attention_heads=2", "num_key_value_heads=1", "vocab_size=100"]  # fmt: skip
    loaded = load_model("hf:llama", config=config)
    traced = trace(loaded.module, loaded.args, example_kwargs=loaded.kwargs, model="hf:llama")
    folder = write_report(analyze_traced(traced), tmp_path / "llama32")
    page_file = folder / "index.html"
    assert page_file.stat().st_size < 1_000_000
    page, errors, _ = open_page(browser, page_file)
    assert errors == []
    graph = page.locator(".graph-box").bounding_box()
    assert graph["y"] < 400  # the graph starts in the first screen
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 4000, height  # 161 sites fold into a few lines
    summaries = page.locator("details.fold > summary").all_inner_texts()
    assert any("layers.{0…31}.self_attn ×32: 2 contraction sites each (scores, mix)" in s
               for s in summaries), summaries  # fmt: skip
    page.locator("details.fold > summary").nth(1).click()  # unfold the attention block
    assert page.locator("details.fold[open] tr.site").count() == 64
    page.locator("details.fold[open] tr.site").nth(10).click()
    assert page.locator(".graph-box svg g.node.hl").count() >= 3
    assert errors == []


NOTEBOOK = """<!DOCTYPE html><html><head><meta charset="utf-8"></head>
<body {attributes} style="background:{background};color:{colour};font-family:sans-serif">
<div class="jp-OutputArea-output">{html}</div></body></html>"""


def luminance(css: str) -> float:
    parts = [float(v) for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3]]
    return sum(w * v / 255 for w, v in zip((0.2126, 0.7152, 0.0722), parts, strict=True))


@pytest.mark.parametrize(
    ("attributes", "background", "colour", "dark"),
    [
        ('data-jp-theme-light="true"', "#ffffff", "#000000", False),
        ('data-jp-theme-light="false"', "#111111", "#eeeeee", True),
    ],
)
def test_notebook_view_is_readable_in_light_and_dark(
    browser, tmp_path: Path, attributes: str, background: str, colour: str, dark: bool
) -> None:
    html = analyze(*build_zoo_model("transformer_block"), model="zoo:transformer_block")
    path = tmp_path / "notebook.html"
    path.write_text(NOTEBOOK.format(attributes=attributes, background=background,
                                    colour=colour, html=html._repr_html_()))  # fmt: skip
    page, errors, _ = open_page(browser, path)
    assert errors == []
    text = page.evaluate("getComputedStyle(document.querySelector('.analyzer-report h2')).color")
    assert (luminance(text) > 0.7) if dark else (luminance(text) < 0.3), text
    chip = page.locator(".analyzer-report .chip").first
    chip_text = chip.evaluate("e => getComputedStyle(e).color")
    chip_fill = chip.evaluate("e => getComputedStyle(e).backgroundColor")
    assert luminance(chip_fill) - luminance(chip_text) > 0.5  # dark text on a light chip
    assert page.locator(".analyzer-report .graph-box svg").count() == 1
    page.screenshot(path=str(tmp_path / "notebook.png"))


LABEL_HEIGHT = """() => { const hs = [...document.querySelectorAll('.graph-box g.node text')]
  .map(t => t.getBoundingClientRect()).filter(r => r.height > 0 && r.bottom > 0
    && r.top < window.innerHeight).map(r => r.height).sort((a, b) => a - b);
  return hs.length ? hs[Math.floor(hs.length / 2)] : 0; }"""


@pytest.mark.parametrize("level", ["auto", "ops"])
def test_a_medium_graph_opens_with_legible_labels(browser, tmp_path: Path, level: str) -> None:
    """zoo:mamba_block's op drawing is about 2,400 points wide: ``auto`` draws modules,
    and ``--level ops`` opens zoomed to where labels read (not on the whole width), on a
    1400-pixel-wide page; the page gives the command for the other level."""
    need_program("dot")
    result = analyze(*build_zoo_model("mamba_block"), model="zoo:mamba_block")
    result.traced.metadata["command"] = "analyzer report zoo:mamba_block --out r"
    path = write_report(result, tmp_path / level, level=level) / "index.html"
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    page.locator(".graph-box").scroll_into_view_if_needed()
    assert page.evaluate(LABEL_HEIGHT) >= 8.5
    drawn = "modules" if level == "auto" else "ops"
    other = "ops" if drawn == "modules" else "modules"
    switch = page.locator(".other-level").inner_text()
    assert f"analyzer report zoo:mamba_block --out r --level {other}" in switch
    page.locator("[data-act=fit]").click()  # fit still shows the whole drawing
    assert page.evaluate(LABEL_HEIGHT) < 8.5 or drawn == "modules"
    page.close()


def test_long_claim_ids_stay_in_their_column(browser, tmp_path) -> None:
    from analyzer.claims.core import claim
    from analyzer.claims.runner import run_claims
    from analyzer.render.claims import write_claims_report

    @claim("a linear layer then a ReLU has no input-by-input product site", identity=True)
    def test_linear_relu_has_no_site(check):
        pass

    @claim("a name longer than any column holds on one line", identity=True)
    def a_claim_whose_name_is_much_longer_than_any_column_would_ever_hold_on_one_line(check):
        pass

    longest = a_claim_whose_name_is_much_longer_than_any_column_would_ever_hold_on_one_line
    claims = [test_linear_relu_has_no_site, longest]
    folder = write_claims_report(run_claims(claims, device="cpu"), tmp_path / "claims")
    page, errors, _ = open_page(browser, folder / "index.html", height=600)
    assert errors == []
    rows = page.locator("table.verdicts tr")
    assert rows.count() == 3
    for number in (1, 2):
        cells = rows.nth(number).locator("td")
        name = cells.nth(0).locator("a").bounding_box()
        statement = cells.nth(1).bounding_box()
        assert name is not None and statement is not None
        # the id's text ends before the statement's cell begins (no overlap)
        assert name["x"] + name["width"] <= statement["x"], (name, statement)
