"""Inputs synthesised from a transformers model's forward signature and config.

The oracle is the model itself: every synthesised plan that build_hf_model keeps must
run through the real model's forward, eagerly, on the CPU."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.errors import SpecError
from analyzer.frontend.hf_inputs import INPUTS, InputContext, _token_high, bounding_boxes
from analyzer.frontend.hf_plans import did_you_mean, input_plans, named_inputs

transformers = pytest.importorskip("transformers")


def tiny_bert() -> torch.nn.Module:
    config = transformers.BertConfig(
        num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=32,
        vocab_size=100,
    )  # fmt: skip
    return transformers.BertModel(config).eval()


@given(batch=st.integers(1, 4), seq_len=st.integers(1, 40))
@settings(max_examples=20, deadline=None)
def test_token_ids_take_the_sizes_asked_for_and_stay_in_the_vocabulary(
    batch: int, seq_len: int
) -> None:
    model = tiny_bert()
    plan = input_plans(model, batch=batch, seq_len=seq_len)[0]
    ids = plan.inputs["input_ids"]
    assert ids.shape == (batch, seq_len) and ids.dtype == torch.long
    assert 0 <= int(ids.min()) and int(ids.max()) < model.config.vocab_size
    model(**plan.inputs)  # the oracle: the model takes them


def test_placeholder_ids_are_never_drawn() -> None:
    """A random id equal to the image token would ask for image features never given."""
    config = transformers.LlavaConfig()
    config.text_config.vocab_size = 40000  # the placeholder 32000 inside the vocabulary
    bound = _token_high(InputContext(None, config, {}), config.text_config)
    assert bound == config.image_token_id == 32000


@given(st.integers(1, 3), st.integers(1, 64))
@settings(max_examples=30, deadline=None)
def test_bounding_boxes_are_ordered(batch: int, seq_len: int) -> None:
    boxes = bounding_boxes(InputContext(None, None, {}, batch=batch, seq_len=seq_len))
    assert boxes.shape == (batch, seq_len, 4)
    assert bool((boxes[..., 0] <= boxes[..., 2]).all() and (boxes[..., 1] <= boxes[..., 3]).all())
    assert int(boxes.min()) >= 0 and int(boxes.max()) <= 1000


def test_flattened_patches_match_their_grid() -> None:
    """Qwen-VL-style vision towers: rows of pixel_values = t·h·w of image_grid_thw."""
    config = transformers.AutoConfig.for_model("qwen2_vl")
    with torch.device("meta"):
        model = transformers.Qwen2VLModel(config)
    plan = input_plans(model, device="cpu")[0]
    grid, vision = plan.inputs["image_grid_thw"], config.vision_config
    assert plan.inputs["pixel_values"].shape == (
        int(grid.prod(dim=1).sum()),
        vision.in_channels * vision.temporal_patch_size * vision.patch_size**2,
    )
    assert grid[0, 1] % vision.spatial_merge_size == 0  # the merger pools 2×2 patches


def test_every_required_argument_is_filled_or_named() -> None:
    class NeedsAThing(torch.nn.Module):
        def forward(self, input_ids: torch.Tensor, thing: torch.Tensor) -> torch.Tensor:
            return input_ids * thing

    with pytest.raises(SpecError, match=r"required input 'thing'.*--input 'thing="):
        input_plans(NeedsAThing())
    plan = input_plans(NeedsAThing(), overrides={"thing": torch.ones(1, 16)})[0]
    assert set(plan.inputs) == {"input_ids", "thing"}


def test_an_override_replaces_the_named_input_or_is_refused() -> None:
    model = tiny_bert()
    ids = torch.zeros(2, 5, dtype=torch.long)
    plan = input_plans(model, overrides={"input_ids": ids})[0]
    assert plan.inputs["input_ids"] is ids
    with pytest.raises(SpecError, match=r"no argument 'input_id'.*did you mean 'input_ids'"):
        input_plans(model, overrides={"input_id": ids})


def test_named_inputs_must_name_their_argument() -> None:
    assert named_inputs(["pixel_values=float32[1,3,32,32]"]) == {
        "pixel_values": "float32[1,3,32,32]"
    }
    with pytest.raises(SpecError, match="name the forward argument"):
        named_inputs(["int64[1,16]<100"])
    with pytest.raises(SpecError, match="given twice"):
        named_inputs(["a=float32[1]", "a=float32[2]"])


@pytest.mark.parametrize("bad", [{"batch": 0}, {"seq_len": -1}, {"image_size": 0}])
def test_sizes_must_be_positive(bad: dict) -> None:
    with pytest.raises(SpecError, match="must be a positive integer"):
        input_plans(tiny_bert(), **bad)


def test_the_table_is_data() -> None:
    """One line per argument name: a builder and when to fill it."""
    assert all(callable(builder) and when in ("always", "required")
               for builder, when in INPUTS.values())  # fmt: skip
    for name in ("input_ids", "pixel_values", "input_features", "input_values", "bbox",
                 "past_values", "decoder_input_ids", "image_grid_thw"):  # fmt: skip
        assert INPUTS[name][1] == "always"


def test_did_you_mean() -> None:
    assert did_you_mean("lama", ["llama", "gpt2"]) == "; did you mean 'llama'?"
    assert "it takes" in did_you_mean("zzz", ["llama", "gpt2"])


# The oracle for the builders: each kept plan runs through the real model's forward on
# the CPU (tiny configs: one type per input family of the table).
FAMILIES = {
    "clip": {},  # two towers: ids and pixels
    "layoutlm": {},  # boxes per token
    "whisper": {},  # mel features of a fixed length, and decoder ids
    "wav2vec2": {},  # raw waveform
    "audio-spectrogram-transformer": {},  # a spectrogram called input_values
    "patchtst": {},  # time series
    "informer": {"prediction_length": 4},  # time series with time features, seq2seq
    "decision_transformer": {},  # trajectories
    "llava": {},  # image placeholder tokens spliced into the text
    "videomae": {},  # video frames
    "granite_speech5_encoder": {},  # features as wide as the first layer: mels × 4
    "fun_asr_nano_encoder": {},  # stacked low-frame-rate features: mels × 7
    "voxtral_realtime": {},  # audio frames added token by token to the text
    "gemma4_audio": {},  # no width in the config: the common 128-bin mel bank
    "blip-2": {},  # one placeholder per Q-Former query
}


@pytest.mark.parametrize("model_type", sorted(FAMILIES))
def test_synthesised_inputs_run_through_the_real_model(model_type: str) -> None:
    from analyzer.frontend.hf import build_hf_model

    built = build_hf_model(model_type, FAMILIES[model_type], "cpu", shrink="widths", seq_len=8)
    assert built.device == "cpu"
    with torch.no_grad():
        built.module(**built.inputs)  # the oracle: the real forward accepts them
    assert not any("analysed without" in w for w in built.warnings)


def test_image_placeholders_match_the_features_of_a_patch_grid() -> None:
    """Qwen2-VL on the CPU: a 4×4 grid merged 2×2 gives 4 features, so 4 placeholder
    tokens (typed as image tokens) lead the text, and the real forward accepts them."""
    from analyzer.frontend.hf import build_hf_model

    text = {"hidden_size": 64, "intermediate_size": 64, "num_hidden_layers": 1,
            "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 160000,
            "rope_parameters": {"rope_type": "default", "mrope_section": [4, 6, 6],
                                "rope_theta": 10000.0}}  # fmt: skip
    vision = {"depth": 1, "embed_dim": 32, "num_heads": 2, "hidden_size": 64}
    built = build_hf_model("qwen2_vl", {"text_config": text, "vision_config": vision}, "cpu")
    ids = built.inputs["input_ids"]
    image = ids == built.module.config.image_token_id
    assert int(image.sum()) == 4 and bool(image[0, :4].all())
    assert built.inputs["mm_token_type_ids"][0].tolist()[:5] == [1, 1, 1, 1, 0]
    with torch.no_grad():
        built.module(**built.inputs)


def test_q_former_models_get_one_placeholder_per_query() -> None:
    """BLIP-2 splices its 32 query outputs into the text: 32 placeholders lead the text
    (not the one pooled vector its get_image_features gives), so every query is used."""
    from analyzer.frontend.hf import build_hf_model

    built = build_hf_model("blip-2", {}, "cpu", shrink="widths", seq_len=8)
    config = built.module.config
    placeholders = built.inputs["input_ids"] == config.image_token_index
    assert int(placeholders.sum()) == config.num_query_tokens == 32
    assert bool(placeholders[0, :32].all())


def test_segmentation_prompts_are_stacked_on_the_image() -> None:
    """SegGPT concatenates the prompt above the image along the height, and its config's
    image size is the pair's: each image is half as high (the model refuses the rest)."""
    import inspect

    from analyzer.frontend.hf_vision_inputs import pixel_values

    config = transformers.SegGptConfig()
    parameter = inspect.Parameter("prompt_pixel_values", inspect.Parameter.KEYWORD_ONLY)
    ctx = InputContext(None, config, {"prompt_pixel_values": parameter})
    (image,) = pixel_values(ctx)
    assert tuple(image.shape) == (1, 3, config.image_size[0] // 2, config.image_size[1])


@pytest.mark.parametrize(
    ("model_type", "name", "vocabulary"),
    [
        # InstructBLIP's Q-Former embeds its prompt with a BERT's 30522 ids, not the
        # language model's 50272 (the real model indexed out of range)
        ("instructblipvideo", "qformer_input_ids", lambda c: c.qformer_config.vocab_size),
        # Dia's encoder reads 256 bytes; its decoder's 1028 audio codes are another table
        ("dia", "input_ids", lambda c: c.encoder_config.vocab_size),
    ],
)
def test_token_ids_stay_below_the_vocabulary_that_embeds_them(
    model_type: str, name: str, vocabulary
) -> None:
    from analyzer.empirical.validate import _materialised
    from analyzer.frontend.hf import build_hf_model, inputs_on
    from analyzer.frontend.runs import check_forward_runs

    built = build_hf_model(model_type, shrink="widths", seq_len=16)
    inputs = inputs_on(built.module, built.inputs, "cpu")
    assert int(inputs[name].max()) < vocabulary(built.module.config)
    check_forward_runs(_materialised(built.module, "cpu"), (), inputs, model_type)  # the oracle
