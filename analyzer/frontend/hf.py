"""Build any transformers architecture from its config, with random weights.

``hf:llama --config num_hidden_layers=2`` becomes ``AutoConfig.for_model("llama",
num_hidden_layers=2)`` and ``AutoModel.from_config``; inputs are synthesised from the
model's own ``main_input_name`` and config (token ids below ``vocab_size``, pixel values
of ``image_size``, …). Nothing is downloaded. transformers is imported lazily.
"""

from __future__ import annotations

from typing import Any

import torch

from analyzer.errors import SpecError, TraceError, did_you_mean

SEQUENCE_LENGTH = 16
FAMILIAR = ("llama", "gpt2", "bert", "t5", "mistral", "qwen2", "vit", "whisper")  # for messages


def build_hf_model(
    model_type: str, overrides: dict[str, Any], device: str | torch.device
) -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
    """The base model of ``model_type`` with ``overrides`` applied, and its inputs.

    Raises :class:`SpecError` for an unknown type or a config key the type lacks.
    """
    try:
        import transformers
    except ImportError as error:
        raise SpecError(
            "hf: models need the transformers package: pip install 'analyzer[transformers]'"
        ) from error
    from transformers import AutoConfig, AutoModel

    try:
        defaults = AutoConfig.for_model(model_type)
    except (ValueError, KeyError):
        known = sorted(transformers.CONFIG_MAPPING.keys())
        examples = [name for name in FAMILIAR if name in known]
        raise SpecError(
            f"unknown hf: model type {model_type!r}{did_you_mean(model_type, known)}: give the "
            f"model_type field of a config.json, e.g. {', '.join(examples)} (transformers "
            f"knows {len(known)})"
        ) from None
    unknown = sorted(key for key in overrides if not hasattr(defaults, key))
    if unknown:
        fields = [k for k in defaults.to_dict() if not k.startswith("_")]
        raise SpecError(
            f"--config {unknown[0]}=…: the {model_type} config has no field {unknown[0]!r}"
            + did_you_mean(unknown[0], fields)
        )
    for key, value in overrides.items():
        _check_type(model_type, key, value, getattr(defaults, key))
    try:
        config = AutoConfig.for_model(model_type, **overrides)
    except Exception as error:  # the config's own validation: a value it refuses
        reason = str(error).strip().splitlines()[-1].strip()
        raise SpecError(f"--config for hf:{model_type} refused: {reason}") from error
    if hasattr(config, "use_cache"):
        config.use_cache = False  # no cache objects in the traced outputs
    try:
        with torch.device(device):
            model = AutoModel.from_config(config)
    except Exception as error:
        raise TraceError(
            f"building hf:{model_type} from its config raised {type(error).__name__}: {error}"
        ) from error
    model.eval()
    return model, synthesize_inputs(model, config, device)


def _check_type(model_type: str, key: str, value: Any, default: Any) -> None:
    """A value of the wrong type for its field (``num_hidden_layers=abc``) is bad input."""
    if default is None or value is None:
        return  # the field takes several types; the config checks it
    expected = type(default)
    fits = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        fits = True
    if not fits:
        raise SpecError(
            f"--config {key}={value!r}: the {model_type} config's {key} must be "
            f"{expected.__name__} (its default is {default!r}), not {type(value).__name__}"
        )


def synthesize_inputs(
    model: torch.nn.Module, config: Any, device: str | torch.device
) -> dict[str, torch.Tensor]:
    """Example inputs for the model's main input name, shaped by its config."""
    main = getattr(model, "main_input_name", "input_ids")
    inputs: dict[str, torch.Tensor] = {}
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    if main == "input_ids":
        vocab = int(getattr(text_config, "vocab_size", 1000) or 1000)
        inputs[main] = torch.randint(0, vocab, (1, SEQUENCE_LENGTH), device=device)
    elif main == "pixel_values":
        vision = getattr(config, "vision_config", config)
        size = getattr(vision, "image_size", 224)
        size = size if isinstance(size, int) else int(size[0])
        channels = int(getattr(vision, "num_channels", 3))
        inputs[main] = torch.randn(1, channels, size, size, device=device)
    elif main == "input_features":
        bins = int(getattr(config, "num_mel_bins", 80))
        frames = 2 * int(getattr(config, "max_source_positions", 1500))
        inputs[main] = torch.randn(1, bins, frames, device=device)
    elif main == "input_values":
        inputs[main] = torch.randn(1, 16000, device=device)
    else:
        raise SpecError(
            f"cannot synthesise inputs for main input {main!r} of {type(model).__name__}; "
            "write a factory FILE.py:NAME that returns (module, example_args) instead"
        )
    if getattr(config, "is_encoder_decoder", False):
        vocab = int(getattr(text_config, "vocab_size", 1000) or 1000)
        inputs["decoder_input_ids"] = torch.randint(0, vocab, (1, SEQUENCE_LENGTH), device=device)
    return inputs
