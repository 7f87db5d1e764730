"""The report page as a person sees it: headless Chromium loads it with no console
errors, the SVG renders, and the highlighted sites are visible.

Needs Debian's chromium (installed by scripts/bootstrap.sh test) and the playwright
package, which drives it without downloading a browser of its own.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from analyzer.analysis import analyze
from analyzer.frontend.zoo import build_zoo_model
from analyzer.render.report import write_report
from tests.render.test_render import EVIL, Evil

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("ANALYZER_REQUIRE_BROWSER") != "1",
    reason="chromium is not installed (scripts/bootstrap.sh test installs it)",
)

FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield launched
        launched.close()


def open_page(browser, path: Path):
    page = browser.new_page(viewport={"width": 1300, "height": 1800})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors, dialogs


def test_report_page_renders_with_visible_sites(browser, tmp_path: Path) -> None:
    result = analyze(*build_zoo_model("transformer_block"), model="zoo:transformer_block")
    folder = write_report(result, tmp_path / "report")
    page, errors, _ = open_page(browser, folder / "index.html")
    assert errors == []
    svg = page.locator(".graph svg")
    box = svg.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 200
    assert page.locator(".graph svg g.node").count() > 20  # graphviz drew the nodes
    site_nodes = page.locator(".graph svg g.site")
    assert site_nodes.count() == 3  # attention (two sites on one node) and two layer norms
    site_nodes.first.scroll_into_view_if_needed()
    assert site_nodes.first.is_visible()
    assert page.locator("tr.site").count() == 4 and page.locator("tr.site").first.is_visible()
    page.screenshot(path=str(tmp_path / "page.png"), full_page=False)
    assert (tmp_path / "page.png").stat().st_size > 10_000


def test_hostile_module_names_stay_text(browser, tmp_path: Path) -> None:
    import torch

    result = analyze(Evil(), (torch.randn(2, 4),), model=EVIL)
    folder = write_report(result, tmp_path / "evil")
    page, errors, dialogs = open_page(browser, folder / "index.html")
    assert errors == [] and dialogs == []
    assert page.locator("img").count() == 0
    assert EVIL in page.locator("h1").inner_text()
