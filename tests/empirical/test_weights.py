"""Random weights for a model built on the meta device: each module initialised by the
model that holds it, as transformers itself dispatches (the oracle: the real model runs)."""

from __future__ import annotations

import pytest
import torch

from analyzer.empirical.weights import initialising_models, random_model_weights

transformers = pytest.importorskip("transformers")


def test_a_composite_model_initialises_each_tower_with_its_own_config() -> None:
    # Aimv2's towers read initializer_range from their own configs, which the composite
    # config lacks: the root's initialiser failed there (validate: "not checked")
    from analyzer.frontend.hf import build_hf_model

    built = build_hf_model("aimv2", shrink="widths", seq_len=8)
    model = built.module
    owners = initialising_models(model)
    assert owners[model.vision_model] is model.vision_model
    assert owners[model] is model
    random_model_weights(model, torch.device("cpu"))
    assert not any(t.is_meta for t in [*model.parameters(), *model.buffers()])
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())
