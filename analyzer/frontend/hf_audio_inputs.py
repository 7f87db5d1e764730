"""Input builders for audio: spectrogram features, raw waveforms and their masks.

Where a shape cannot be read off the config (features are ``(batch, bins, frames)`` in some
models and ``(batch, frames, bins)`` in others), a builder gives candidates and the caller
keeps the first plan the model's forward accepts.

>>> from transformers import WhisperConfig
>>> context = InputContext(None, WhisperConfig(num_mel_bins=80, max_source_positions=8), {})
>>> tuple(audio_features(context)[0].shape)
(1, 80, 16)
"""

from __future__ import annotations

import torch
from torch import nn

from analyzer.frontend.hf_input_context import (
    Builder,
    InputContext,
    hidden_width,
    int_of,
    is_int,
)


def _audio_bins(ctx: InputContext) -> list[int]:
    """Plausible feature widths of a spectrogram input, most specific first."""
    per_channel = ctx.value("input_feat_per_channel")
    channels = int_of(ctx.value("input_channels"), 1)
    stacked = [per_channel * channels] if isinstance(per_channel, int) else []
    mel, frames = ctx.value("num_mel_bins"), ctx.value("num_stacked_frames")
    if is_int(mel) and is_int(frames):  # low-frame-rate stacking (FunASR): frames × mels
        stacked.append(mel * frames)
    widths = stacked + ctx.values(
        "feature_projection_input_dim num_mel_bins input_feat_size feature_size n_mels input_dim"
    )
    widths += [_entry_width(ctx.model), *_MEL_BANKS]
    return [w for w in dict.fromkeys(widths) if is_int(w) and w > 1]


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
    if is_int(per_token):  # audio frames added to the text token by token (Voxtral Realtime)
        frames = per_token * ctx.seq_len
    positions = ctx.value("max_source_positions")
    mel = ctx.value("num_mel_bins")
    if is_int(positions) and is_int(mel):
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
    channels = int_of(ctx.value("audio_channels"), 1)
    waves = [torch.randn(ctx.batch, samples), torch.randn(ctx.batch, channels, samples)]
    if channels == 1:
        waves.append(torch.randn(ctx.batch, 1, samples))
    if ctx.value("audio_channels") is not None:
        waves.reverse()
    waves += [torch.randn(ctx.batch, 16000), torch.randn(ctx.batch, ctx.seq_len, hidden_width(ctx))]
    length, mel = ctx.value("max_length"), ctx.value("num_mel_bins")
    if is_int(length) and is_int(mel):
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
