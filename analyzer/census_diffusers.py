"""The census over diffusers: every model class diffusers exports, analysed as the
transformers architectures are, into the same table and page with the same categories.

A class is named ``diffusers:CLASS`` in the census (its row, its results file). It is
built from its default config with its layer counts cut (when the census shrinks) on the
meta device, given inputs from its forward signature (:mod:`analyzer.frontend.diffusion`),
traced and analysed; a shrunk model that fails is tried again at its default config, and
a model whose trace fails on meta is rebuilt on the cpu when small enough. Failures fall
into the census's categories: ``missing package`` (its code needs one), ``model`` (it does
not build from its default config), ``no forward``, ``inputs`` (a required input no rule
builds), ``forward`` (it fails on every input layout), ``trace``, ``analysis``, ``error``.

>>> "diffusers:UNet2DConditionModel" in diffusers_types()
True
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any

from torch import nn

from analyzer.census import (
    CensusOptions,
    _write_model_report,
    analyse_type,
    analysed_fields,
    failure_record,
)
from analyzer.errors import SpecError, TraceError, did_you_mean

PREFIX = "diffusers:"
SOURCES = ("transformers", "diffusers", "all")


def diffusers_types() -> list[str]:
    """Every model class diffusers exports, as census names (``diffusers:CLASS``)."""
    from analyzer.frontend.diffusion import model_classes

    return [PREFIX + name for name in model_classes()]


def source_types(source: str, types: list[str] | None = None) -> list[str] | None:
    """The census names of ``source`` (``None``: the transformers default), or ``types``
    checked against it: a diffusers class given without its prefix gets it, and an unknown
    class is refused with the closest names."""
    if source not in SOURCES:
        raise SpecError(f"--source {source!r}: choose one of {', '.join(SOURCES)}")
    if types is None:
        if source == "transformers":
            return None
        from analyzer.census import census_types

        found = diffusers_types()
        return found if source == "diffusers" else census_types() + found
    if source == "transformers":
        return types
    known = diffusers_types()
    named = []
    for name in types:
        wanted = name if name.startswith(PREFIX) or source == "all" else PREFIX + name
        if wanted.startswith(PREFIX) and wanted not in known:
            bare = [k.removeprefix(PREFIX) for k in known]
            raise SpecError(
                f"--types: diffusers has no model class {wanted.removeprefix(PREFIX)!r}"
                + did_you_mean(wanted.removeprefix(PREFIX), bare)
            )
        named.append(wanted)
    return named


def analyse_any(model_type: str, options: CensusOptions, out: Path | None = None) -> dict:
    """What a census worker runs: a diffusers class here, a transformers type as ever."""
    if model_type.startswith(PREFIX):
        return analyse_class(model_type, options, out)
    return analyse_type(model_type, options, out)


def analyse_class(name: str, options: CensusOptions, out: Path | None = None) -> dict[str, Any]:
    """Build, trace and analyse one diffusers class; its record (never raises for the
    model's own failures)."""
    from analyzer.analysis import analyze_traced
    from analyzer.frontend.diffusion import (
        build_diffusers_model,
        built_model,
        diffusers_inputs,
        model_class,
    )
    from analyzer.frontend.tracing import trace

    started = time.perf_counter()
    class_name = name.removeprefix(PREFIX)
    stage, failures = "build", []
    try:
        cls = model_class(class_name)
        if cls.forward is nn.Module.forward:
            return failure_record(name, "no forward", f"{class_name} has no forward", 0.0)
        levels = [True, False] if options.shrink else [False]
        for shrink in levels:
            stage = "build"
            try:
                loaded = build_diffusers_model(
                    class_name, shrink=shrink, seq_len=options.seq_len, batch=options.batch
                )
                stage = "trace"
                try:
                    traced = trace(loaded.module, (), model=name, example_kwargs=loaded.kwargs)
                except TraceError:
                    size = sum(p.numel() for p in loaded.module.parameters())
                    if size > options.max_cpu_parameters:
                        raise
                    config = dict(loaded.module.config)
                    module = built_model(cls, config, "cpu")
                    inputs, _ = diffusers_inputs(
                        module, batch=options.batch, seq_len=options.seq_len, device="cpu"
                    )
                    loaded.module, loaded.kwargs = module, inputs
                    loaded.warnings.append("built on the cpu: tracing on the meta device failed")
                    traced = trace(module, (), model=name, example_kwargs=inputs)
                break
            except (SpecError, TraceError) as error:
                if not shrink:
                    raise
                failures.append(f"shrunk: {type(error).__name__}: {str(error)[:200]}")
        traced.warnings[:0] = loaded.warnings + [f"less shrunk: {f}" for f in failures]
        stage = "analysis"
        result = analyze_traced(traced)
        document = result.to_json()
    except ImportError as error:  # the class's code needs a package not installed here
        return failure_record(name, "missing package", f"{error}", _since(started))
    except SpecError as error:
        category = {"build": "inputs" if "synthesise" in str(error) else "model"}.get(
            stage, "analysis"
        )
        return failure_record(name, category, str(error), _since(started))
    except TraceError as error:
        category = "trace" if stage == "trace" else "forward"
        if stage == "build" and "cannot build" in str(error):
            category = "model"
        return failure_record(name, category, str(error), _since(started))
    except Exception as error:  # a bug of the tool or of diffusers: recorded, not lost
        where = traceback.extract_tb(error.__traceback__)[-1]
        message = f"{type(error).__name__}: {error} (at {Path(where.filename).name}:{where.lineno})"
        category = {"analysis": "analysis", "trace": "trace"}.get(stage, "error")
        return failure_record(name, category, message, _since(started))
    module = loaded.module
    shrunk = _shrunk(loaded.warnings)
    record = {
        "type": name,
        "status": "analysed",
        "class": class_name,
        **analysed_fields(document),
        "device": next((p.device.type for p in module.parameters()), "meta"),
        "parameters": sum(p.numel() for p in module.parameters()),
        "inputs": {n: list(v.shape) for n, v in loaded.kwargs.items() if hasattr(v, "shape")},
        "shrunk": shrunk,
        "shrink": "layers" if shrunk else "none",  # diffusers models: layer counts only
        "seconds": 0.0,
    }
    if out is not None and options.reports:
        record["report"] = _write_model_report(result, out, name)
    record["seconds"] = _since(started)
    return record


def _shrunk(warnings: list[str]) -> dict[str, Any]:
    for warning in warnings:
        if warning.startswith("shrunk: "):
            pairs = (item.split("=") for item in warning.removeprefix("shrunk: ").split(", "))
            return {key: int(value) for key, value in pairs}
    return {}


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 2)
