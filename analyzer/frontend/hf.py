"""Build any transformers architecture from its config, with random weights.

``hf:llama --config num_hidden_layers=2`` becomes ``AutoConfig.for_model("llama",
num_hidden_layers=2)`` and ``AutoModel.from_config`` on the meta device. Inputs come from
the model's ``forward`` signature and config (:mod:`analyzer.frontend.hf_plans`); the
first plan of inputs that the forward accepts is kept. A model whose forward fails on
the meta device (it reads a tensor's value, or makes CPU tensors) is rebuilt on the CPU
when it is small enough, and the warnings say so. Nothing is downloaded; transformers is
imported lazily.

Data flows one way through the builder's modules: the config
(:mod:`analyzer.frontend.hf_config`, shrunk by :mod:`analyzer.frontend.hf_shrink`), then
the model (here), then its inputs (:mod:`analyzer.frontend.hf_probe` runs the plans of
:mod:`analyzer.frontend.hf_plans`); their errors are in :mod:`analyzer.frontend.hf_errors`
(an unknown type or field is exit 2, a model transformers cannot build or run exit 3).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from analyzer.errors import SpecError
from analyzer.frontend.hf_config import described, hf_config
from analyzer.frontend.hf_errors import (
    MissingPackageError,
    TransformersError,
    first_line,
    import_transformers,
    missing_package,
)
from analyzer.frontend.hf_inputs import SEQUENCE_LENGTH
from analyzer.frontend.hf_probe import first_running, inputs_on, synthesised_plans
from analyzer.frontend.hf_shrink import SHRINK_LEVELS

__all__ = [  # the builder, and what its callers import from here
    "CPU_FALLBACK_MAX_PARAMETERS",
    "HFModel",
    "MissingPackageError",
    "TransformersError",
    "build_hf_model",
    "first_running",
    "hf_config",
    "inputs_on",
    "probed",
    "rebuilt_on_cpu",
    "synthesised_plans",
]

CPU_FALLBACK_MAX_PARAMETERS = 300_000_000
"""A model that fails on the meta device is rebuilt on the CPU up to this size (1.2 GB of
float32 weights); above it the error suggests ``--device cpu`` or a smaller config."""


@dataclass
class HFModel:
    """A built transformers model, its keyword inputs and what was decided on the way."""

    module: nn.Module
    inputs: dict[str, Any]
    device: str
    warnings: list[str] = field(default_factory=list)
    shrunk: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    # how to build it again (on the cpu, when tracing fails on meta)
    model_type: str = ""
    config: Any = field(default=None, repr=False)
    sizes: dict[str, Any] = field(default_factory=dict, repr=False)
    may_fall_back: bool = False
    # the input probe, when it was left to a failed trace (build_hf_model(probe=False))
    deferred_probe: Callable[[], HFModel] | None = field(default=None, repr=False)


def build_hf_model(
    model_type: str,
    overrides: dict[str, Any] | None = None,
    device: str | torch.device | None = None,
    *,
    batch: int = 1,
    seq_len: int = SEQUENCE_LENGTH,
    image_size: int | None = None,
    inputs: dict[str, torch.Tensor] | None = None,
    shrink: str | None = None,
    cpu_fallback: bool | None = None,
    max_cpu_parameters: int = CPU_FALLBACK_MAX_PARAMETERS,
    probe: bool = True,
) -> HFModel:
    """The base model of ``model_type`` with ``overrides``, and inputs its forward accepts.

    ``device`` defaults to ``meta``; ``cpu_fallback`` (default: when ``device`` was not
    given) rebuilds a model of up to ``max_cpu_parameters`` on the CPU when its forward
    fails on meta; a plan that leaves out a modality is tried only after that.
    ``shrink="layers"`` cuts every layer count to two, one layer of every kind kept;
    ``shrink="widths"`` also narrows the attention to two heads of the same size (and the
    MLP alike, and the experts of a mixture); when a shrunk model fails, the next level
    is tried, down to the default config (what the census does: a failure is then
    transformers' own). ``inputs`` replace synthesised inputs by name.

    ``probe=False`` (on the meta device, without ``shrink``) keeps the first complete plan
    without running the forward: that run is a fake-tensor forward which ``torch.export``
    repeats (a tenth of ``analyze``'s CPU time at the 70B shape). A caller that traces the
    model with export then calls :func:`probed` only when that trace fails, and goes on
    with what the probe picks, as if it had been probed here.

    >>> built = build_hf_model("bert", {"num_hidden_layers": 1}, seq_len=8)
    >>> built.device, {n: tuple(t.shape) for n, t in built.inputs.items()}
    ('meta', {'input_ids': (1, 8)})
    """
    if shrink is not None and shrink not in SHRINK_LEVELS:
        raise SpecError(f"shrink must be one of {SHRINK_LEVELS}, not {shrink!r}")
    started = time.perf_counter()
    fallback = device is None if cpu_fallback is None else cpu_fallback
    sizes = {"batch": batch, "seq_len": seq_len, "image_size": image_size, "overrides": inputs}
    # the less shrunk, the closer to the default config: the last try is the default itself
    levels = [*SHRINK_LEVELS[SHRINK_LEVELS.index(shrink) :], None] if shrink else [None]
    failures: list[str] = []
    for level in levels:
        config, shrunk, warnings = hf_config(model_type, overrides or {}, shrink=level)
        if level is not None and not shrunk:
            continue  # nothing to shrink at this level (or the config refused it)
        try:
            built = _build_and_fit(
                model_type, config, str(device or "meta"), sizes, fallback, max_cpu_parameters,
                probe=probe or shrink is not None,  # a shrink level is kept when its model runs
            )  # fmt: skip
        except TransformersError as error:
            if level is None or error.stage == "config":
                cause = str(error).split(": ", 1)[-1]
                other = [f for f in failures if f.split(": ", 1)[-1] != cause]
                if other:  # the shrunk model failed differently: say how
                    error.args = (f"{error.args[0]} (shrunk: {other[0]})",)
                raise
            failures.append(f"{level} shrunk: {_reason(error)}")
            continue
        notes = warnings + [f"less shrunk: {f}" for f in failures]
        described = functools.partial(
            _described, notes=notes, started=started, may_fall_back=fallback,
            max_cpu_parameters=max_cpu_parameters, shrunk=shrunk, model_type=model_type,
            config=config, sizes=sizes,
        )  # fmt: skip
        return described(built)
    raise AssertionError("unreachable: the last shrink level raises")


def probed(built: HFModel) -> HFModel:
    """``built`` with the inputs that the probe of :func:`build_hf_model` picks: itself when
    it was probed when built, else the first plan the forward runs on (the same model, or
    the model rebuilt on the CPU, as the builder would have chosen), or the builder's
    :class:`TransformersError` when none runs.

    >>> built = build_hf_model("bert", {"num_hidden_layers": 1}, seq_len=8, probe=False)
    >>> built.deferred_probe is not None, probed(built).deferred_probe is None
    (True, True)
    """
    return built if built.deferred_probe is None else built.deferred_probe()


def _described(
    built: HFModel,
    *,
    notes: list[str],
    started: float,
    may_fall_back: bool,
    max_cpu_parameters: int,
    **context: Any,
) -> HFModel:
    """``built`` with the builder's ``notes`` first among its warnings, and how to build it
    again (``context``); a deferred probe's result will be described alike."""
    built.warnings[:0] = notes
    built.seconds = time.perf_counter() - started
    for name, value in context.items():
        setattr(built, name, value)
    built.may_fall_back = may_fall_back and max_cpu_parameters >= _size(built.module)
    if built.deferred_probe is not None:
        run_probe = built.deferred_probe
        built.deferred_probe = lambda: _described(
            run_probe(), notes=notes, started=started, may_fall_back=may_fall_back,
            max_cpu_parameters=max_cpu_parameters, **context,
        )  # fmt: skip
    return built


def _build_and_fit(
    model_type: str,
    config: Any,
    device: str,
    sizes: dict[str, Any],
    fallback: bool,
    max_cpu_parameters: int,
    probe: bool = True,
) -> HFModel:
    """Build on ``device`` and keep the first input plan the forward runs on; without
    ``probe``, on meta, the first complete plan, and the probe for later."""
    model = _build_model(model_type, config, device)
    plans = synthesised_plans(model, sizes, device)
    fit = functools.partial(
        _fit, model, plans, model_type, config, device, sizes, fallback, max_cpu_parameters
    )
    if not probe and device == "meta":  # plans[0] is complete: the degraded ones come last
        return HFModel(model, plans[0].inputs, device, list(plans[0].notes), deferred_probe=fit)
    return fit()


def _fit(
    model: nn.Module,
    plans: list[Any],
    model_type: str,
    config: Any,
    device: str,
    sizes: dict[str, Any],
    fallback: bool,
    max_cpu_parameters: int,
) -> HFModel:
    """``model`` with the first of its input ``plans`` that the forward runs on.

    Complete plans come before those that leave out a modality. A plan that failed on
    the meta device only for want of values (not for its shapes) is tried again on the
    CPU when the model is small enough; a bigger one is handed to the tracer on meta."""
    fallback = fallback and device == "meta"
    size = _size(model) if fallback else 0
    cpu: list[Any] = []  # the model and its plans on the cpu, built when first needed
    failure, cpu_failure = "", ""
    for degraded in (False, True):
        indices = [i for i, p in enumerate(plans) if p.degraded == degraded]
        found, error, meta_only = first_running(model, [plans[i] for i in indices])
        failure = failure or error
        if found is not None:
            return HFModel(model, found.inputs, device, found.notes)
        valueless = [indices[i] for i in meta_only]  # failed for want of values, not shapes
        retry = sorted({indices[0], *valueless}) if indices else []  # and the first plan
        if not (fallback and retry):
            continue
        if size > max_cpu_parameters:
            if degraded or not valueless:
                continue
            retry = valueless
            note = (
                f"the forward fails when run on the meta device ({error}), and with "
                f"{size:,} parameters the model is too big to fall back to the cpu: traced "
                "on meta as it is (or use --device cpu)"
            )
            return HFModel(model, plans[retry[0]].inputs, device, [note, *plans[retry[0]].notes])
        if not cpu:
            cpu_model = _build_model(model_type, config, "cpu")
            cpu += [cpu_model, synthesised_plans(cpu_model, sizes, "cpu")]
        found, cpu_error, _ = first_running(cpu[0], [cpu[1][i] for i in retry])
        if found is not None:
            note = (
                f"built on the cpu: the forward fails on the meta device ({error}); the "
                f"model has {size:,} parameters"
            )
            return HFModel(cpu[0], found.inputs, "cpu", [note, *found.notes])
        cpu_failure = cpu_failure or cpu_error
    if cpu_failure:
        failure = f"on meta: {failure}; on cpu: {cpu_failure}"
    names = ", ".join(
        f"{n} {list(v.shape)}" for n, v in plans[0].inputs.items() if hasattr(v, "shape")
    )
    raise TransformersError(
        f"hf:{model_type}: the model's forward fails on the synthesised inputs ({names}): "
        f"{failure}. Give inputs with --input NAME=SPEC, or a factory FILE.py:NAME",
        "forward",
    )


def rebuilt_on_cpu(built: HFModel, error: BaseException) -> HFModel | None:
    """``built`` again on the CPU, when tracing it on the meta device failed with
    ``error`` and it is small enough (``None`` otherwise): values the tracer could not
    know on meta (a mask's ``.all()``, a grid's sizes) are real there.

    >>> built = build_hf_model("bert", {"num_hidden_layers": 1}, seq_len=8)
    >>> rebuilt_on_cpu(built, RuntimeError("data-dependent")).device
    'cpu'
    """
    if built.device != "meta" or not built.may_fall_back or built.config is None:
        return None
    model = _build_model(built.model_type, built.config, "cpu")
    plans = synthesised_plans(model, built.sizes, "cpu")
    plan, _, _ = first_running(model, [p for p in plans if not p.degraded])
    plan = plan or first_running(model, [p for p in plans if p.degraded])[0]
    if plan is None:
        return None
    note = (
        f"built on the cpu: tracing on the meta device failed ({type(error).__name__}: "
        f"{first_line(error)})"
    )
    return dataclasses.replace(
        built, module=model, inputs=plan.inputs, device="cpu",
        warnings=[*built.warnings, note, *plan.notes], may_fall_back=False,
    )  # fmt: skip


def _size(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _build_model(model_type: str, config: Any, device: str) -> nn.Module:
    transformers = import_transformers()
    try:
        with torch.device(device):
            model = transformers.AutoModel.from_config(config)
    except ImportError as error:
        raise missing_package(model_type, error) from error
    except Exception as error:
        raise TransformersError(
            f"transformers cannot build hf:{model_type} from {described(config)}: "
            f"{type(error).__name__}: {first_line(error)}",
            "model",
        ) from error
    if type(model).forward is nn.Module.forward:  # nothing to trace (Bark only generates)
        raise TransformersError(
            f"hf:{model_type}: {type(model).__name__} has no forward (transformers gives it "
            "generation only); analyse one of its sub-models with a factory FILE.py:NAME",
            "no forward",
        )
    return model.eval()


def _reason(error: BaseException) -> str:
    """The cause in a message, without whose config it was (to compare two failures)."""
    return first_line(error).split(": ", 1)[-1]
