"""Validation of a model no frontend could trace: the model alone, measured by its values.

Without a graph there are no static claims, and nothing that needs a graph — dependence
of nodes, sites, unlisted products, transposes, cross-entry terms, graph fidelity — can
be checked. What the model itself shows is still measured: the degree of its output,
read from differences of its values along random lines through its floating-point
inputs (:func:`analyzer.empirical.model_lines.read_lines`, the reading that sees
through escapes autograd cannot follow). The report says it was not compared
(:attr:`~analyzer.empirical.report.ValidationReport.compared`): its ``agree`` and
``sound`` are ``False`` and its verdict reads ``not compared: the model could not be
traced: …``, never ``agree``.

>>> import torch
>>> square = lambda x: x * torch.from_numpy(x.detach().numpy().copy())
>>> report = validate_model_alone(square, (torch.randn(3),), {}, untraced="no frontend")
>>> report.degree_empirical, report.agree, report.verdict
('2', False, 'not compared: the model could not be traced: no frontend')
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch
import torch.utils._pytree as pytree

from analyzer.empirical.fidelity import Fidelity, model_reference
from analyzer.empirical.model_lines import MODEL_SPANS, read_lines
from analyzer.empirical.report import ValidationReport
from analyzer.empirical.sampling import Samples
from analyzer.errors import TraceError

NO_GRAPH = "not checked: no graph (the model could not be traced)"


def validate_model_alone(
    module: Any,
    example_args: Sequence[Any],
    example_kwargs: dict[str, Any],
    *,
    untraced: str,
    model: str = "model",
    device: str = "cpu",
    samples: int = 16,
    max_degree: int = 4,
    seed: int = 0,
    mode: str | None = None,
) -> ValidationReport:
    """What can be measured of ``module`` without a graph (``untraced``: why no frontend
    traced it): the degree of its output along ``samples`` random lines through its
    floating-point inputs, in float64 on ``device`` (a copy; the caller's module is never
    changed), with torch's generators seeded alike at every point. Raises
    :class:`~analyzer.errors.TraceError` naming both failures when the float64 copy
    cannot run at the example inputs either (then nothing is measured)."""
    started = time.perf_counter()
    reference = model_reference(module, example_args, example_kwargs, device, mode)
    leaves = pytree.tree_leaves((tuple(example_args), dict(example_kwargs)))
    positions = [
        i for i, leaf in enumerate(leaves)
        if isinstance(leaf, torch.Tensor) and leaf.is_floating_point()
    ]  # fmt: skip
    try:
        reference({}, seed)
    except Exception as error:
        raise TraceError(
            f"{untraced}; and the model alone could not be measured either: its float64 copy "
            f"raised {type(error).__name__} at the example inputs"
        ) from error
    values = tuple(leaves[i].detach().to(device=device, dtype=torch.float64) for i in positions)
    lines = Samples.draw(values, samples, seed) if values else None
    degree = None
    if lines is not None:
        degree = read_lines(reference, positions, lines.points, lines.lines, max_degree, seed)
    if not values:
        method = "not measured: the model has no floating-point input to move along a line"
    elif degree is None:
        method = "not measured: the model failed, or changed its output's shape, on every line"
    else:
        method = (
            f"differences of the model's own values along the lines, at {len(MODEL_SPANS)} "
            "spans (the model could not be traced: no graph to differentiate)"
        )
    return ValidationReport(
        model=model,
        device=str(device),
        dtype="float64",
        samples=samples,
        max_degree=max_degree,
        degree_static="",
        degree_empirical=degree if degree is not None else "undefined",
        derivative_norms=[],
        checked_nodes=0,
        violations=[],
        unconfirmed=[],
        sites=[],
        cross_pairs=0,
        cross_nonzero=0,
        cross_max=0.0,
        seconds=time.perf_counter() - started,
        batching="loop",
        analysis=None,
        mode=_mode(module, mode),
        frontend="none",
        degree_method=method,
        fidelity=Fidelity(note=NO_GRAPH),
        untraced=untraced,
    )


def _mode(module: Any, mode: str | None) -> str:
    """The mode the model ran in: ``mode`` when given, else the module's own."""
    if not isinstance(module, torch.nn.Module):
        return "none"
    return mode or ("train" if module.training else "eval")
