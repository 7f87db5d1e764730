"""Whether the real shrunk model runs on the census's inputs: no clean row for one that fails.

A type built on the meta device is traced with fake tensors, which skip the model's own
checks on values: a vision-language model given no image placeholder tokens, or an audio
model given fewer audio tokens than its encoder yields features, traces and analyses
"clean", and its graph describes a computation that never happens. So the census runs
the real model once before it gives a verdict: ``validate`` does (it traces a copy with
random weights, after running it, :mod:`analyzer.frontend.runs`), and without
``--validate`` :func:`real_run_failure` does, on a copy with random weights on the CPU,
for a model of at most :data:`REAL_RUN_MAX_PARAMETERS`. A type whose real model fails is
a failure of category ``forward`` (:func:`unrunnable_record`), with the model's own
error, never counted clean; a larger model is not run, and its record says so
(``real_run``).

>>> record = unrunnable_record({"type": "x", "status": "analysed", "category": "clean",
...     "seconds": 1.0, "inputs": {"input_ids": [1, 16]}}, "ValueError: tokens: 0, features: 9")
>>> record["status"], record["category"], record["static_category"]
('failed', 'forward', 'clean')
"""

from __future__ import annotations

import copy
from typing import Any

from analyzer.errors import ForwardError

REAL_RUN_MAX_PARAMETERS = 100_000_000
"""The largest meta-built model run once on the CPU without ``--validate`` (400 MB of
float32 weights): above it, the run costs more than the analysis it checks."""

KEPT = (
    "class",
    "device",
    "parameters",
    "inputs",
    "shrunk",
    "shrink",
    "layers",
    "real_run",
    "validation",
)
"""The fields of an analysed record that a failed one keeps: what was built and fed, and
the validation that found the failure."""


def real_run_failure(
    built: Any, model_type: str, max_parameters: int = REAL_RUN_MAX_PARAMETERS
) -> tuple[str | None, str]:
    """``(error, how)``: the model's own error when the real shrunk model fails on the
    census's inputs (``None`` when it runs), and how that was found out (``ran on the
    cpu``, or why it was not run). A model built on the CPU was already run by the trace
    (:mod:`analyzer.frontend.runs`)."""
    import torch

    from analyzer.empirical.weights import random_model_weights
    from analyzer.frontend.hf import inputs_on
    from analyzer.frontend.runs import check_forward_runs

    if built.device != "meta":
        return None, f"ran on the {built.device} before tracing"
    size = sum(p.numel() for p in built.module.parameters())
    if size > max_parameters:
        return None, f"not run: {size:,} parameters, above {max_parameters:,}"
    module = copy.deepcopy(built.module)
    random_model_weights(module, torch.device("cpu"))
    try:
        inputs = inputs_on(built.module, built.inputs, "cpu")
        check_forward_runs(module, (), inputs, f"hf:{model_type}")
    except ForwardError as error:
        return str(error), "ran on the cpu"
    return None, "ran on the cpu"


def unrunnable_record(record: dict[str, Any], error: str) -> dict[str, Any]:
    """The failure record of an analysed type whose real model fails on its inputs:
    category ``forward``, the model's ``error`` (a :class:`~analyzer.errors.ForwardError`'s
    message), and what was built and fed; the category its analysis had is kept as
    ``static_category``, for reference only."""
    failed = {
        "type": record["type"],
        "status": "failed",
        "category": "forward",
        "error": error,
        "static_category": record.get("category"),
        "seconds": record["seconds"],
    }
    return failed | {k: record[k] for k in KEPT if k in record}


__all__ = ["KEPT", "REAL_RUN_MAX_PARAMETERS", "real_run_failure", "unrunnable_record"]
