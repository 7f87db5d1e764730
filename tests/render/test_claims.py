"""The claims page and terminal text: every verdict, counterexample and measurement
shown, everything escaped, nothing loaded from the network."""

from __future__ import annotations

import json
import re

import pytest

from analyzer.claims.core import claim
from analyzer.claims.runner import run_claims
from analyzer.render.claims import claims_html, render_claims_text, write_claims_report
from analyzer.strategies import architectures

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def report():
    @claim(f"gated nets have no site {HOSTILE}", family=architectures(blocks=["gru"]),
           examples=3, sources=(HOSTILE,))  # fmt: skip
    def gated(model):
        assert not model.analysis.sites, HOSTILE

    @claim("an identity with figures", identity=True, tolerance=1e-12)
    def figures(check):
        check.measure("an error", 1e-15)
        check.measure("a figure", 0.5, expected=0.77, tolerance=0.005, note="other draws")
        check.measure("absent", None, note="needs a GPU")

    @figures.caveat("a caveat", identity=True)
    def caveat(check):
        pass

    return run_claims([gated, figures], device="cpu")


def test_the_page_is_self_contained_and_escaped(report) -> None:
    page = claims_html(report)
    assert HOSTILE not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert not re.search(r"(src|href)=\"https?:", page) and "<script" not in page
    assert page.count('class="chip"') >= 3  # verdict chips (and the analysis' class chips)
    # the report's style sheet is scoped: the page's body must sit inside that scope
    assert '<body class="analyzer-page"><div class="analyzer-report">' in page


def test_the_page_shows_verdicts_counterexamples_and_measurements(report) -> None:
    page = claims_html(report)
    assert "a single GRU layer, input 1, hidden 1: gating site at rnn" in page
    assert "Input-by-input sites" in page  # the counterexample's analysis
    for words in ("holds with caveat", "fails", "not reproduced", "not measured", "needs a GPU",
                  "does not decide", "caveat caveat: a caveat"):  # fmt: skip
        assert words in page, words


def test_the_text_lists_what_a_reader_must_see(report) -> None:
    text = render_claims_text(report)
    first = text.splitlines()[0]
    assert first.split()[:3] == ["claim", "verdict", "as"]
    assert "counterexample: a single GRU layer, input 1, hidden 1: gating site at rnn" in text
    assert "≠ not reproduced: a figure: 0.5 vs 0.77 (other draws)" in text
    assert "– absent: needs a GPU" in text
    assert "caveat caveat: holds" in text
    assert "some verdicts not as expected" in text  # the GRU claim fails, expected to hold


def test_the_report_folder_holds_the_page_and_the_json(report, tmp_path) -> None:
    folder = write_claims_report(report, tmp_path / "claims")
    assert (folder / "index.html").read_text().startswith("<!DOCTYPE html>")
    document = json.loads((folder / "claims.json").read_text())
    assert document["schema"] == "analyzer.claims/1"
