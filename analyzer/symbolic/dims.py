"""Symbolic dimensions: ``--dim`` specs, the input axes they name, and export's specs.

``seq=N`` and ``batch=B`` name axes the tool knows: for ``hf:`` models by input name
(``input_ids`` is ``(batch, seq)``, ``pixel_values`` is ``(batch, channels, height,
width)``), for other models by rank (token ids ``(batch, seq)``, sequences ``(batch,
seq, features)``). ``x:1=N`` names axis 1 of the input called ``x`` (or at position
``0``). ``seq=N:1..1024`` also bounds the dimension, which torch.export needs when the
model only works in a range (a position table of 1024 rows).

>>> parse_dim("seq=N:1..1024")
DimSpec(name='seq', axis=None, symbol='N', low=1, high=1024)
>>> parse_dim("x:1=T").axis
1
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch

from analyzer.errors import SpecError

# Axes of the inputs that transformers models take, by input name.
HF_AXES: dict[str, dict[str, int]] = {
    "input_ids": {"batch": 0, "seq": 1},
    "attention_mask": {"batch": 0, "seq": 1},
    "token_type_ids": {"batch": 0, "seq": 1},
    "position_ids": {"batch": 0, "seq": 1},
    "decoder_input_ids": {"batch": 0, "decoder_seq": 1},
    "decoder_attention_mask": {"batch": 0, "decoder_seq": 1},
    "pixel_values": {"batch": 0, "height": 2, "width": 3},
    "input_features": {"batch": 0, "frames": 2},
    "input_values": {"batch": 0, "samples": 1},
}

_SPEC = re.compile(
    r"^\s*(?P<name>[A-Za-z_]\w*|\d+)\s*(?::\s*(?P<axis>-?\d+))?\s*=\s*(?P<symbol>[A-Za-z_]\w*)"
    r"\s*(?::\s*(?P<low>\d+)\s*\.\.\s*(?P<high>\d+))?\s*$"
)


@dataclass(frozen=True)
class DimSpec:
    """One ``--dim``: a named axis (``seq``) or an input's axis (``x:1``), its symbol and
    an optional range."""

    name: str
    axis: int | None
    symbol: str
    low: int | None = None
    high: int | None = None

    @property
    def label(self) -> str:
        """How the JSON's ``dims`` names it: ``seq``, or ``x:1``."""
        return self.name if self.axis is None else f"{self.name}:{self.axis}"


@dataclass(frozen=True)
class Axis:
    """An input axis made symbolic: which input (position among all inputs), which axis."""

    input: int
    input_name: str
    axis: int
    spec: DimSpec


def parse_dim(text: str) -> DimSpec:
    """A :class:`DimSpec` from ``NAME=SYMBOL[:LOW..HIGH]`` or ``INPUT:AXIS=SYMBOL[…]``."""
    match = _SPEC.match(text)
    if not match:
        raise SpecError(
            f"malformed --dim {text!r}: expected NAME=SYMBOL (seq=N, batch=B), "
            "INPUT:AXIS=SYMBOL (x:1=N), optionally with a range, e.g. seq=N:1..1024"
        )
    low, high = match["low"], match["high"]
    spec = DimSpec(
        match["name"],
        None if match["axis"] is None else int(match["axis"]),
        match["symbol"],
        None if low is None else int(low),
        None if high is None else int(high),
    )
    if spec.low is not None and spec.high is not None and not 1 <= spec.low <= spec.high:
        raise SpecError(f"--dim {text!r}: the range needs 1 <= LOW <= HIGH")
    return spec


def parse_dims(texts: list[str]) -> list[DimSpec]:
    """Every ``--dim``; one symbol per name, and no name given twice."""
    specs = [parse_dim(text) for text in texts]
    seen: dict[str, DimSpec] = {}
    for spec in specs:
        if spec.label in seen:
            raise SpecError(f"--dim {spec.label} is given twice")
        seen[spec.label] = spec
    return specs


def resolve_axes(specs: list[DimSpec], names: list[str], inputs: list[Any], hf: bool) -> list[Axis]:
    """The input axes each spec names. ``names`` and ``inputs`` list every model input
    (positional ones first, then keywords); ``hf`` selects the transformers table."""
    axes: list[Axis] = []
    for spec in specs:
        found = _axes_of(spec, names, inputs, hf)
        if not found:
            raise SpecError(_no_axis_message(spec, names, inputs, hf))
        axes.extend(found)
    return axes


def _axes_of(spec: DimSpec, names: list[str], inputs: list[Any], hf: bool) -> list[Axis]:
    tensors = [(i, n, v) for i, (n, v) in enumerate(zip(names, inputs, strict=True))
               if isinstance(v, torch.Tensor)]  # fmt: skip
    if spec.axis is not None:
        for index, name, value in tensors:
            if spec.name in (name, str(index)):
                if not -value.dim() <= spec.axis < value.dim():
                    raise SpecError(
                        f"--dim {spec.label}={spec.symbol}: input {name!r} has "
                        f"{value.dim()} axes (shape {list(value.shape)})"
                    )
                return [Axis(index, name, spec.axis % value.dim(), spec)]
        return []
    found = []
    for index, name, value in tensors:
        axis = HF_AXES.get(name, {}).get(spec.name) if hf else _conventional_axis(spec.name, value)
        if axis is not None and axis < value.dim():
            found.append(Axis(index, name, axis, spec))
    return found


def _conventional_axis(name: str, value: torch.Tensor) -> int | None:
    """``batch`` is axis 0; ``seq`` is axis 1 of token ids ``(batch, seq)`` and of
    sequences ``(batch, seq, features)``; images have no ``seq``."""
    if name == "batch" and value.dim() >= 1:
        return 0
    if name == "seq" and value.dim() in (2, 3):
        return 1
    return None


def _no_axis_message(spec: DimSpec, names: list[str], inputs: list[Any], hf: bool) -> str:
    shapes = ", ".join(
        f"{n} {list(v.shape)}" for n, v in zip(names, inputs, strict=True)
        if isinstance(v, torch.Tensor)
    )  # fmt: skip
    if spec.axis is not None:
        return (
            f"--dim {spec.label}={spec.symbol}: no input is called {spec.name!r} "
            f"(the inputs are {shapes})"
        )
    known = sorted({k for n in names for k in HF_AXES.get(n, {})}) if hf else ["batch", "seq"]
    return (
        f"--dim {spec.name}={spec.symbol}: no input has a {spec.name!r} axis (inputs: {shapes}; "
        f"known names here: {', '.join(known) or 'none'}); name the axis instead, "
        f"e.g. --dim {names[0] if names else 'x'}:1={spec.symbol}"
    )


def dynamic_shapes(axes: list[Axis], count: int) -> list[dict[int, Any] | None]:
    """torch.export's specs, one per input: ``{axis: Dim}``, one ``Dim`` per symbol."""
    from torch.export import Dim

    dims: dict[str, Any] = {}
    shapes: list[dict[int, Any] | None] = [None] * count
    for axis in axes:
        spec = axis.spec
        if spec.symbol not in dims:
            bounds = {"min": spec.low, "max": spec.high} if spec.low is not None else {}
            dims[spec.symbol] = Dim(spec.symbol, **bounds)
        entry = shapes[axis.input] if shapes[axis.input] is not None else {}
        assert entry is not None
        entry[axis.axis] = dims[spec.symbol]
        shapes[axis.input] = entry
    return shapes


def example_sizes(axes: list[Axis], inputs: list[Any]) -> dict[str, int]:
    """A size per symbol to trace with: the example's own where it is at least 2 and in
    range (export fixes sizes 0 and 1), else the nearest size that is."""
    sizes: dict[str, int] = {}
    for axis in axes:
        spec = axis.spec
        if spec.symbol in sizes:
            continue
        size = int(inputs[axis.input].shape[axis.axis])
        low = max(2, spec.low or 2)
        high = spec.high if spec.high is not None else max(size, low)
        if high < low:
            raise SpecError(
                f"--dim {spec.label}={spec.symbol}:{spec.low}..{spec.high}: export needs a "
                "range that contains a size of at least 2"
            )
        sizes[spec.symbol] = min(max(size, low), high)
    return sizes


def resized(inputs: list[Any], axes: list[Axis], sizes: dict[str, int]) -> list[Any]:
    """The inputs with each symbolic axis at its example size: entries repeat cyclically
    along the axis, so token ids stay valid ids."""
    out = list(inputs)
    for axis in axes:
        value = out[axis.input]
        size = sizes[axis.spec.symbol]
        if value.shape[axis.axis] != size:
            rows = torch.arange(size, device=value.device) % value.shape[axis.axis]
            out[axis.input] = value.index_select(axis.axis, rows)
    return out
