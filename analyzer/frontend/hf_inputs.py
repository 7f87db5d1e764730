"""Example inputs for any transformers model: one builder per forward-argument name.

The table :data:`INPUTS` is data, one line per argument name that transformers models use
(``input_ids``, ``pixel_values``, ``bbox``, ``past_values``, …), each with a builder that
reads its sizes from the model's config: token ids below ``vocab_size``, images of
``image_size`` with ``num_channels``, audio of the feature extractor's shape, time series
of ``context_length`` plus the lags. :mod:`analyzer.frontend.hf_plans` reads a model's
``forward`` signature and fills it from this table.

The builders of text (ids, masks, boxes) and of embeddings are here; those of images and
video are in :mod:`analyzer.frontend.hf_vision_inputs`, of audio in
:mod:`analyzer.frontend.hf_audio_inputs`, of time series in
:mod:`analyzer.frontend.hf_series_inputs`; what they all read is
:class:`~analyzer.frontend.hf_input_context.InputContext`.

Where a shape cannot be read off the config (audio features are ``(batch, bins, frames)``
in some models and ``(batch, frames, bins)`` in others), a builder gives candidates and
the caller keeps the first plan the model's forward accepts.

>>> from transformers import ViTConfig
>>> context = InputContext(None, ViTConfig(image_size=32), {})
>>> [tuple(image.shape) for image in pixel_values(context)][:2]
[(1, 3, 32, 32), (1, 1, 3, 32, 32)]
"""

from __future__ import annotations

from typing import Any

import torch

from analyzer.frontend.hf_audio_inputs import audio_features, audio_values, frames_mask
from analyzer.frontend.hf_input_context import (
    SEQUENCE_LENGTH,
    Builder,
    InputContext,
    all_configs,
    hidden_width,
    int_of,
    is_int,
)
from analyzer.frontend.hf_series_inputs import (
    future_values,
    history_length,
    observed_mask,
    past_values,
    static_categorical,
    static_real,
    time_features,
    trajectory,
)
from analyzer.frontend.hf_vision_inputs import (
    flattened_patches,
    flattens_patches,
    grid_thw,
    image_sizes,
    merge_sizes,
    patch_counts,
    patch_layout,
    patch_mask,
    pixel_mask,
    pixel_values,
    resized_positions,
    video_values,
    visual_features,
    visual_positions,
)

__all__ = [  # the table, and the context its builders read (imported from here before)
    "INPUTS",
    "SEQUENCE_LENGTH",
    "Builder",
    "InputContext",
    "all_configs",
    "pixel_values",
]

_SPECIAL_TOKEN_NAMES = {"pad", "bos", "eos", "unk", "sep", "cls", "mask", "decoder_start"}


def _token_high(ctx: InputContext, config: Any) -> int:
    """Ids are drawn below the vocabulary and below every multimodal placeholder id
    (image, video, audio tokens), which would otherwise ask for features never given."""
    vocab = int_of(getattr(config, "vocab_size", None), 1000)
    high = vocab
    for holder in (ctx.config, config):
        for name in dir(holder):
            if not (name.endswith("_token_id") or name.endswith("_token_index")):
                continue
            if name.rsplit("_token", 1)[0] in _SPECIAL_TOKEN_NAMES:
                continue
            found = getattr(holder, name, None)
            if isinstance(found, int) and 8 <= found < high:
                high = found
    return max(high, 2)


def token_ids(ctx: InputContext) -> torch.Tensor:
    """Text ids ``(batch, tokens)`` below the text config's vocabulary; where the top
    config holds an encoder's config with a vocabulary of its own, below that one (Dia
    encodes 256 bytes and decodes 1028 audio codes)."""
    config = ctx.text()
    encoder = getattr(ctx.config, "encoder_config", None)
    if is_int(getattr(encoder, "vocab_size", None)):
        config = encoder
    return torch.randint(0, _token_high(ctx, config), (ctx.batch, ctx.seq_len))


def qformer_token_ids(ctx: InputContext) -> torch.Tensor:
    """The Q-Former's prompt (InstructBLIP): ids below the Q-Former's own vocabulary (a
    BERT's 30522), not the language model's (50272), which its embedding would not hold."""
    qformer = getattr(ctx.config, "qformer_config", None)
    config = qformer if qformer is not None else ctx.text()
    return torch.randint(0, _token_high(ctx, config), (ctx.batch, ctx.seq_len))


def decoder_token_ids(ctx: InputContext) -> list[torch.Tensor]:
    """Decoder ids ``(batch, tokens)``, or one id per codebook channel for audio decoders
    ``(batch, tokens, channels)``."""
    config = ctx.text(decoder=True)
    high = _token_high(ctx, config)
    ids = [torch.randint(0, high, (ctx.batch, ctx.seq_len))]
    channels = ctx.value("num_channels num_codebooks", config, ctx.config)
    if is_int(channels) and channels > 1:
        ids.append(torch.randint(0, high, (ctx.batch, ctx.seq_len, channels)))
    return ids


def _like(name: str, fill: int, dtype: torch.dtype = torch.long) -> Builder:
    """A tensor shaped like the already-built ``name`` (ids), filled with ``fill``."""

    def build(ctx: InputContext) -> torch.Tensor | None:
        ids = ctx.built.get(name)
        if not isinstance(ids, torch.Tensor):
            return torch.full((ctx.batch, ctx.seq_len), fill, dtype=dtype)
        return torch.full(tuple(ids.shape[:2]), fill, dtype=dtype)

    return build


def bounding_boxes(ctx: InputContext) -> torch.Tensor:
    """``(x0, y0, x1, y1)`` per token with ``x0 ≤ x1`` and ``y0 ≤ y1``, in LayoutLM's 0–1000."""
    corners = torch.randint(0, 500, (ctx.batch, ctx.seq_len, 2))
    return torch.cat([corners, corners + torch.randint(0, 500, corners.shape)], dim=-1)


def embeddings(ctx: InputContext) -> torch.Tensor | list[torch.Tensor]:
    """Already embedded inputs ``(batch, tokens, hidden)`` or channels first; flattened
    patches for vision towers that take a patch grid; a waveform for audio tokenizers."""
    if flattens_patches(ctx):
        return flattened_patches(ctx)
    states = torch.randn(ctx.batch, ctx.seq_len, hidden_width(ctx))
    return [states, states.transpose(1, 2).contiguous(), torch.randn(ctx.batch, 1, 16000)]


def _languages(ctx: InputContext) -> torch.Tensor | None:
    languages = ctx.value("languages")
    return torch.zeros(ctx.batch, dtype=torch.long) if languages else None


def query_embeddings(ctx: InputContext) -> torch.Tensor:
    """Learned queries of a Q-Former: ``(batch, queries, hidden)``."""
    queries = int_of(ctx.value("num_query_tokens"), 32)
    return torch.randn(ctx.batch, queries, hidden_width(ctx))


def encoder_states(ctx: InputContext) -> torch.Tensor | None:
    """What a Q-Former cross-attends to: ``(batch, tokens, encoder_hidden_size)``; other
    models take ``encoder_hidden_states`` only as an option they do not need."""
    width = getattr(ctx.config, "encoder_hidden_size", None)
    if not is_int(width) or not ctx.accepts("query_embeds"):
        return None
    return torch.randn(ctx.batch, ctx.seq_len, width)


def latents(ctx: InputContext) -> list[torch.Tensor]:
    """Latent frames of a codec decoder: ``(batch, width, frames)`` or transposed."""
    width = int_of(ctx.value("hidden_size codebook_dim d_model"), 64)
    frames = torch.randn(ctx.batch, width, ctx.seq_len)
    return [frames, frames.transpose(1, 2).contiguous()]


# --- the table: forward-argument name → (builder, when to fill) ----------------------
# "always": filled whenever the forward takes the name (the builder may still decline
# with None); "required": only when the forward has no default for it. Order matters:
# later builders read earlier inputs (a mask is shaped like its ids).
INPUTS: dict[str, tuple[Builder, str]] = {
    "input_ids": (token_ids, "always"),  # ids below vocab_size and the placeholder ids
    "pixel_values": (pixel_values, "always"),  # (b, C, H, W); videos 5-D; flattened patches
    "hidden_states": (embeddings, "required"),  # vision towers fed patches, or embeddings
    "image_grid_thw": (grid_thw, "always"),  # one (t, h, w) grid per image
    "grid_thw": (grid_thw, "always"),
    "image_sizes": (image_sizes, "always"),  # (height, width) per image
    "spatial_shapes": (patch_layout, "always"),  # patch rows and columns (Siglip2)
    "target_sizes": (patch_counts, "always"),  # MiniCPM-V: patches per side
    "merge_sizes": (merge_sizes, "always"),
    "pixel_attention_mask": (patch_mask, "always"),
    "pixel_values_videos": (video_values, "always"),  # video-only models
    "prompt_pixel_values": (lambda ctx: pixel_values(ctx)[0], "required"),  # SegGPT: half high
    "prompt_masks": (lambda ctx: pixel_values(ctx)[0], "required"),
    "visual_feats": (visual_features, "always"),  # detector regions (LXMERT)
    "visual_pos": (visual_positions, "always"),
    "interpolate_pos_encoding": (resized_positions, "always"),  # True when --image-size differs
    "input_features": (audio_features, "always"),  # spectrogram frames × bins
    "input_values": (audio_values, "always"),  # raw waveform
    "audio_mel": (audio_features, "always"),
    "input_features_mask": (frames_mask("input_features"), "always"),
    "audio_mel_mask": (frames_mask("audio_mel"), "always"),
    "query_embeds": (query_embeddings, "required"),
    "encoder_hidden_states": (encoder_states, "always"),
    "latents": (latents, "required"),
    "past_values": (past_values, "always"),  # context + lags, channels
    "past_time_features": (time_features(past=True), "always"),
    "past_observed_mask": (observed_mask, "always"),
    "observed_mask": (observed_mask, "always"),
    "static_categorical_features": (static_categorical, "always"),
    "static_real_features": (static_real, "always"),
    "future_values": (future_values, "always"),  # decoder input of seq2seq forecasters
    "future_time_features": (time_features(past=False), "always"),
    "past_values_padding": (lambda ctx: torch.zeros(ctx.batch, history_length(ctx)), "always"),
    "freq": (lambda ctx: torch.zeros(ctx.batch, 1, dtype=torch.long), "always"),
    "bbox": (bounding_boxes, "always"),  # LayoutLM boxes per token
    "decoder_input_ids": (decoder_token_ids, "always"),
    "qformer_input_ids": (qformer_token_ids, "always"),
    "task_inputs": (token_ids, "required"),  # OneFormer's task prompt
    "lang_ids": (_languages, "always"),  # X-MOD's language adapters
    "states": (trajectory("state_dim", 4), "always"),  # decision transformer trajectories
    "actions": (trajectory("act_dim", 2), "always"),
    "rewards": (trajectory("", 1), "always"),
    "returns_to_go": (trajectory("", 1), "always"),
    "timesteps": (trajectory("", 1, integer_below="max_ep_len"), "always"),
    "inputs": (embeddings, "required"),  # Perceiver without a preprocessor
    "inputs_embeds": (embeddings, "required"),
    "attention_mask": (_like("input_ids", 1), "required"),
    "token_type_ids": (_like("input_ids", 0), "required"),
    "mm_token_type_ids": (_like("input_ids", 0), "always"),  # 0 text, 1 image (placed below)
    "decoder_attention_mask": (_like("decoder_input_ids", 1), "required"),
    "qformer_attention_mask": (_like("qformer_input_ids", 1), "required"),
    "pixel_mask": (pixel_mask, "required"),
    "position_ids": (
        lambda ctx: torch.arange(ctx.seq_len).expand(ctx.batch, ctx.seq_len),
        "required",
    ),
}
"""Forward-argument name → (builder, ``"always"`` or ``"required"``)."""
