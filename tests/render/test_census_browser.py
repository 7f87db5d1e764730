"""The atlas page as a reader uses it, in headless Chromium: no console errors, the
validation verdict in view without scrolling, every filter (primitive, site kind, degree,
verdict) showing just the rows it names, numeric sorting, links to reports and evidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.census import CensusOptions, census_document
from analyzer.census_validation import ValidationBudget
from analyzer.render.census import census_page
from tests.render.test_browser import browser, open_page  # noqa: F401  (the fixture)

pytest.importorskip("transformers")


def record(
    model_type: str,
    classes: list[str],
    sites: dict[str, int],
    degree: str,
    parameters: int,
    verdict: str | None,
) -> dict:
    found = {
        "type": model_type, "status": "analysed", "category": "clean", "seconds": 1.0,
        "class": f"{model_type.title()}Model", "circuit_class": classes,
        "sites": {"contraction": 0, "gating": 0, "normalization": 0, **sites},
        "degree": degree, "device": "meta", "nodes": 10, "unknown_ops": [], "warnings": [],
        "layers": 2, "parameters": parameters, "shrink": "widths",
        "report": f"models/{model_type}/index.html",
        "crossover": {"crossover": 768.0, "static": "393216*N", "dynamic": "512*N**2"},
    }  # fmt: skip
    if verdict is not None:
        found["validation"] = {"verdict": verdict, "reason": f"why {model_type}", "seconds": 2.0}
        if verdict == "disagrees":
            found["validation"]["evidence"] = f"models/{model_type}/validation.json"
    return found


RECORDS = [
    record("gpt2", ["matmul", "nonlinearity", "normalization"],
           {"contraction": 4, "normalization": 5}, "inf", 7_000_000, "agree"),
    record("llama", ["gating", "matmul", "normalization"],
           {"contraction": 4, "gating": 2, "normalization": 5}, "inf", 9_800_000, "disagrees"),
    record("mlp", ["matmul", "relu"], {}, "1", 50_000, "timeout"),
    record("rnn", ["matmul", "nonlinearity"], {"contraction": 1}, "3", 300_000_000, None),
]  # fmt: skip


@pytest.fixture(scope="module")
def atlas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    document = census_document(RECORDS, CensusOptions(validate=ValidationBudget()), 9.0)
    path = tmp_path_factory.mktemp("atlas") / "index.html"
    path.write_text(census_page(document))
    return path


def shown(page) -> list[str]:
    names = page.eval_on_selector_all(
        "#models tbody tr", "rows => rows.filter(r => r.style.display !== 'none')"
        ".map(r => r.dataset.name)",
    )  # fmt: skip
    assert page.inner_text("#shown") == str(len(names))
    return sorted(names)


@pytest.mark.parametrize(
    ("select", "value", "expected"),
    [
        ("#f-class", "gating", ["llama"]),
        ("#f-class", "!nonlinearity", ["llama", "mlp"]),
        ("#f-site", "normalization", ["gpt2", "llama"]),
        ("#f-site", "none", ["mlp"]),
        ("#f-degree", "3", ["rnn"]),
        ("#f-verdict", "disagrees", ["llama"]),
        ("#f-verdict", "not run", ["rnn"]),
    ],
)
def test_each_filter_shows_the_rows_it_names(browser, atlas, select, value, expected) -> None:  # noqa: F811
    page, errors, _ = open_page(browser, atlas)
    assert shown(page) == ["gpt2", "llama", "mlp", "rnn"]
    page.select_option(select, value)
    assert shown(page) == expected
    assert not errors
    page.close()


def test_the_verdict_is_in_view_and_links_its_evidence(browser, atlas) -> None:  # noqa: F811
    page, errors, _ = open_page(browser, atlas)
    headers = page.eval_on_selector_all("#models th", "hs => hs.map(h => h.textContent)")
    for header in ("validation", "degree", "crossover (tokens)", "parameters", "shrink"):
        box = page.locator("#models th").nth(headers.index(header)).bounding_box()
        assert box is not None and box["x"] + box["width"] <= 1300, header  # no scrolling
    row = page.locator('#models tr[data-name="llama"]')
    cell = row.locator("td").nth(headers.index("validation"))
    assert cell.get_attribute("title") == "why llama"
    assert cell.locator("a").get_attribute("href") == "models/llama/validation.json"
    assert row.locator("td").first.locator("a").get_attribute("href") == ("models/llama/index.html")
    for header in ("shrink", "crossover (tokens)", "parameters", "degree", "sites per layer"):
        assert header in headers
    assert row.locator("td").nth(headers.index("shrink")).inner_text() == "widths"
    assert row.locator("td").nth(headers.index("crossover (tokens)")).inner_text() == "768"
    # the disagreement is listed above the table with what was measured
    assert "llama: why llama" in page.inner_text("body")
    assert not errors
    page.close()


def test_sorting_by_parameters_is_numeric(browser, atlas) -> None:  # noqa: F811
    page, errors, _ = open_page(browser, atlas)
    headers = page.eval_on_selector_all("#models th", "hs => hs.map(h => h.textContent)")
    page.locator("#models th").nth(headers.index("parameters")).click()
    order = page.eval_on_selector_all("#models tbody tr", "rows => rows.map(r => r.dataset.name)")
    assert order == ["mlp", "gpt2", "llama", "rnn"]  # 50k < 7.0M < 9.8M < 300M
    assert not errors
    page.close()
