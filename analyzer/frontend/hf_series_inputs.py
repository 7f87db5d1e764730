"""Input builders for time series (past values, lags, time features) and trajectories of
decision transformers.

>>> from transformers import TimeSeriesTransformerConfig
>>> config = TimeSeriesTransformerConfig(context_length=8, lags_sequence=[1, 2, 3])
>>> tuple(past_values(InputContext(None, config, {})).shape)
(1, 11)
"""

from __future__ import annotations

import torch

from analyzer.frontend.hf_input_context import Builder, InputContext, int_of


def history_length(ctx: InputContext) -> int:
    lags = ctx.value("lags_sequence", ctx.config)
    context = int_of(ctx.value("context_length", ctx.config), ctx.seq_len)
    return context + (max(lags) if isinstance(lags, (list, tuple)) and lags else 0)


def _series_channels(ctx: InputContext) -> tuple[int, ...]:
    channels = ctx.value("num_input_channels input_size", ctx.config)
    if channels is None or (getattr(ctx.config, "input_size", None) == 1 and channels == 1):
        return ()  # univariate series are (batch, time)
    return (int_of(channels, 1),)


def past_values(ctx: InputContext) -> torch.Tensor:
    return torch.randn(ctx.batch, history_length(ctx), *_series_channels(ctx))


def future_values(ctx: InputContext) -> torch.Tensor | None:
    if not getattr(ctx.config, "is_encoder_decoder", False):
        return None  # only a target for the loss
    horizon = int_of(ctx.value("prediction_length", ctx.config), ctx.seq_len)
    return torch.randn(ctx.batch, horizon, *_series_channels(ctx))


def time_features(past: bool) -> Builder:
    def build(ctx: InputContext) -> torch.Tensor | None:
        if not past and "future_values" not in ctx.built:
            return None
        width = int_of(ctx.value("num_time_features", ctx.config), 1) + int_of(
            ctx.value("num_dynamic_real_features", ctx.config), 0
        )
        length = (
            history_length(ctx)
            if past
            else int_of(ctx.value("prediction_length", ctx.config), ctx.seq_len)
        )
        return torch.randn(ctx.batch, length, width)

    return build


def observed_mask(ctx: InputContext) -> torch.Tensor:
    return torch.ones_like(ctx.built["past_values"]) if "past_values" in ctx.built else None


def static_categorical(ctx: InputContext) -> torch.Tensor | None:
    count = int_of(ctx.value("num_static_categorical_features", ctx.config), 0)
    if count == 0:
        return None
    cardinality = ctx.value("cardinality", ctx.config, default=[2]) or [2]
    return torch.stack([torch.randint(0, int(c), (ctx.batch,)) for c in cardinality], dim=1)


def static_real(ctx: InputContext) -> torch.Tensor | None:
    count = int_of(ctx.value("num_static_real_features", ctx.config), 0)
    return torch.randn(ctx.batch, count) if count else None


def trajectory(width: str, default: int, integer_below: str | None = None) -> Builder:
    """``(batch, steps, config.width)`` for decision-transformer-like trajectories."""

    def build(ctx: InputContext) -> torch.Tensor:
        if integer_below is not None:
            high = int_of(ctx.value(integer_below, ctx.config), 1000)
            return torch.randint(0, high, (ctx.batch, ctx.seq_len))
        return torch.randn(ctx.batch, ctx.seq_len, int_of(ctx.value(width, ctx.config), default))

    return build
