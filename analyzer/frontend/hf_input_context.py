"""What an input builder of the ``hf:`` builder reads: the model, its config, the sizes.

:class:`InputContext` is handed to every builder of :data:`analyzer.frontend.hf_inputs.INPUTS`;
it finds a field in the config or any of its sub-configs (vision, text, audio, …), since
where a size lives differs from one architecture to the next.

>>> from transformers import BertConfig
>>> context = InputContext(None, BertConfig(hidden_size=32, num_attention_heads=2), {})
>>> context.value("hidden_size d_model"), hidden_width(context), int_of([7, 8], 1)
(32, 32, 7)
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


def is_int(value: Any) -> bool:
    """An ``int`` that is not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def int_of(value: Any, default: int) -> int:
    """``value`` (the first of a list) as an ``int``, or ``default`` when it is none."""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def hidden_width(ctx: InputContext) -> int:
    """The model's hidden width, whatever its config calls it (64 where it names none)."""
    return int_of(ctx.value("hidden_size d_model n_embd embed_dim dim", ctx.config), 64)


def required_names(ctx: InputContext) -> set[str]:
    """The forward's arguments that have no default."""
    return {n for n, p in ctx.parameters.items() if p.default is inspect.Parameter.empty}
