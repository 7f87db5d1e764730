"""The reference zoo: the analysis holds to every documented verdict."""

from __future__ import annotations

import pytest
import torch

from analyzer.analysis import analyze
from analyzer.frontend.zoo import ZOO, build_zoo_model


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_verdict(name: str) -> None:
    module, args = build_zoo_model(name)
    result = analyze(module, args, model=f"zoo:{name}")
    verdict = ZOO[name].verdict
    assert tuple(result.circuit_class) == verdict.circuit_class
    assert tuple(sorted({s.kind for s in result.sites})) == verdict.site_kinds
    assert result.degree == verdict.degree
    assert result.unknown_ops == []


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_models_run_and_trace_on_meta(name: str) -> None:
    with torch.device("meta"):
        module, args = build_zoo_model(name)
    result = analyze(module, args)
    assert result.circuit_class == list(ZOO[name].verdict.circuit_class)


def test_piecewise_affine_models_say_so() -> None:
    for name in ("mlp", "convnet"):
        document = analyze(*build_zoo_model(name)).to_json()
        assert document["piecewise_affine"] is True and document["piecewise"] is True


def test_layout_transpose_does_not_make_weights_dynamic() -> None:
    result = analyze(*build_zoo_model("mlp_mixer"))
    assert result.transposes and not any(t.feeds_contraction for t in result.transposes)
    assert "transpose" not in result.circuit_class


def test_attention_transposes_feed_contractions() -> None:
    result = analyze(*build_zoo_model("linear_attention"))
    assert [t.feeds_contraction for t in result.transposes] == [True]
    contraction = [s for s in result.sites if s.kind == "contraction"]
    assert len(contraction) == 2  # kᵀ·v and q·(kᵀ·v)


def test_unknown_zoo_name_lists_the_zoo() -> None:
    from analyzer.errors import SpecError

    with pytest.raises(SpecError, match="mlp"):
        build_zoo_model("nope")
