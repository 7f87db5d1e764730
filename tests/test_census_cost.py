"""The census's crossover length: a model whose code bounds the sequence is exported over
that range and its crossover said to lie beyond it; a model without a sequence axis says
so; the page shows the bound."""

from __future__ import annotations

import pytest
import sympy

from analyzer.census_cost import crossover_of
from analyzer.render.census import _crossover_cell

pytest.importorskip("transformers")


def test_a_crossover_past_the_longest_sequence_is_shown_with_its_bound() -> None:
    entry = {"crossover": 768.05, "longest": 512, "reason": "beyond the longest sequence",
             "static": "393216*N + 16384", "dynamic": "512*N**2"}  # fmt: skip
    cell = _crossover_cell(entry)
    assert "768 (max 512)" in cell and 'data-sort="768.05"' in cell
    assert "beyond the longest sequence" in cell
    within = _crossover_cell({**entry, "crossover": 300.0})
    assert "(max" not in within and ">300</td>" in within


@pytest.mark.slow
def test_bert_is_exported_over_its_positions_and_vit_has_no_sequence() -> None:
    from analyzer.frontend.hf import build_hf_model

    bert = crossover_of(build_hf_model("bert", shrink="widths", seq_len=16), "bert", 300)
    assert bert["longest"] == 512, bert
    n = sympy.Symbol("N", positive=True)
    static, dynamic = (sympy.sympify(bert[k], locals={"N": n}) for k in ("static", "dynamic"))
    roots = [float(r) for r in sympy.solve(sympy.Eq(static, dynamic), n)]
    assert bert["crossover"] == pytest.approx(min(roots)) and bert["crossover"] > 512
    assert bert["reason"].startswith("beyond the longest sequence the model takes (512 tokens)")

    vit = crossover_of(build_hf_model("vit", shrink="widths"), "vit", 300)
    assert vit["crossover"] is None
    assert vit["reason"].startswith("no sequence axis (inputs: pixel_values [1, 3,"), vit
