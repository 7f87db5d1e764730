"""Placeholder tokens for the models that splice an image or audio into their text.

A vision-language or speech-language model replaces placeholder tokens of its text
(``image_token_id``, ``audio_token_id``) with the features its vision or audio tower
yields, and its forward fails when the two counts differ. On the meta device (and in
export) that check is skipped, so a plan without the right count traces, and the graph
describes a computation that never happens. :func:`with_placeholder_tokens` puts as many
placeholders at the front of every sequence as the tower yields features: it runs the
model's ``get_image_features`` / ``get_audio_features`` on the plan's inputs (on the meta
device it costs nothing) and counts the rows. Where the count depends on values (audio
towers keep the rows an input mask marks valid, a boolean index), the tower is run on fake
tensors and the count is the largest the index can give: every row, as the synthesised
masks mark every frame valid.

>>> from types import SimpleNamespace
>>> class Speech(nn.Module):  # four feature rows per second of audio
...     config = SimpleNamespace(audio_token_id=7)
...     def get_audio_features(self, input_values):
...         return input_values.reshape(input_values.shape[0], -1, 4000)
>>> plan = InputPlan({"input_ids": torch.ones(1, 3, dtype=torch.long),
...                   "input_values": torch.randn(1, 16000)})
>>> placed = with_placeholder_tokens(plan, Speech())
>>> placed.inputs["input_ids"].tolist(), placed.notes
([[7, 7, 7, 7, 1, 1, 1]], ['4 audio placeholder tokens'])
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from analyzer.frontend.hf_plans import InputPlan


@dataclass(frozen=True)
class Splice:
    """One modality a model splices into its text: the config fields naming its
    placeholder token, the model method that yields its features, and the inputs that
    carry it (one of them must be in the plan)."""

    name: str
    token_fields: tuple[str, ...]
    features: str
    inputs: frozenset[str]


SPLICES = (
    Splice(
        "image",
        ("image_token_id", "image_token_index", "video_token_id", "video_token_index"),
        "get_image_features",
        frozenset({"pixel_values"}),
    ),
    Splice(
        "audio",
        ("audio_token_id", "audio_token_index"),
        "get_audio_features",
        frozenset({"input_features", "input_values", "audio_values"}),
    ),
)
"""The modalities spliced at placeholder tokens, images first."""


def with_placeholder_tokens(
    plan: InputPlan, model: nn.Module, counts: dict[Any, int | None] | None = None
) -> InputPlan:
    """``plan`` with as many placeholder tokens at the front of every sequence as each
    spliced modality (:data:`SPLICES`) yields features, counted once per input shape
    when ``counts`` keeps them; the plan as it was for a model that splices nothing."""
    counts = {} if counts is None else counts
    for splice in SPLICES:
        plan = _with_placeholders(plan, model, splice, counts)
    return plan


def _with_placeholders(
    plan: InputPlan, model: nn.Module, splice: Splice, counts: dict[Any, int | None]
) -> InputPlan:
    config = getattr(model, "config", None)
    token = next(
        (t for t in (getattr(config, n, None) for n in splice.token_fields) if _is_int(t)), None
    )
    ids = plan.inputs.get("input_ids")
    carried = [plan.inputs[n] for n in sorted(splice.inputs) if n in plan.inputs]
    if token is None or not isinstance(ids, torch.Tensor) or not carried:
        return plan
    queries = getattr(config, "num_query_tokens", None)
    features = getattr(model, splice.features, None)
    if splice.name == "image" and _is_int(queries) and isinstance(carried[0], torch.Tensor):
        # a Q-Former yields its learned queries per image (per frame of a video),
        # whatever get_image_features returns (BLIP-2's gives the vision tower's)
        pixels = carried[0]
        frames = pixels.shape[1] if pixels.dim() == 5 else 1
        count: int | None = queries * frames * pixels.shape[0]
    elif features is None:
        return plan
    else:
        arguments = _arguments(features, plan.inputs)
        arguments = _on_meta(arguments) if _is_meta(model) else arguments
        key = (splice.name, *((n, _key(v)) for n, v in sorted(arguments.items())))
        if key not in counts:
            counts[key] = feature_count(features, arguments)
        count = counts[key]
    if count is None or count % ids.shape[0]:
        return plan
    per_sample = count // ids.shape[0]
    placeholders = torch.full((ids.shape[0], per_sample), token, dtype=ids.dtype, device=ids.device)
    inputs = {**plan.inputs, "input_ids": torch.cat([placeholders, ids], dim=1)}
    for name, fill in (("attention_mask", 1), ("token_type_ids", 0), ("mm_token_type_ids", 1)):
        if isinstance(inputs.get(name), torch.Tensor):
            pad = torch.full_like(placeholders, fill, dtype=inputs[name].dtype)
            inputs[name] = torch.cat([pad, inputs[name]], dim=1)
    note = f"{per_sample} {splice.name} placeholder tokens"
    return dataclasses.replace(plan, inputs=inputs, notes=[*plan.notes, note])


def _arguments(features: Callable[..., Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """What the forward hands ``features``: the plan's inputs it takes, the text only
    where it requires it (MusicFlamingo times the audio by its placeholders), and
    ``None`` for another it requires that the plan leaves out (as the forward passes
    its own default: MOSS's ``padding_mask``)."""
    try:
        parameters = inspect.signature(features).parameters
    except (TypeError, ValueError):
        return {}
    arguments = {}
    for name, parameter in parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        required = parameter.default is inspect.Parameter.empty
        if name in inputs and (name != "input_ids" or required):
            arguments[name] = inputs[name]
        elif required:
            arguments[name] = None
    return arguments


def feature_count(features: Callable[..., Any], arguments: dict[str, Any]) -> int | None:
    """How many feature rows ``features(**arguments)`` yields. Where the rows are chosen
    by values (a boolean index, which fails on the meta device), the call is made again
    on fake tensors and the count is the largest the index can give."""
    try:
        with torch.no_grad():
            return _rows(features(**arguments))
    except Exception:
        if not any(isinstance(v, torch.Tensor) and v.is_meta for v in arguments.values()):
            raise
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.fx.experimental.symbolic_shapes import ShapeEnv

    flag = getattr(torch.compiler, "_is_compiling_flag", None)
    if flag is not None:  # as export runs it: transformers skips its eager value checks
        torch.compiler._is_compiling_flag = True
    try:
        with FakeTensorMode(allow_non_fake_inputs=True, shape_env=ShapeEnv()), torch.no_grad():
            return _rows(features(**arguments))
    finally:
        if flag is not None:
            torch.compiler._is_compiling_flag = flag


def _rows(output: Any) -> int | None:
    """How many feature vectors (rows) a ``get_*_features`` output holds; a row count
    the values decide (a symbol) is read as its upper bound."""
    if hasattr(output, "pooler_output") and output.pooler_output is not None:
        output = output.pooler_output
    elif isinstance(output, dict) or hasattr(output, "last_hidden_state"):
        output = output[0] if not isinstance(output, dict) else next(iter(output.values()))
    tensors = output if isinstance(output, (list, tuple)) else [output]
    if not tensors or not all(isinstance(t, torch.Tensor) and t.dim() for t in tensors):
        return None
    return _largest(sum(t.numel() // t.shape[-1] for t in tensors))


def _largest(count: Any) -> int | None:
    """``count`` as an int; a symbolic one's upper bound, ``None`` when unbounded."""
    if isinstance(count, int):
        return count
    node = getattr(count, "node", None)
    if node is None or getattr(node, "shape_env", None) is None:
        return None
    upper = node.shape_env.bound_sympy(node.expr).upper
    return int(upper) if upper.is_finite else None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_meta(model: nn.Module) -> bool:
    return any(p.is_meta for p in model.parameters())


def _on_meta(arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments of a meta model's ``get_*_features`` on the meta device: inputs made
    on the CPU for it (:func:`~analyzer.frontend.hf_probe.inputs_on`, what validate feeds
    its copy with random weights) are counted as the build counted them."""
    return {n: v.to("meta") if isinstance(v, torch.Tensor) else v for n, v in arguments.items()}


def _key(value: Any) -> Any:
    """A hashable stand-in for an argument: a tensor's shape, and its values when small
    and real (a grid's sizes decide the feature count)."""
    if not isinstance(value, torch.Tensor):
        return repr(value)
    small = value.device.type != "meta" and value.numel() < 64
    return tuple(value.shape), tuple(value.flatten().tolist()) if small else None


__all__ = ["SPLICES", "Splice", "feature_count", "with_placeholder_tokens"]
