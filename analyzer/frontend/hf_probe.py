"""Which synthesised inputs a built ``hf:`` model's forward runs on.

The last step of the ``hf:`` builder (config → shrink → build → inputs): the plans of
:mod:`analyzer.frontend.hf_plans` are made for the model's sizes, and each is run, on the
meta device as the export frontend will run it, until one passes. The failures that come
only from the meta device (a value read, a CPU tensor made) are told apart from those of a
wrong shape, so that the builder can try the model again on the CPU.

>>> from transformers import BertConfig, BertModel
>>> with torch.device("meta"):
...     model = BertModel(BertConfig(num_hidden_layers=1)).eval()
>>> sizes = {"batch": 1, "seq_len": 8, "image_size": None, "overrides": None}
>>> plan, error, _ = first_running(model, synthesised_plans(model, sizes, "meta"))
>>> {n: tuple(t.shape) for n, t in plan.inputs.items()}, error
({'input_ids': (1, 8)}, '')
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from analyzer.errors import SpecError
from analyzer.frontend.hf_errors import first_line, missing_package
from analyzer.frontend.hf_inputs import SEQUENCE_LENGTH
from analyzer.frontend.hf_placeholders import with_placeholder_tokens
from analyzer.frontend.hf_plans import InputPlan, input_plans


def inputs_on(
    model: nn.Module, inputs: dict[str, Any], device: str | torch.device
) -> dict[str, Any]:
    """The same synthesised inputs (names and shapes) made again on ``device``: a model
    built on the meta device whose inputs must hold values (block-wise validation streams
    its weights to the device one block at a time).

    >>> from analyzer.frontend.hf import build_hf_model
    >>> built = build_hf_model("bert", {"num_hidden_layers": 1}, seq_len=8)
    >>> {n: (t.device.type, tuple(t.shape)) for n, t in inputs_on(built.module, built.inputs,
    ...                                                            "cpu").items()}
    {'input_ids': ('cpu', (1, 8))}
    """

    def shapes(found: dict[str, Any]) -> dict[str, Any]:
        return {n: tuple(getattr(t, "shape", ())) for n, t in found.items()}

    first = next((t for t in inputs.values() if hasattr(t, "shape") and t.dim() >= 1), None)
    batch = int(first.shape[0]) if first is not None else 1
    wanted = shapes(inputs)
    for seq_len in sorted({SEQUENCE_LENGTH, *(s for v in wanted.values() for s in v)}):
        sizes = {"batch": batch, "seq_len": seq_len, "image_size": None, "overrides": None}
        for plan in synthesised_plans(model, sizes, str(device)):
            if shapes(plan.inputs) == wanted:
                return plan.inputs
    raise SpecError(
        "could not make the synthesised inputs again on "
        f"{device} ({', '.join(f'{n} {list(s)}' for n, s in wanted.items())}): give them "
        "with --input NAME=SPEC"
    )


def synthesised_plans(model: nn.Module, sizes: dict[str, Any], device: str) -> list[InputPlan]:
    """The input plans of :func:`~analyzer.frontend.hf_plans.input_plans` for ``sizes``
    (``batch``, ``seq_len``, ``image_size``, ``overrides``), with as many image
    placeholder tokens in the text as the vision or audio tower yields features."""
    overrides = {n: t.to(device) for n, t in (sizes["overrides"] or {}).items()}
    plans = input_plans(
        model, batch=sizes["batch"], seq_len=sizes["seq_len"], image_size=sizes["image_size"],
        overrides=overrides, device=device,
    )  # fmt: skip
    placed, counts = [], {}  # type: ignore[var-annotated]
    for plan in plans:
        try:
            placed.append(with_placeholder_tokens(plan, model, counts))
        except Exception:  # the vision tower fails here: the forward will say why
            placed.append(plan)
    return placed


def first_running(
    model: nn.Module, plans: list[InputPlan]
) -> tuple[InputPlan | None, str, list[int]]:
    """The first plan the forward runs on (or ``None``), the first plan's error, and the
    positions of the plans that failed only for want of values on the meta device."""
    first_error, meta_only = "", []
    on_meta = any(p.device.type == "meta" for p in model.parameters())
    for index, plan in enumerate(plans):
        try:
            with _as_export_runs_it(on_meta), torch.no_grad():
                model(**plan.inputs)
        except ImportError as error:
            raise missing_package(type(model).__name__, error) from error
        except Exception as error:
            first_error = first_error or f"{type(error).__name__}: {first_line(error)}"
            if _META_ONLY.search(f"{type(error).__name__}: {error}"):
                meta_only.append(index)
            continue
        return plan, "", []
    return None, first_error, meta_only


@contextlib.contextmanager
def _as_export_runs_it(on_meta: bool) -> Iterator[None]:
    """Run a meta model as the export frontend will: on fake tensors with symbolic
    shapes (a value read becomes a symbol, not an error), with torch saying that it
    compiles, which is when transformers skips its eager-only value checks (the mask
    utilities' ``.all()``, the packed-sequence test). A probe on bare meta tensors would
    reject models that export traces. On the CPU the model simply runs: the real
    frontend traces whatever runs there."""
    if not on_meta:
        yield
        return
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.fx.experimental.symbolic_shapes import ShapeEnv

    flag = getattr(torch.compiler, "_is_compiling_flag", None)
    if flag is not None:
        torch.compiler._is_compiling_flag = True
    log = logging.getLogger("torch._subclasses.fake_tensor")  # a failing plan is no news
    level, log.level = log.level, logging.CRITICAL
    try:
        with FakeTensorMode(allow_non_fake_inputs=True, shape_env=ShapeEnv()):
            yield
    finally:
        log.level = level
        if flag is not None:
            torch.compiler._is_compiling_flag = flag


# Errors of a forward that needs real values (or makes CPU tensors), not other shapes.
_META_ONLY = re.compile(
    r"meta tensor|'Meta' backend|meta device|device meta|same device|DeviceMismatch|"
    r"data-dependent|DataDependent|unallocated storage|unbacked|concrete integer|"
    r"[Gg]uard on|specialized integer"
)
