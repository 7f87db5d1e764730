"""Model specs: what ``analyzer analyze SPEC`` can name, turned into a model and inputs.

``zoo:NAME``, ``hf:MODEL_TYPE``, ``FILE.py:NAME`` and ``package.module:NAME`` (imported
from the current folder first, as ``python -m`` does), where ``NAME`` is a factory
returning ``(module, example_args)`` or ``(module, example_args, example_kwargs)``, a
module instance, or an ``nn.Module`` subclass (then ``--input`` specs give the inputs).

>>> parse_input_spec("int64[1,16]<50000").shape
torch.Size([1, 16])
>>> parse_config(["num_hidden_layers=2", "hidden_act=gelu"])
{'num_hidden_layers': 2, 'hidden_act': 'gelu'}
>>> sorted(parse_kwargs(["mask=bool[1,16]"]))
['mask']
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from analyzer.errors import SpecError, TraceError, did_you_mean
from analyzer.frontend.loaded import (  # noqa: F401 (re-exported: the public names)
    LoadedModel,
    check_device,
    parameter_counts,
    parse_config,
    parse_input_spec,
    parse_kwargs,
    versions,
)


def load_model(
    spec: str,
    *,
    inputs: list[str] | None = None,
    config: list[str] | None = None,
    device: str | None = None,
    kwargs: list[str] | None = None,
    seq_len: int | None = None,
    batch: int | None = None,
    image_size: int | None = None,
    trust_pickle: bool = False,
    warn: Callable[[str], None] | None = None,
    component: str | None = None,
    probe: bool = True,
) -> LoadedModel:
    """Build the model a spec names, with example inputs on ``device``.

    Models the tool builds (``zoo:``, ``hf:``) default to the ``meta`` device, so no
    memory is spent on weights; user models stay where their factory puts them unless
    ``device`` is given. ``kwargs`` (``name=DTYPE[…]``) add or replace keyword inputs;
    for ``hf:`` models, whose inputs are built from their config, ``inputs`` name the
    argument they replace too (``NAME=SPEC``), and ``seq_len``, ``batch`` and
    ``image_size`` size the rest; so for ``diffusers:CLASS`` and checkpoint folders
    (:mod:`analyzer.frontend.checkpoints`: on meta unless ``device`` asks for the
    weights). A ``.pt2`` file is a saved program; a pickled module (``.pt``, ``.pth``…)
    loads only with ``trust_pickle`` (:mod:`analyzer.frontend.programs`). ``component``
    names the component of a diffusers pipeline folder to build (default: its main one).
    ``probe=False`` leaves an ``hf:`` model's input probe to a failed trace
    (:attr:`LoadedModel.unprobed`; the caller must trace with export and follow ``retry``).
    """
    inputs, config, kwargs = inputs or [], config or [], kwargs or []
    check_device(device)
    built = spec.startswith(("hf:", "diffusers:")) or Path(spec).is_dir()
    if component is not None and not Path(spec).is_dir():
        raise SpecError(
            f"--component applies to a diffusers pipeline folder (model_index.json) only, "
            f"not to {spec!r}"
        )
    if config and not built:
        raise SpecError(
            f"--config applies to hf:, diffusers: and checkpoint folders only, not to {spec!r}"
        )
    sizes = {"seq_len": seq_len, "batch": batch, "image_size": image_size}
    given = [f"--{k.replace('_', '-')}" for k, v in sizes.items() if v is not None]
    if given and not built:
        raise SpecError(
            f"{', '.join(given)} apply to hf:, diffusers: and checkpoint folders only, not to "
            f"{spec!r}"
        )
    if spec.startswith("diffusers:") or Path(spec).is_dir():
        return _built_elsewhere(spec, inputs, config, kwargs, device, sizes, component)
    if spec.endswith(".pt2") or Path(spec).suffix in PICKLE_SUFFIXES:
        if spec.endswith(".pt2"):
            from analyzer.frontend.programs import load_program

            return load_program(spec, inputs, kwargs, device)
        from analyzer.frontend.programs import load_pickled

        return load_pickled(spec, inputs, kwargs, device, trust_pickle, warn)
    if spec.startswith("zoo:"):
        from analyzer.frontend.zoo import ZOO, build_zoo_model

        name = spec[4:]
        if name not in ZOO:
            raise SpecError(
                f"unknown zoo model {name!r}{did_you_mean(name, ZOO)}; the zoo has: "
                f"{', '.join(sorted(ZOO))}"
            )
        with torch.device(device or "meta"):
            module, args = build_zoo_model(name)
            if inputs:
                args = tuple(parse_input_spec(text) for text in inputs)
            extra = parse_kwargs(kwargs)
        return LoadedModel(module, args, spec, extra)
    if spec.startswith("hf:"):
        from analyzer.frontend.hf import build_hf_model
        from analyzer.frontend.hf_plans import named_inputs

        named = {name: parse_input_spec(text) for name, text in named_inputs(inputs).items()}
        for name, value in parse_kwargs(kwargs).items():
            if name in named:
                raise SpecError(f"input {name!r} is given by both --input and --kwarg")
            named[name] = value
        sized = {k: v for k, v in sizes.items() if v is not None}
        built = build_hf_model(
            spec[3:], parse_config(config), device, inputs=named, probe=probe, **sized
        )
        return _hf_loaded(spec, built)
    target, sep, name = spec.rpartition(":")
    if not sep and spec.endswith(".py"):
        raise SpecError(_factories_of(spec))
    if not sep or not target or not name:
        raise SpecError(
            f"malformed model spec {spec!r}: use zoo:NAME, hf:MODEL_TYPE, FILE.py:NAME or "
            "package.module:NAME"
        )
    namespace = _import_target(target, spec)
    if not hasattr(namespace, name):
        public = [n for n in dir(namespace) if not n.startswith("_")]
        raise SpecError(
            f"{target!r} has no attribute {name!r}{did_you_mean(name, public)} (from model "
            f"spec {spec!r})"
        )
    return _instantiate(getattr(namespace, name), spec, inputs, kwargs, device)


PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin")  # torch.save pickles


def _hf_loaded(spec: str, built: Any) -> LoadedModel:
    """A built ``hf:`` model, whose ``retry`` after a failed trace is the probe's choice of
    inputs when they were not probed yet (itself retried on the CPU), else the model
    rebuilt on the CPU."""
    from analyzer.frontend.hf import probed, rebuilt_on_cpu

    def retry(error: BaseException) -> LoadedModel | None:
        if built.deferred_probe is not None:
            return _hf_loaded(spec, probed(built))
        again = rebuilt_on_cpu(built, error)
        return again and LoadedModel(again.module, (), spec, again.inputs, again.warnings)

    unprobed = built.deferred_probe is not None
    return LoadedModel(built.module, (), spec, built.inputs, built.warnings, retry, unprobed)


def _built_elsewhere(
    spec: str, inputs: list[str], config: list[str], kwargs: list[str], device: str | None,
    sizes: dict[str, int | None], component: str | None = None,
) -> LoadedModel:  # fmt: skip
    """``diffusers:CLASS`` and checkpoint folders: named inputs as for ``hf:``."""
    from analyzer.frontend.hf_plans import named_inputs

    named = {name: parse_input_spec(text) for name, text in named_inputs(inputs).items()}
    for name, value in parse_kwargs(kwargs).items():
        if name in named:
            raise SpecError(f"input {name!r} is given by both --input and --kwarg")
        named[name] = value
    if spec.startswith("diffusers:"):
        from analyzer.frontend.diffusion import build_diffusers_model

        return build_diffusers_model(
            spec.removeprefix("diffusers:"), parse_config(config), device, named=named, **sizes
        )
    from analyzer.frontend.checkpoints import is_checkpoint_folder, load_checkpoint

    if not is_checkpoint_folder(spec):
        raise SpecError(
            f"the folder {spec!r} holds neither a config.json nor a model_index.json: a "
            "checkpoint folder is what save_pretrained writes"
        )
    return load_checkpoint(
        spec, parse_config(config), device, named=named, component=component, **sizes
    )


def _factories_of(spec: str) -> str:
    """The message for ``FILE.py`` given without ``:NAME``: the names it could mean (the
    file's own functions and ``nn.Module`` classes, and module instances)."""

    namespace = _import_target(spec, spec)
    own = getattr(namespace, "__name__", "")
    names = [
        name
        for name, value in vars(namespace).items()
        if not name.startswith("_")
        and (
            (inspect.isfunction(value) and value.__module__ == own)
            or (isinstance(value, type) and issubclass(value, torch.nn.Module)
                and value.__module__ == own)
            or isinstance(value, torch.nn.Module)
        )
    ]  # fmt: skip
    if not names:
        return (
            f"{spec!r} defines no function or nn.Module to analyse: give FILE.py:NAME, where "
            "NAME returns (module, example_args) or is a module"
        )
    return f"{spec!r} needs :NAME, the factory or module to analyse: " + ", ".join(
        f"{spec}:{name}" for name in names
    )


def _import_target(target: str, spec: str) -> Any:
    if target.endswith(".py") or "/" in target:
        path = Path(target)
        if path.is_dir():
            raise SpecError(
                f"{str(path)!r} is a folder, not a Python file (from model spec {spec!r}): "
                "give FILE.py:NAME, or package.module:NAME for a package"
            )
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
    with _current_folder_importable():
        try:
            return importlib.import_module(target)
        except ModuleNotFoundError as error:
            if error.name is None or not (target + ".").startswith(error.name + "."):
                raise TraceError(f"importing {target!r} raised ModuleNotFoundError: {error}")
            raise SpecError(
                f"cannot import module {target!r} ({error}) from the current folder or the "
                f"installed packages (from model spec {spec!r})"
            )
        except Exception as error:
            raise TraceError(f"importing {target!r} raised {type(error).__name__}: {error}")


@contextlib.contextmanager
def _current_folder_importable() -> Iterator[None]:
    """``package.module`` resolves from the current folder first, as under ``python -m``."""
    folder = os.getcwd()
    added = folder not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        yield
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)


def _instantiate(
    obj: Any, spec: str, inputs: list[str], kwargs: list[str], device: str | None
) -> LoadedModel:
    args: tuple[Any, ...] = tuple(parse_input_spec(text, device or "cpu") for text in inputs)
    keywords: dict[str, Any] = {}
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
        module, given_args, keywords = _unpack_factory_result(built, spec)
        if not inputs and given_args is not None:
            args = given_args
    else:
        raise SpecError(f"{spec} names a {type(obj).__name__}: expected a factory or nn.Module")
    keywords = {**keywords, **parse_kwargs(kwargs, device or "cpu")}
    if not args and not keywords:
        raise SpecError(
            f"{spec} gives no example inputs: pass --input, e.g. --input 'float32[2,16,64]'"
        )
    if device is not None:
        module = module.to(device)
        args = tuple(a.to(device) if isinstance(a, torch.Tensor) else a for a in args)
        keywords = {
            k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in keywords.items()
        }
    return LoadedModel(module, args, spec, keywords)


def _unpack_factory_result(
    built: Any, spec: str
) -> tuple[nn.Module, tuple[Any, ...] | None, dict[str, Any]]:
    """A factory returns a module, ``(module, args)`` or ``(module, args, kwargs)``."""
    if isinstance(built, nn.Module):
        return built, None, {}
    if isinstance(built, tuple) and len(built) in (2, 3) and isinstance(built[0], nn.Module):
        given = built[1]
        args = tuple(given) if isinstance(given, (tuple, list)) else (given,)
        keywords = built[2] if len(built) == 3 else {}
        if not isinstance(keywords, dict) or not all(isinstance(k, str) for k in keywords):
            raise SpecError(
                f"{spec}: the factory's third value must be a dict of keyword inputs, not "
                f"{type(keywords).__name__}"
            )
        return built[0], args, dict(keywords)
    raise SpecError(
        f"{spec}: the factory must return an nn.Module, (module, example_args) or "
        f"(module, example_args, example_kwargs), not {type(built).__name__}"
    )
