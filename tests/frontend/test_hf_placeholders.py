"""Placeholder tokens of the models that splice an image or audio into their text.

The oracle is the real shrunk model: built on the meta device as the census builds it,
given random weights on the CPU and run eagerly on the inputs the census traced (its own
check compares the placeholder count with the features)."""

from __future__ import annotations

import pytest
import torch

from analyzer.frontend.hf_placeholders import feature_count

transformers = pytest.importorskip("transformers")


def runs_for_real(model_type: str) -> dict[str, torch.Tensor]:
    """Build ``model_type`` as the census does, remake its inputs on the cpu as validate
    does, run a copy with random weights on them (raising the model's own error), and
    return those inputs."""
    from analyzer.empirical.validate import _materialised
    from analyzer.frontend.hf import build_hf_model, inputs_on
    from analyzer.frontend.runs import check_forward_runs

    built = build_hf_model(model_type, shrink="widths", seq_len=16)
    assert built.device == "meta"
    inputs = inputs_on(built.module, built.inputs, "cpu")
    check_forward_runs(_materialised(built.module, "cpu"), (), inputs, f"hf:{model_type}")
    return inputs


def test_an_audio_model_gets_as_many_audio_tokens_as_its_tower_yields_features() -> None:
    # GLM-ASR keeps the tower's rows its mask marks valid (a boolean index, which the
    # meta device cannot run): before, it was given no audio token and failed
    inputs = runs_for_real("glmasr")
    config = transformers.AutoConfig.for_model("glmasr")
    assert int((inputs["input_ids"] == config.audio_token_id).sum()) > 0


def test_inputs_remade_on_the_cpu_keep_the_image_placeholders() -> None:
    # validate remakes a meta model's inputs on the cpu: the image features are counted
    # on the meta device as the build counted them (before: a plan of the same length
    # with no placeholder was taken, and Video-LLaVA's real model failed)
    inputs = runs_for_real("video_llava")
    config = transformers.AutoConfig.for_model("video_llava")
    assert int((inputs["input_ids"] == config.image_token_index).sum()) > 0


def test_a_count_chosen_by_values_is_its_upper_bound() -> None:
    def valid_rows(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return features[mask.bool()]

    arguments = {"features": torch.empty(2, 5, 3, device="meta"),
                 "mask": torch.empty(2, 5, device="meta")}  # fmt: skip
    assert feature_count(valid_rows, arguments) == 10
    real = {"features": torch.ones(2, 5, 3), "mask": torch.tensor([[1, 1, 0, 0, 0]] * 2)}
    assert feature_count(valid_rows, real) == 4  # real values: the rows they keep
