"""Model specs: what ``analyzer analyze SPEC`` can name, turned into a model and inputs.

``zoo:NAME``, ``hf:MODEL_TYPE``, ``FILE.py:NAME`` and ``package.module:NAME``, where
``NAME`` is a factory returning ``(module, example_args)``, a module instance, or an
``nn.Module`` subclass (then ``--input`` specs give the inputs).

>>> parse_input_spec("int64[1,16]<50000").shape
torch.Size([1, 16])
>>> parse_config(["num_hidden_layers=2", "hidden_act=gelu"])
{'num_hidden_layers': 2, 'hidden_act': 'gelu'}
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from analyzer.errors import SpecError, TraceError

_INPUT = re.compile(r"^\s*(\w+)\s*\[\s*([\d\s,]*)\]\s*(?:<\s*(\d+)\s*)?$")


@dataclass
class LoadedModel:
    """A model ready to trace: the module, its example inputs and how to name it."""

    module: Any
    args: tuple[Any, ...]
    label: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # what building decided (hf: fallbacks)
    # the same model built another way, for a tracing failure (hf: meta → cpu), or None
    retry: Callable[[BaseException], LoadedModel | None] | None = None


def parse_input_spec(text: str, device: str | torch.device = "cpu") -> torch.Tensor:
    """A random example tensor from ``'DTYPE[d0,d1,…]'`` (``'<HIGH'`` bounds integers).

    Raises :class:`SpecError` naming the spec when it is malformed.
    """
    match = _INPUT.match(text)
    if not match:
        raise SpecError(
            f"malformed --input {text!r}: expected DTYPE[d0,d1,...], e.g. 'float32[2,16,64]' "
            "or 'int64[1,16]<50000' for token ids below 50000"
        )
    dtype_name, dims, high = match.groups()
    dtype = getattr(torch, dtype_name, None)
    if not isinstance(dtype, torch.dtype):
        raise SpecError(f"--input {text!r}: {dtype_name!r} is not a torch dtype (try float32)")
    shape = [int(d) for d in dims.replace(" ", "").split(",") if d]
    if high is not None and (dtype.is_floating_point or dtype.is_complex):
        raise SpecError(f"--input {text!r}: a '<HIGH' bound is for integer inputs only")
    if dtype.is_floating_point or dtype.is_complex:
        return torch.randn(shape, dtype=dtype, device=device)
    upper = int(high) if high is not None else 2
    if upper < 1:
        raise SpecError(f"--input {text!r}: the bound after '<' must be at least 1")
    return torch.randint(0, upper, shape, device=device).to(dtype)


def parse_config(items: list[str]) -> dict[str, Any]:
    """``key=value`` overrides; values are read as JSON when they parse, else as text."""
    config: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not key.strip().isidentifier():
            raise SpecError(
                f"malformed --config {item!r}: expected key=value, e.g. num_hidden_layers=2"
            )
        try:
            config[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            config[key.strip()] = value
    return config


def load_model(
    spec: str,
    *,
    inputs: list[str] | None = None,
    config: list[str] | None = None,
    device: str | None = None,
    seq_len: int | None = None,
    batch: int | None = None,
    image_size: int | None = None,
) -> LoadedModel:
    """Build the model a spec names, with example inputs on ``device``.

    Models the tool builds (``zoo:``, ``hf:``) default to the ``meta`` device, so no
    memory is spent on weights; user models stay where their factory puts them unless
    ``device`` is given. ``seq_len``, ``batch`` and ``image_size`` size the inputs of
    ``hf:`` models, whose ``inputs`` are ``NAME=SPEC`` (each replaces the named input).
    """
    inputs, config = inputs or [], config or []
    if config and not spec.startswith("hf:"):
        raise SpecError(f"--config applies to hf: models only, not to {spec!r}")
    sizes = {"seq_len": seq_len, "batch": batch, "image_size": image_size}
    given = [f"--{k.replace('_', '-')}" for k, v in sizes.items() if v is not None]
    if given and not spec.startswith("hf:"):
        raise SpecError(f"{', '.join(given)} apply to hf: models only, not to {spec!r}")
    if spec.startswith("zoo:"):
        from analyzer.frontend.zoo import build_zoo_model

        with torch.device(device or "meta"):
            module, args = build_zoo_model(spec[4:])
            if inputs:
                args = tuple(parse_input_spec(text) for text in inputs)
        return LoadedModel(module, args, spec)
    if spec.startswith("hf:"):
        from analyzer.frontend.hf import build_hf_model, rebuilt_on_cpu
        from analyzer.frontend.hf_plans import named_inputs

        named = {name: parse_input_spec(text) for name, text in named_inputs(inputs).items()}
        sized = {k: v for k, v in sizes.items() if v is not None}
        built = build_hf_model(spec[3:], parse_config(config), device, inputs=named, **sized)

        def on_cpu(error: BaseException) -> LoadedModel | None:
            again = rebuilt_on_cpu(built, error)
            return again and LoadedModel(again.module, (), spec, again.inputs, again.warnings)

        return LoadedModel(built.module, (), spec, built.inputs, built.warnings, on_cpu)
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name:
        raise SpecError(
            f"malformed model spec {spec!r}: use zoo:NAME, hf:MODEL_TYPE, FILE.py:NAME or "
            "package.module:NAME"
        )
    namespace = _import_target(target, spec)
    if not hasattr(namespace, name):
        raise SpecError(f"{target!r} has no attribute {name!r} (from model spec {spec!r})")
    return _instantiate(getattr(namespace, name), spec, inputs, device)


def _import_target(target: str, spec: str) -> Any:
    if target.endswith(".py") or "/" in target:
        path = Path(target)
        if not path.is_file():
            raise SpecError(f"model file {str(path)!r} does not exist (from model spec {spec!r})")
        module_name = f"_analyzer_user_{abs(hash(path.resolve()))}"
        loader_spec = importlib.util.spec_from_file_location(module_name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise SpecError(f"cannot import {str(path)!r} as Python (from model spec {spec!r})")
        namespace = importlib.util.module_from_spec(loader_spec)
        sys.modules[module_name] = namespace
        sys.path.insert(0, str(path.resolve().parent))
        try:
            loader_spec.loader.exec_module(namespace)
        except Exception as error:
            raise TraceError(f"importing {str(path)!r} raised {type(error).__name__}: {error}")
        finally:
            sys.path.remove(str(path.resolve().parent))
        return namespace
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as error:
        raise SpecError(f"cannot import module {target!r} ({error}; from model spec {spec!r})")


def _instantiate(obj: Any, spec: str, inputs: list[str], device: str | None) -> LoadedModel:
    args: tuple[Any, ...] = tuple(parse_input_spec(text, device or "cpu") for text in inputs)
    if isinstance(obj, type) and issubclass(obj, nn.Module):
        try:
            module = obj()
        except Exception as error:
            raise TraceError(f"{spec}: constructing {obj.__name__}() raised {error}") from error
    elif isinstance(obj, nn.Module):
        module = obj
    elif callable(obj):
        try:
            built = obj()
        except Exception as error:
            raise TraceError(f"{spec}: the factory raised {type(error).__name__}: {error}")
        if isinstance(built, nn.Module):
            module = built
        elif isinstance(built, tuple) and len(built) == 2 and isinstance(built[0], nn.Module):
            module = built[0]
            given = built[1]
            if not inputs:
                args = tuple(given) if isinstance(given, (tuple, list)) else (given,)
        else:
            raise SpecError(
                f"{spec}: the factory must return (module, example_args) or an nn.Module, "
                f"not {type(built).__name__}"
            )
    else:
        raise SpecError(f"{spec} names a {type(obj).__name__}: expected a factory or nn.Module")
    if not args:
        raise SpecError(
            f"{spec} gives no example inputs: pass --input, e.g. --input 'float32[2,16,64]'"
        )
    if device is not None:
        module = module.to(device)
        args = tuple(a.to(device) if isinstance(a, torch.Tensor) else a for a in args)
    return LoadedModel(module, args, spec)
