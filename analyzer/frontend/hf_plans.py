"""Plans of keyword inputs for a transformers model, filled from its forward signature.

:func:`input_plans` reads the model's ``forward`` signature and fills every required
argument and the optional ones a model needs for its main output (both towers of CLIP,
the decoder of an encoder-decoder, the image of a vision-language model) from the table
of :mod:`analyzer.frontend.hf_inputs`; further plans vary one input among its builder's
candidates, and last come plans that leave out an optional modality. The placeholder
tokens of a model that splices an image or audio into its text are put in by
:mod:`analyzer.frontend.hf_placeholders`.

>>> from transformers import BertConfig, BertModel
>>> config = BertConfig(num_hidden_layers=1, hidden_size=32, num_attention_heads=2,
...                     intermediate_size=32, vocab_size=100)
>>> plan = input_plans(BertModel(config), seq_len=8)[0]
>>> {name: tuple(value.shape) for name, value in plan.inputs.items()}
{'input_ids': (1, 8)}
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from analyzer.errors import SpecError
from analyzer.frontend.hf_errors import did_you_mean
from analyzer.frontend.hf_inputs import INPUTS, SEQUENCE_LENGTH, InputContext


@dataclass
class InputPlan:
    """One set of keyword inputs for the model, with what was chosen and why."""

    inputs: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    degraded: bool = False  # leaves out a modality: tried after every complete plan


def forward_parameters(model: nn.Module) -> dict[str, inspect.Parameter]:
    """The named parameters of ``model.forward`` (no ``self``, ``*args`` or ``**kwargs``)."""
    try:
        signature = inspect.signature(model.forward)
    except (TypeError, ValueError):
        return {}
    return {
        name: p
        for name, p in signature.parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY, p.POSITIONAL_ONLY)
    }


def input_plans(
    model: nn.Module,
    *,
    batch: int = 1,
    seq_len: int = SEQUENCE_LENGTH,
    image_size: int | None = None,
    overrides: dict[str, torch.Tensor] | None = None,
    device: str | torch.device = "cpu",
) -> list[InputPlan]:
    """Candidate keyword inputs for ``model``, most complete first.

    Every required forward argument is filled (a :class:`SpecError` names one that no
    builder knows), then the optional ones of :data:`INPUTS` marked ``"always"``.
    ``overrides`` (from ``--input NAME=SPEC``) replace the named inputs; a name the
    forward does not take is refused. Later plans vary one input's candidate shape, or
    leave out an optional image the model could not use.
    """
    for name, value in (("batch", batch), ("seq_len", seq_len)):
        if not isinstance(value, int) or value < 1:
            raise SpecError(f"--{name.replace('_', '-')} {value!r}: must be a positive integer")
    if image_size is not None and (not isinstance(image_size, int) or image_size < 1):
        raise SpecError(f"--image-size {image_size!r}: must be a positive integer")
    parameters = forward_parameters(model)
    overrides = dict(overrides or {})
    for name in overrides:
        if name not in parameters:
            raise SpecError(
                f"--input {name}=…: {type(model).__name__}.forward takes no argument {name!r}"
                + did_you_mean(name, parameters)
            )
    ctx = InputContext(
        model, getattr(model, "config", None), parameters, batch, seq_len, image_size,
        torch.device(device),
    )  # fmt: skip
    for name, parameter in parameters.items():
        required = parameter.default is inspect.Parameter.empty
        if required and name not in overrides and name not in INPUTS:
            raise SpecError(
                f"cannot synthesise the required input {name!r} of {type(model).__name__}; "
                f"give it with --input '{name}=DTYPE[d0,d1,…]', or write a factory "
                "FILE.py:NAME that returns (module, example_args)"
            )
    first, counts = _build(ctx, overrides, {})
    plans = [InputPlan(_on(first, device))]
    for name, count in counts.items():  # vary one input; those built from it follow
        for index in range(1, count):
            varied, _ = _build(ctx, overrides, {name: index})
            shape = f"shaped {list(varied[name].shape)}" if name in varied else "left out"
            plans.append(InputPlan(_on(varied, device), [f"{name} {shape}"]))
    optional = {n for n, p in parameters.items() if p.default is not inspect.Parameter.empty}
    present = [
        (modality, names & set(first))
        for modality, names in _MODALITIES.items()
        if names & set(first) and names & set(first) <= optional and not names & set(overrides)
    ]
    if present and any(n not in {x for _, group in present for x in group} for n in first):
        dropped = [[p] for p in present] + ([present] if len(present) > 1 else [])
        for groups in dropped:
            names = {n for _, group in groups for n in group}
            kept = {n: v for n, v in first.items() if n not in names}
            what = " and ".join(m for m, _ in groups)
            note = f"analysed without {what}: the model did not run on the synthesised one"
            plans.append(InputPlan(_on(kept, device), [note], degraded=True))
    return plans


# Optional inputs of one modality, left out together when the model cannot use them.
_MODALITIES = {
    "an image": {"pixel_values", "image_grid_thw", "image_sizes", "pixel_mask"},
    "audio": {"input_features", "input_features_mask", "input_values", "audio_mel"}
    | {"audio_mel_mask"},
}


def _build(
    ctx: InputContext, overrides: dict[str, Any], choice: dict[str, int]
) -> tuple[dict[str, Any], dict[str, int]]:
    """One set of inputs, taking candidate ``choice[name]`` (default the first) of each
    builder, in the table's order so that later builders read earlier inputs; and how
    many candidates each builder offered. Returned in the forward's own order."""
    ctx.built = {}
    counts: dict[str, int] = {}
    for name in ctx.parameters:
        if name in overrides:
            ctx.built[name] = overrides[name]
    for name, (builder, when) in INPUTS.items():
        if name not in ctx.parameters or name in overrides:
            continue
        if when == "required" and ctx.parameters[name].default is not inspect.Parameter.empty:
            continue
        built = builder(ctx)
        if built is None:
            continue
        options = built if isinstance(built, list) else [built]
        counts[name] = len(options)
        chosen = options[min(choice.get(name, 0), len(options) - 1)]
        if chosen is not None:  # None: leave the input out
            ctx.built[name] = chosen
    ordered = {n: ctx.built[n] for n in ctx.parameters if n in ctx.built}
    return ordered, {n: c for n, c in counts.items() if c > 1}


def _on(inputs: dict[str, Any], device: str | torch.device) -> dict[str, Any]:
    return {n: v.to(device) if isinstance(v, torch.Tensor) else v for n, v in inputs.items()}


def named_inputs(texts: list[str]) -> dict[str, str]:
    """``--input NAME=SPEC`` texts of an ``hf:`` model as ``{NAME: SPEC}``.

    An input of an ``hf:`` model must name the forward argument it replaces; a bare
    spec is refused, not ignored.

    >>> named_inputs(["input_ids=int64[2,32]<100"])
    {'input_ids': 'int64[2,32]<100'}
    """
    named: dict[str, str] = {}
    for text in texts:
        name, sep, spec = text.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise SpecError(
                f"--input {text!r}: for an hf: model, name the forward argument it replaces, "
                "e.g. --input 'input_ids=int64[2,32]<50000' or --kwarg "
                "input_ids='int64[2,32]<50000' (sizes alone: --seq-len, --batch, --image-size)"
            )
        if name in named:
            raise SpecError(f"--input {name}=…: given twice")
        named[name] = spec.strip()
    return named
