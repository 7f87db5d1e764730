"""Example inputs for any transformers model: one builder per forward-argument name.

The table :data:`INPUTS` is data, one line per argument name that transformers models use
(``input_ids``, ``pixel_values``, ``bbox``, ``past_values``, …), each with a builder that
reads its sizes from the model's config: token ids below ``vocab_size``, images of
``image_size`` with ``num_channels``, audio of the feature extractor's shape, time series
of ``context_length`` plus the lags. :mod:`analyzer.frontend.hf_plans` reads a model's
``forward`` signature and fills it from this table.

Where a shape cannot be read off the config (audio features are ``(batch, bins, frames)``
in some models and ``(batch, frames, bins)`` in others), a builder gives candidates and
the caller keeps the first plan the model's forward accepts.

>>> from transformers import ViTConfig
>>> context = InputContext(None, ViTConfig(image_size=32), {})
>>> [tuple(image.shape) for image in pixel_values(context)][:2]
[(1, 3, 32, 32), (1, 1, 3, 32, 32)]
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

SEQUENCE_LENGTH = 16
"""Default number of tokens (and time steps) of a synthesised input."""

_SPECIAL_TOKEN_NAMES = {"pad", "bos", "eos", "unk", "sep", "cls", "mask", "decoder_start"}


@dataclass
class InputContext:
    """What a builder may read: the model, its config, the sizes asked for, and the
    inputs built so far (a mask is shaped like the ids it masks)."""

    model: nn.Module
    config: Any
    parameters: dict[str, inspect.Parameter]
    batch: int = 1
    seq_len: int = SEQUENCE_LENGTH
    image_size: int | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    built: dict[str, Any] = field(default_factory=dict)

    def configs(self, *names: str) -> list[Any]:
        """The sub-configs called ``names`` that exist, then the top config."""
        found = [getattr(self.config, n, None) for n in names]
        return [c for c in found if _is_config(c)] + [self.config]

    def text(self, decoder: bool | None = None) -> Any:
        try:
            return self.config.get_text_config(decoder=decoder)
        except (AttributeError, ValueError):  # several text configs: take the top one
            return self.config

    def vision(self) -> Any:
        return self.configs("vision_config", "vision_encoder_config", "backbone_config")[0]

    def audio(self) -> Any:
        return self.configs("audio_config", "encoder_config", "speech_config")[0]

    def accepts(self, name: str) -> bool:
        return name in self.parameters

    def value(self, names: str, *configs: Any, default: Any = None) -> Any:
        """The first of the space-separated field ``names`` set in ``configs`` (default:
        the top config, then its sub-configs, breadth first)."""
        for config in configs or all_configs(self.config):
            for name in names.split():
                found = getattr(config, name, None)
                if found is not None and not callable(found):
                    return found
        return default

    def values(self, names: str) -> list[Any]:
        """Every distinct value of the fields ``names`` across all configs, in order."""
        found: list[Any] = []
        for config in all_configs(self.config):
            for name in names.split():
                value = getattr(config, name, None)
                if value is not None and not callable(value) and value not in found:
                    found.append(value)
        return found


def _is_config(value: Any) -> bool:
    return value is not None and hasattr(value, "to_dict") and hasattr(value, "model_type")


def all_configs(config: Any) -> list[Any]:
    """``config`` and its sub-configs (vision, text, audio, backbone, …), breadth first."""
    found, queue = [], [config]
    while queue:
        current = queue.pop(0)
        if not _is_config(current) or any(current is c for c in found):
            continue
        found.append(current)
        queue += [v for v in vars(current).values() if _is_config(v)]
    return found


Builder = Callable[[InputContext], Any]
"""Returns a tensor, a list of candidate tensors (``None`` among them: leave it out), a
plain value, or ``None`` (not applicable to this model: the argument is left out)."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: Any, default: int) -> int:
    if isinstance(value, (list, tuple)):
        value = value[0] if value else default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _token_high(ctx: InputContext, config: Any) -> int:
    """Ids are drawn below the vocabulary and below every multimodal placeholder id
    (image, video, audio tokens), which would otherwise ask for features never given."""
    vocab = _int(getattr(config, "vocab_size", None), 1000)
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
    config = ctx.text()
    return torch.randint(0, _token_high(ctx, config), (ctx.batch, ctx.seq_len))


def decoder_token_ids(ctx: InputContext) -> list[torch.Tensor]:
    """Decoder ids ``(batch, tokens)``, or one id per codebook channel for audio decoders
    ``(batch, tokens, channels)``."""
    config = ctx.text(decoder=True)
    high = _token_high(ctx, config)
    ids = [torch.randint(0, high, (ctx.batch, ctx.seq_len))]
    channels = ctx.value("num_channels num_codebooks", config, ctx.config)
    if _is_int(channels) and channels > 1:
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


def _image_size(ctx: InputContext) -> int:
    return _image_shape(ctx)[0]


def _image_shape(ctx: InputContext) -> tuple[int, int]:
    """``(height, width)``: ``--image-size``, else the config's (MGP-STR's is 32×128)."""
    if ctx.image_size is not None:
        return ctx.image_size, ctx.image_size
    size = ctx.value("image_size img_size", ctx.vision(), ctx.config)
    size = size if size is not None else ctx.value("image_size img_size max_img_size")
    if isinstance(size, (list, tuple)) and len(size) == 2 and all(_is_int(v) for v in size):
        return int(size[0]), int(size[1])
    side = _int(size, 224)
    return side, side


def _channels(ctx: InputContext) -> int:
    return _int(
        ctx.value("num_channels in_channels in_chans", ctx.vision(), ctx.config, default=3), 3
    )


def _patch_grid(ctx: InputContext) -> tuple[int, int, int, int]:
    """``(grid side, merge, patch, temporal patch)`` of a model fed flattened patches."""
    vision = ctx.vision()
    merge = _int(getattr(vision, "spatial_merge_size", None), 1)
    patch = _int(ctx.value("patch_size", vision), 14)
    temporal = _int(getattr(vision, "temporal_patch_size", None), 1)
    side = max(2, merge) * max(1, min(4, ctx.seq_len // 4 // max(1, merge)))
    return side, merge, patch, temporal


def _flattens_patches(ctx: InputContext) -> bool:
    return ctx.accepts("image_grid_thw") or ctx.accepts("grid_thw")


def _flattened_patches(ctx: InputContext) -> torch.Tensor:
    side, _, patch, temporal = _patch_grid(ctx)
    return torch.randn(ctx.batch * side * side, _channels(ctx) * temporal * patch * patch)


def pixel_values(ctx: InputContext) -> list[torch.Tensor]:
    """Images ``(batch, C, H, W)`` of the config's size; video models' frames first
    ``(batch, frames, C, H, W)``; flattened patches for towers fed a patch grid, patch
    sequences for those told the patch layout (``spatial_shapes``). Then the other
    layouts models use: one image per sample as a 5-D stack, image pairs (matchers), an
    image four times the size (models that cut an image into scaled crops)."""
    (height, width), channels = _image_shape(ctx), _channels(ctx)
    if ctx.accepts("prompt_pixel_values") and ctx.image_size is None:
        # SegGPT stacks the prompt above the image: the config's size is the pair's
        return [torch.randn(ctx.batch, channels, height // 2, width)]
    if _flattens_patches(ctx):
        patches = _flattened_patches(ctx)
        _, _, patch, temporal = _patch_grid(ctx)
        square = patches.reshape(patches.shape[0], channels * temporal, patch, patch)
        return [patches, square]
    image = torch.randn(ctx.batch, channels, height, width)
    layouts = [
        image,
        torch.randn(ctx.batch, 1, channels, height, width),
        torch.randn(ctx.batch, 2, channels, height, width),
    ]
    if 4 * max(height, width) <= 2048:  # a larger one costs too much where it fails
        layouts.append(torch.randn(ctx.batch, channels, 4 * height, 4 * width))
    if ctx.accepts("spatial_shapes"):  # Siglip2: a sequence of flattened patches
        patch = _int(ctx.value("patch_size", ctx.vision()), 16)
        count = (height // patch) * (width // patch)
        layouts.insert(0, torch.randn(ctx.batch, count, channels * patch * patch))
    frames = ctx.value("num_frames", ctx.vision(), ctx.config)
    if isinstance(frames, int) and frames > 1:  # video models take (batch, frames, C, H, W)
        video = torch.randn(ctx.batch, frames, channels, height, width)
        return [video, video.transpose(1, 2).contiguous(), *layouts]
    return layouts


def video_values(ctx: InputContext) -> list[torch.Tensor] | None:
    """Frames ``(batch, frames, C, H, W)`` for models that take only video (V-JEPA 2,
    VideoPrism); a model that takes images too is given the image."""
    if ctx.accepts("pixel_values") and "pixel_values_videos" not in _required(ctx):
        return None
    (height, width), channels = _image_shape(ctx), _channels(ctx)
    frames = _int(ctx.value("num_frames frames_per_clip", ctx.vision(), ctx.config), 8)
    video = torch.randn(ctx.batch, frames, channels, height, width)
    return [video, video.transpose(1, 2).contiguous()]


def _required(ctx: InputContext) -> set[str]:
    return {n for n, p in ctx.parameters.items() if p.default is inspect.Parameter.empty}


def patch_layout(ctx: InputContext) -> torch.Tensor | None:
    """``(rows, columns)`` of patches per image, for a patch sequence (Siglip2)."""
    pixels = ctx.built.get("pixel_values")
    if not isinstance(pixels, torch.Tensor) or pixels.dim() != 3:
        return None
    (height, width), patch = _image_shape(ctx), _int(ctx.value("patch_size", ctx.vision()), 16)
    return torch.tensor([[height // patch, width // patch]] * pixels.shape[0])


def patch_counts(ctx: InputContext) -> torch.Tensor | None:
    """Patches per side of each image (MiniCPM-V's ``target_sizes``)."""
    pixels = ctx.built.get("pixel_values")
    if not isinstance(pixels, torch.Tensor) or pixels.dim() != 4:
        return None
    patch = _int(ctx.value("patch_size", ctx.vision()), 14)
    return torch.tensor([[pixels.shape[-2] // patch, pixels.shape[-1] // patch]] * ctx.batch)


def merge_sizes(ctx: InputContext) -> torch.Tensor | None:
    """The merger's pooling per image, beside a patch grid (VideoLLaMA 3)."""
    if "grid_thw" not in ctx.built and "image_grid_thw" not in ctx.built:
        return None
    _, merge, *_ = _patch_grid(ctx)
    return torch.tensor([merge] * ctx.batch)


def patch_mask(ctx: InputContext) -> torch.Tensor | None:
    pixels = ctx.built.get("pixel_values")
    if not isinstance(pixels, torch.Tensor) or pixels.dim() != 3:
        return None
    return torch.ones(pixels.shape[:2], dtype=torch.long)


def visual_features(ctx: InputContext) -> torch.Tensor | None:
    """Region features of a detector (LXMERT): ``(batch, boxes, visual_feat_dim)``."""
    width = ctx.value("visual_feat_dim")
    return torch.randn(ctx.batch, ctx.seq_len, width) if _is_int(width) else None


def visual_positions(ctx: InputContext) -> torch.Tensor | None:
    width = ctx.value("visual_pos_dim")
    return torch.rand(ctx.batch, ctx.seq_len, width) if _is_int(width) else None


def grid_thw(ctx: InputContext) -> torch.Tensor | None:
    if "pixel_values" not in ctx.built and "hidden_states" not in ctx.built:
        return None
    side, *_ = _patch_grid(ctx)
    return torch.tensor([[1, side, side]] * ctx.batch)


def image_sizes(ctx: InputContext) -> list[torch.Tensor | None] | None:
    """``(height, width)`` per image, for the models that tile images (LLaVA-NeXT); the
    others take the argument but fail on it, so leaving it out is the alternative."""
    if "pixel_values" not in ctx.built:
        return None
    size = _image_size(ctx)
    return [torch.tensor([[size, size]] * ctx.batch), None]


def _resized(ctx: InputContext) -> bool | None:
    """Position embeddings are interpolated when the image size asked for is not the
    config's (a ViT trained at 224 analysed at 384)."""
    if ctx.image_size is None or "pixel_values" not in ctx.built:
        return None
    configured = ctx.value("image_size img_size", ctx.vision(), ctx.config)
    return True if _int(configured, ctx.image_size) != ctx.image_size else None


def pixel_mask(ctx: InputContext) -> torch.Tensor | None:
    pixels = ctx.built.get("pixel_values")
    if not isinstance(pixels, torch.Tensor) or pixels.dim() != 4:
        return None
    return torch.ones(pixels.shape[0], *pixels.shape[-2:], dtype=torch.long)


def bounding_boxes(ctx: InputContext) -> torch.Tensor:
    """``(x0, y0, x1, y1)`` per token with ``x0 ≤ x1`` and ``y0 ≤ y1``, in LayoutLM's 0–1000."""
    corners = torch.randint(0, 500, (ctx.batch, ctx.seq_len, 2))
    return torch.cat([corners, corners + torch.randint(0, 500, corners.shape)], dim=-1)


def _audio_bins(ctx: InputContext) -> list[int]:
    """Plausible feature widths of a spectrogram input, most specific first."""
    per_channel = ctx.value("input_feat_per_channel")
    channels = _int(ctx.value("input_channels"), 1)
    stacked = [per_channel * channels] if isinstance(per_channel, int) else []
    mel, frames = ctx.value("num_mel_bins"), ctx.value("num_stacked_frames")
    if _is_int(mel) and _is_int(frames):  # low-frame-rate stacking (FunASR): frames × mels
        stacked.append(mel * frames)
    widths = stacked + ctx.values(
        "feature_projection_input_dim num_mel_bins input_feat_size feature_size n_mels input_dim"
    )
    widths += [_entry_width(ctx.model), *_MEL_BANKS]
    return [w for w in dict.fromkeys(widths) if _is_int(w) and w > 1]


_MEL_BANKS = (80, 128)
"""The common mel filter-bank sizes: the last guesses where no config field names one."""


def _entry_width(model: nn.Module | None) -> int | None:
    """The input width of the model's first linear or 1-D convolution: the layer an audio
    encoder's features enter, where the config names only the mel count of a width the
    encoder derives from it (Granite Speech: mels × 2 deltas × 2 stacked frames)."""
    for module in model.modules() if isinstance(model, nn.Module) else ():
        if isinstance(module, nn.Linear):
            return module.in_features
        if isinstance(module, nn.Conv1d):
            return module.in_channels
    return None


def audio_features(ctx: InputContext) -> list[torch.Tensor]:
    """Spectrogram-like features: Whisper's fixed ``(batch, mel bins, 2·positions)`` where
    the config says so, else ``(batch, frames, bins)`` or ``(batch, bins, frames)`` for
    each plausible width."""
    frames, candidates = 100 * -(-8 * ctx.seq_len // 100), []  # whole windows of 100
    per_token = ctx.value("audio_length_per_tok")
    if _is_int(per_token):  # audio frames added to the text token by token (Voxtral Realtime)
        frames = per_token * ctx.seq_len
    positions = ctx.value("max_source_positions")
    mel = ctx.value("num_mel_bins")
    if _is_int(positions) and _is_int(mel):
        candidates.append(torch.randn(ctx.batch, mel, 2 * positions))
    for bins in _audio_bins(ctx):
        candidates += [torch.randn(ctx.batch, frames, bins), torch.randn(ctx.batch, bins, frames)]
    bins = _audio_bins(ctx)[0]  # one channel of a spectrogram image (CLAP's audio tower)
    return [*candidates, torch.randn(ctx.batch, 1, frames, bins)]


def audio_values(ctx: InputContext) -> list[torch.Tensor]:
    """Raw waveforms of 15360 samples (about a second at 16 kHz, a whole number of the
    hops codecs use: 320, 480, 512, 640, 960, 1024, 1920): ``(batch, samples)``,
    ``(batch, channels, samples)`` for codecs; a spectrogram of ``max_length`` frames
    where the config says so (the Audio Spectrogram Transformer calls its features
    ``input_values``); last, embedded frames ``(batch, tokens, hidden)`` for models whose
    speech encoder expects its pre-net's output (SpeechT5)."""
    samples = 15360
    channels = _int(ctx.value("audio_channels"), 1)
    waves = [torch.randn(ctx.batch, samples), torch.randn(ctx.batch, channels, samples)]
    if channels == 1:
        waves.append(torch.randn(ctx.batch, 1, samples))
    if ctx.value("audio_channels") is not None:
        waves.reverse()
    waves += [torch.randn(ctx.batch, 16000), torch.randn(ctx.batch, ctx.seq_len, _hidden(ctx))]
    length, mel = ctx.value("max_length"), ctx.value("num_mel_bins")
    if _is_int(length) and _is_int(mel):
        return [torch.randn(ctx.batch, length, mel), *waves]
    return waves


def frames_mask(features: str) -> Builder:
    """Ones over the frames of the already-built ``features`` (the axis that is not the
    feature width), for the masks audio encoders take beside their features."""

    def build(ctx: InputContext) -> list[torch.Tensor] | None:
        built = ctx.built.get(features)
        if not isinstance(built, torch.Tensor) or built.dim() != 3:
            return None
        bins = _audio_bins(ctx)
        axis = 2 if built.shape[1] in bins and built.shape[2] not in bins else 1
        if built.shape[1] not in bins and built.shape[2] not in bins:
            axis = 1
        ones = torch.ones(built.shape[0], built.shape[axis], dtype=torch.long)
        return [ones, ones.bool(), torch.zeros_like(ones, dtype=torch.bool)]

    return build


def _history(ctx: InputContext) -> int:
    lags = ctx.value("lags_sequence", ctx.config)
    context = _int(ctx.value("context_length", ctx.config), ctx.seq_len)
    return context + (max(lags) if isinstance(lags, (list, tuple)) and lags else 0)


def _series_channels(ctx: InputContext) -> tuple[int, ...]:
    channels = ctx.value("num_input_channels input_size", ctx.config)
    if channels is None or (getattr(ctx.config, "input_size", None) == 1 and channels == 1):
        return ()  # univariate series are (batch, time)
    return (_int(channels, 1),)


def past_values(ctx: InputContext) -> torch.Tensor:
    return torch.randn(ctx.batch, _history(ctx), *_series_channels(ctx))


def future_values(ctx: InputContext) -> torch.Tensor | None:
    if not getattr(ctx.config, "is_encoder_decoder", False):
        return None  # only a target for the loss
    horizon = _int(ctx.value("prediction_length", ctx.config), ctx.seq_len)
    return torch.randn(ctx.batch, horizon, *_series_channels(ctx))


def _time_features(past: bool) -> Builder:
    def build(ctx: InputContext) -> torch.Tensor | None:
        if not past and "future_values" not in ctx.built:
            return None
        width = _int(ctx.value("num_time_features", ctx.config), 1) + _int(
            ctx.value("num_dynamic_real_features", ctx.config), 0
        )
        length = (
            _history(ctx) if past else _int(ctx.value("prediction_length", ctx.config), ctx.seq_len)
        )
        return torch.randn(ctx.batch, length, width)

    return build


def observed_mask(ctx: InputContext) -> torch.Tensor:
    return torch.ones_like(ctx.built["past_values"]) if "past_values" in ctx.built else None


def static_categorical(ctx: InputContext) -> torch.Tensor | None:
    count = _int(ctx.value("num_static_categorical_features", ctx.config), 0)
    if count == 0:
        return None
    cardinality = ctx.value("cardinality", ctx.config, default=[2]) or [2]
    return torch.stack([torch.randint(0, int(c), (ctx.batch,)) for c in cardinality], dim=1)


def static_real(ctx: InputContext) -> torch.Tensor | None:
    count = _int(ctx.value("num_static_real_features", ctx.config), 0)
    return torch.randn(ctx.batch, count) if count else None


def _hidden(ctx: InputContext) -> int:
    return _int(ctx.value("hidden_size d_model n_embd embed_dim dim", ctx.config), 64)


def embeddings(ctx: InputContext) -> torch.Tensor | list[torch.Tensor]:
    """Already embedded inputs ``(batch, tokens, hidden)`` or channels first; flattened
    patches for vision towers that take a patch grid; a waveform for audio tokenizers."""
    if _flattens_patches(ctx):
        return _flattened_patches(ctx)
    states = torch.randn(ctx.batch, ctx.seq_len, _hidden(ctx))
    return [states, states.transpose(1, 2).contiguous(), torch.randn(ctx.batch, 1, 16000)]


def _languages(ctx: InputContext) -> torch.Tensor | None:
    languages = ctx.value("languages")
    return torch.zeros(ctx.batch, dtype=torch.long) if languages else None


def query_embeddings(ctx: InputContext) -> torch.Tensor:
    """Learned queries of a Q-Former: ``(batch, queries, hidden)``."""
    queries = _int(ctx.value("num_query_tokens"), 32)
    return torch.randn(ctx.batch, queries, _hidden(ctx))


def encoder_states(ctx: InputContext) -> torch.Tensor | None:
    """What a Q-Former cross-attends to: ``(batch, tokens, encoder_hidden_size)``; other
    models take ``encoder_hidden_states`` only as an option they do not need."""
    width = getattr(ctx.config, "encoder_hidden_size", None)
    if not _is_int(width) or not ctx.accepts("query_embeds"):
        return None
    return torch.randn(ctx.batch, ctx.seq_len, width)


def latents(ctx: InputContext) -> list[torch.Tensor]:
    """Latent frames of a codec decoder: ``(batch, width, frames)`` or transposed."""
    width = _int(ctx.value("hidden_size codebook_dim d_model"), 64)
    frames = torch.randn(ctx.batch, width, ctx.seq_len)
    return [frames, frames.transpose(1, 2).contiguous()]


def _series(width: str, default: int, integer_below: str | None = None) -> Builder:
    """``(batch, steps, config.width)`` for decision-transformer-like trajectories."""

    def build(ctx: InputContext) -> torch.Tensor:
        if integer_below is not None:
            high = _int(ctx.value(integer_below, ctx.config), 1000)
            return torch.randint(0, high, (ctx.batch, ctx.seq_len))
        return torch.randn(ctx.batch, ctx.seq_len, _int(ctx.value(width, ctx.config), default))

    return build


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
    "interpolate_pos_encoding": (_resized, "always"),  # True when --image-size differs
    "input_features": (audio_features, "always"),  # spectrogram frames × bins
    "input_values": (audio_values, "always"),  # raw waveform
    "audio_mel": (audio_features, "always"),
    "input_features_mask": (frames_mask("input_features"), "always"),
    "audio_mel_mask": (frames_mask("audio_mel"), "always"),
    "query_embeds": (query_embeddings, "required"),
    "encoder_hidden_states": (encoder_states, "always"),
    "latents": (latents, "required"),
    "past_values": (past_values, "always"),  # context + lags, channels
    "past_time_features": (_time_features(past=True), "always"),
    "past_observed_mask": (observed_mask, "always"),
    "observed_mask": (observed_mask, "always"),
    "static_categorical_features": (static_categorical, "always"),
    "static_real_features": (static_real, "always"),
    "future_values": (future_values, "always"),  # decoder input of seq2seq forecasters
    "future_time_features": (_time_features(past=False), "always"),
    "past_values_padding": (lambda ctx: torch.zeros(ctx.batch, _history(ctx)), "always"),
    "freq": (lambda ctx: torch.zeros(ctx.batch, 1, dtype=torch.long), "always"),
    "bbox": (bounding_boxes, "always"),  # LayoutLM boxes per token
    "decoder_input_ids": (decoder_token_ids, "always"),
    "qformer_input_ids": (token_ids, "always"),
    "task_inputs": (token_ids, "required"),  # OneFormer's task prompt
    "lang_ids": (_languages, "always"),  # X-MOD's language adapters
    "states": (_series("state_dim", 4), "always"),  # decision transformer trajectories
    "actions": (_series("act_dim", 2), "always"),
    "rewards": (_series("", 1), "always"),
    "returns_to_go": (_series("", 1), "always"),
    "timesteps": (_series("", 1, integer_below="max_ep_len"), "always"),
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
