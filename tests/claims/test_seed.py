"""The seed suite S1–S8: every verdict as the seed states it, the figures it gives
reproduced where their construction is stated, and the rest reported as such."""

from __future__ import annotations

import re

import pytest

from analyzer.claims.runner import run_claims
from analyzer.claims.seed import seed_suite

EXPECTED = {
    "S1": "holds with caveat", "S2": "holds with caveat", "S3": "holds with caveat",
    "S4": "holds", "S5": "holds with caveat", "S6": "holds with caveat",
    "S7": "holds with caveat", "S8": "holds",
}  # fmt: skip


@pytest.fixture(scope="module")
def results():
    report = run_claims(seed_suite(), examples=6, device="cpu")
    return {r.id: r for r in report.results}


def _all(result):
    yield result
    for item in [*result.parts, *result.caveats]:
        yield from _all(item)


def _measured(result, start: str):
    return [m for r in _all(result) for m in r.measurements if m.name.startswith(start)]


def test_every_seed_verdict_is_as_claims_md_states(results) -> None:
    assert {i: r.verdict for i, r in results.items()} == EXPECTED
    for result in results.values():
        for item in _all(result):
            assert item.as_expected, (item.id, item.verdict, item.error)
            assert item.claim.statement


def test_s1_gated_recurrent_counterexample_is_one_cell(results) -> None:
    recurrent = next(c for c in results["S1"].caveats if c.id == "S1.recurrent")
    assert recurrent.verdict == "fails"
    assert recurrent.counterexample.description in (
        "a single LSTM layer, input 1, hidden 1: gating site at rnn",
        "a single GRU layer, input 1, hidden 1: gating site at rnn",
    )


def test_s1_yarotsky_figures_are_exact(results) -> None:
    figures = _measured(results["S1"], "sup |f_")
    assert len(figures) == 5 and all(m.status == "reproduced" for m in figures)


def test_identities_hold_to_float64_precision(results) -> None:
    names = [
        (results["S2"], "dual form"), (results["S4"], "parallel vs recurrent"),
        (results["S5"], "LSA prediction"), (results["S6"], "Hopfield update vs"),
        (results["S8"], "bilinear form: Hessian"),
    ]  # fmt: skip
    for result, start in names:
        (m,) = _measured(result, start)
        assert m.status == "within" and m.value < 1e-13, (m.name, m.value)


def test_s2_training_graph_evidence_is_measured(results) -> None:
    (m,) = _measured(results["S2"], "weight-gradient contraction sites")
    assert m.status == "reproduced" and m.value == 1.0


def test_figures_under_the_reference_protocols_are_reproduced(results) -> None:
    figures = [m for r in results.values() for item in _all(r) for m in item.measurements
               if m.range is not None]  # fmt: skip
    names = " ".join(m.name for m in figures)
    for wanted in ("apparent degree at α = 2", "n = 32 > d = 16", "decay rate"):
        assert wanted in names
    for m in figures:
        assert re.match(r"S\d protocol: ", m.protocol), m.name
        assert m.status == "reproduced", (m.name, m.value, m.range)
        assert not m.decides


def test_the_dual_form_is_held_to_the_identity_tolerance(results) -> None:
    (m,) = _measured(results["S2"], "dual form")
    assert m.tolerance == 1e-12


def test_s1_gated_caveat_names_why_it_fails(results) -> None:
    recurrent = next(c for c in results["S1"].caveats if c.id == "S1.recurrent")
    assert recurrent.claim.expect.site_kind == ("gating",)
    assert recurrent.counterexample.confirmation == "confirmed empirically"


def test_figures_without_a_stated_construction_report_and_do_not_decide(results) -> None:
    for result in results.values():
        for item in _all(result):
            for m in item.measurements:
                if m.status == "not reproduced":
                    assert not m.decides and m.note, m.name


def test_s3_names_two_contraction_sites_per_attention_layer(results) -> None:
    named = _measured(results["S3"], "")
    per_layer = [m for m in named if m.name.endswith("contraction sites per attention layer")]
    assert per_layer and all(m.value == 2.0 for m in per_layer)


@pytest.mark.slow
def test_the_seed_suite_with_default_examples() -> None:
    report = run_claims(seed_suite(), device="cpu")
    assert report.as_expected
    assert report.seconds < 300  # the budget on the CPU
