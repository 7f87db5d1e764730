"""The empirical backend: check what ``analyze`` publishes by differentiating the model.

docs/json.md. The model is traced exactly as ``analyze`` traces it, the passes run on
that graph, and the *same* graph is executed node by node in float64
(:mod:`analyzer.empirical.execute`; ops whose PyTorch derivatives are wrong or missing
run through :mod:`analyzer.empirical.ops`). Every published claim is then measured
(:mod:`analyzer.empirical.checks`):

* **dependence** of every node: a non-zero tangent at a node called ``static`` or
  ``discrete``, or a value that changes between input samples at a node called
  ``static``, is a *violation*; a ``continuous`` node whose tangent is always zero is
  *unconfirmed* (allowed: the static pass over-approximates).
* **degree** of the output and of every node with a finite claimed degree, by nested
  ``jvp`` along random lines: the smallest ``k`` whose derivative ``k+1`` vanishes, relative
  to the lower derivatives' own scale. A node measured above its claim is a violation.
* **sites**, parts of fused ops included: confirmed when the operands vary and the
  product at that node mixes distinct input entries (its node-local mixed derivative
  along directions with disjoint supports is non-zero).
* **cross-entry terms** ``∂²y/∂xᵢ∂xⱼ`` (``i ≠ j``) of the output: non-zero ones contradict
  a claim of piecewise affinity.

``agree`` holds when no claim is contradicted, the output degree equals the claim and
every site is confirmed; ``sound`` when no claim is contradicted (over-approximation
allowed). A model that runs but that no frontend can trace has no claims: it is measured
alone, by its values (:mod:`analyzer.empirical.model_alone`), and its verdict says that
nothing was compared.

>>> from analyzer.frontend.zoo import build_zoo_model
>>> report = validate(*build_zoo_model("linear_attention"), samples=4)
>>> report.agree, report.degree_empirical, [s.confirmed for s in report.sites]
(True, '3', [True, True])
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from analyzer.analysis import Analysis, analyze_traced
from analyzer.empirical.batching import (
    GIB,
    default_budget,
)
from analyzer.empirical.execute import ExecutionError, NodeError
from analyzer.empirical.fidelity import (
    Reference,
    model_reference,
)
from analyzer.empirical.measure import measure
from analyzer.empirical.model_alone import validate_model_alone
from analyzer.empirical.report import (
    RELATIVE_TOLERANCE,
    SCHEMA,
    SiteCheck,
    ValidationReport,
)
from analyzer.empirical.weights import random_model_weights
from analyzer.errors import AnalyzerError, SpecError, UntraceableError
from analyzer.frontend.dialect import TracedModel
from analyzer.frontend.tracing import trace
from analyzer.frontend.training import TrainingStep
from analyzer.progress import SILENT, Progress

__all__ = [
    "RELATIVE_TOLERANCE",
    "SCHEMA",
    "SiteCheck",
    "ValidationReport",
    "check_options",
    "default_device",
    "validate",
    "validate_traced",
]


def default_device() -> str:
    """``cuda`` when a GPU is present, else ``cpu``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


@contextlib.contextmanager
def exact_arithmetic() -> Iterator[None]:
    """TF32 off while validating: it breaks exact identities at ~1e-3 on NVIDIA GPUs.

    cuDNN's flag is set through its ``flags`` context manager, the one way torch allows
    once ``disable_global_flags()`` ran (importing torch's own test utilities does that).
    """
    cudnn = torch.backends.cudnn
    matmul = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with cudnn.flags(
            enabled=cudnn.enabled, benchmark=cudnn.benchmark,
            benchmark_limit=cudnn.benchmark_limit, deterministic=cudnn.deterministic,
            allow_tf32=False,
        ):  # fmt: skip
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = matmul


def check_options(
    samples: int,
    max_degree: int,
    memory: float | None,
    device: str,
    pairs: int | None = None,
    degree_method: str = "auto",
) -> None:
    """Fail early, naming the argument, on options no validation can use."""
    if samples < 1:
        raise SpecError(f"samples must be at least 1, not {samples}")
    if pairs is not None and pairs < 1:
        raise SpecError(f"pairs must be at least 1, not {pairs}")
    if degree_method not in ("auto", "interpolation", "nested"):
        raise SpecError(
            f"degree_method must be 'auto', 'interpolation' or 'nested', not {degree_method!r}"
        )
    if not 1 <= max_degree <= 8:
        raise SpecError(f"max_degree must be between 1 and 8, not {max_degree}")
    if memory is not None and not memory > 0:
        raise SpecError(f"memory must be a positive number of GiB, not {memory}")
    if device == "meta":
        raise SpecError("device 'meta' cannot run the model: use cpu or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SpecError(f"device {device!r} was asked for, but CUDA is not available here")


def validate(
    module: torch.nn.Module,
    example_args: Sequence[Any],
    *,
    example_kwargs: dict[str, Any] | None = None,
    model: str = "model",
    device: str | None = None,
    samples: int = 16,
    max_degree: int = 4,
    pairs: int | None = None,
    seed: int = 0,
    batched: bool = True,
    frontend: str = "auto",
    mode: str | None = None,
    memory: float | None = None,
    progress: Progress = SILENT,
    degree_method: str = "auto",
    training: TrainingStep | None = None,
) -> ValidationReport:
    """Trace ``module`` as ``analyze`` does, analyse it, and check every published claim
    by differentiating the same graph in float64 on ``device`` (default
    :func:`default_device`). The module is analysed in the mode it was handed in unless
    ``mode`` names one, and is never changed (a model built on the meta device is
    copied and given random weights). ``samples`` random lines measure degrees;
    ``pairs`` pairs of directions with disjoint supports (default: ``samples``) measure
    dependence, sites and cross-entry terms. ``memory`` (GiB) bounds the peak memory by
    splitting the samples into chunks (default: half of the device's free memory).
    ``degree_method`` is ``auto`` (interpolation where exact, else nested ``jvp``),
    ``interpolation`` or ``nested``. With ``training``, the graph checked is one SGD step
    of the model (docs/concepts.md), differentiated with respect to the data and targets.
    When no frontend can trace a model that runs (:class:`~analyzer.errors.UntraceableError`),
    the model alone is measured by its values (:mod:`analyzer.empirical.model_alone`): the
    report has no claims, says so in its verdict, and neither agrees nor is sound.
    """
    device = device or default_device()
    check_options(samples, max_degree, memory, device, pairs, degree_method)
    started = time.perf_counter()
    module = _materialised(module, device)
    try:
        with progress.task("trace and analysis"):
            traced = trace(
                module, example_args, example_kwargs=example_kwargs, model=model,
                frontend=frontend, mode=mode, training=training,
            )  # fmt: skip
            analysis = analyze_traced(traced)
    except UntraceableError as error:
        if training is not None:  # a training step's output is weights: no model to run
            raise
        with progress.task("measuring the model alone by its values"), exact_arithmetic():
            alone = validate_model_alone(
                module, example_args, example_kwargs or {}, untraced=str(error), model=model,
                device=device, samples=samples, max_degree=max_degree, seed=seed, mode=mode,
            )  # fmt: skip
        alone.seconds = time.perf_counter() - started
        return alone
    traced_in = time.perf_counter() - started
    reference: Reference | str = (
        "not checked: a training step returns updated weights, not the model's output"
        if training is not None
        else _reference(module, example_args, example_kwargs or {}, device, mode, memory)
    )
    report = validate_traced(
        traced, analysis, device=device, samples=samples, max_degree=max_degree, pairs=pairs,
        seed=seed, batched=batched, memory=memory, progress=progress,
        degree_method=degree_method, reference=reference,
    )  # fmt: skip
    report.seconds_by_check = {"trace": traced_in, **report.seconds_by_check}
    report.seconds = time.perf_counter() - started
    return report


def _reference(
    module: Any,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    device: str,
    mode: str | None,
    memory: float | None,
) -> Reference | str:
    """The model itself in float64 for the fidelity check, or why it is left out."""
    if isinstance(module, torch.nn.Module):
        weights = sum(t.numel() for t in [*module.parameters(), *module.buffers()]) * 8
        budget = memory * GIB if memory is not None else default_budget(torch.device(device))
        if weights > budget / 4:
            return "not checked: a float64 copy of the model does not fit the memory budget"
    return model_reference(module, args, kwargs, device, mode)


def _materialised(module: Any, device: str) -> Any:
    """A module built on the meta device becomes a copy with random weights on ``device``
    (the caller's module is never changed); any other module is used as it is."""
    if not isinstance(module, torch.nn.Module):
        return module
    tensors = [*module.parameters(), *module.buffers()]
    if not any(t.is_meta for t in tensors):
        return module
    module = copy.deepcopy(module)
    random_model_weights(module, torch.device(device))
    return module


def validate_traced(
    traced: TracedModel,
    analysis: Analysis | None = None,
    *,
    device: str | None = None,
    samples: int = 16,
    max_degree: int = 4,
    pairs: int | None = None,
    seed: int = 0,
    batched: bool = True,
    memory: float | None = None,
    progress: Progress = SILENT,
    scope: str = "the model's input",
    degree_method: str = "auto",
    reference: Reference | str = "not checked: no model to compare the graph with",
) -> ValidationReport:
    """Check the claims of ``analysis`` (default: ``analyze`` of ``traced``) on the very
    graph it was computed from. ``traced`` must come from :func:`analyzer.trace` (a
    stored trace has no weights to run). ``reference`` runs the model itself at given
    inputs (:func:`analyzer.empirical.fidelity.model_reference`) so that the graph can be
    compared with it."""
    device = device or default_device()
    check_options(samples, max_degree, memory, device, pairs, degree_method)
    analysis = analysis if analysis is not None else analyze_traced(traced)
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    try:
        with exact_arithmetic():
            report = measure(
                traced, analysis, torch.device(device), samples, pairs or samples, max_degree,
                seed, batched, memory, progress, seconds, degree_method, reference,
            )  # fmt: skip
    except NodeError as error:
        raise ExecutionError(
            f"validate could not run or differentiate {traced.model}: {error}. The static "
            "analysis is unaffected; this op needs an implementation in "
            "analyzer/empirical/ops/ to be validated."
        ) from error
    except torch.OutOfMemoryError as error:
        raise ExecutionError(
            f"validate ran out of device memory on {traced.model}: lower --memory or "
            "--samples, or use --blockwise"
        ) from error
    except (AnalyzerError, KeyboardInterrupt):
        raise
    except Exception as error:  # never a traceback: one paragraph, exit 3 (--debug shows it)
        lines = [line for line in str(error).splitlines() if line.strip()]
        raise ExecutionError(
            f"validate could not run or differentiate {traced.model}: "
            f"{type(error).__name__}: {lines[0][:300] if lines else ''}"
        ) from error
    report.seconds = time.perf_counter() - started
    report.seconds_by_check = seconds
    report.scope = scope
    return report
