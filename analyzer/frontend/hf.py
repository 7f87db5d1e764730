"""Build any transformers architecture from its config, with random weights.

``hf:llama --config num_hidden_layers=2`` becomes ``AutoConfig.for_model("llama",
num_hidden_layers=2)`` and ``AutoModel.from_config`` on the meta device. Inputs come from
the model's ``forward`` signature and config (:mod:`analyzer.frontend.hf_plans`); the
first plan of inputs that the forward accepts is kept. A model whose forward fails on
the meta device (it reads a tensor's value, or makes CPU tensors) is rebuilt on the CPU
when it is small enough, and the warnings say so. Nothing is downloaded; transformers is
imported lazily.

Failures are told apart, because they call for different actions: an unknown type or
config field, or an override the config class rejects, is the user's (exit 2); a
missing package is the environment's (exit 2, naming it); a default config or model that
transformers itself cannot build, or a forward that fails on every input plan, is exit 3.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from analyzer.errors import SpecError, TraceError
from analyzer.frontend.hf_inputs import SEQUENCE_LENGTH
from analyzer.frontend.hf_plans import (
    InputPlan,
    did_you_mean,
    input_plans,
    with_placeholder_tokens,
)
from analyzer.frontend.hf_shrink import SHRINK_LEVELS, repaired_config, shrink_config

CPU_FALLBACK_MAX_PARAMETERS = 300_000_000
"""A model that fails on the meta device is rebuilt on the CPU up to this size (1.2 GB of
float32 weights); above it the error suggests ``--device cpu`` or a smaller config."""


class MissingPackageError(SpecError):
    """The model's code needs a Python package that is not installed (exit code 2)."""

    def __init__(self, message: str, package: str) -> None:
        super().__init__(message)
        self.package = package


class TransformersError(TraceError):
    """transformers itself failed: ``stage`` is ``"config"`` (the default config does not
    build), ``"model"`` (the model does not build from it), ``"no forward"`` (the model
    class has none) or ``"forward"`` (the forward fails on every input plan). Exit 3."""

    def __init__(self, message: str, stage: str) -> None:
        super().__init__(message)
        self.stage = stage


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
                model_type, config, str(device or "meta"), sizes, fallback, max_cpu_parameters
            )
        except TransformersError as error:
            if level is None or error.stage == "config":
                cause = str(error).split(": ", 1)[-1]
                other = [f for f in failures if f.split(": ", 1)[-1] != cause]
                if other:  # the shrunk model failed differently: say how
                    error.args = (f"{error.args[0]} (shrunk: {other[0]})",)
                raise
            failures.append(f"{level} shrunk: {_reason(error)}")
            continue
        built.warnings[:0] = warnings + [f"less shrunk: {f}" for f in failures]
        built.shrunk, built.seconds = shrunk, time.perf_counter() - started
        built.model_type, built.config, built.sizes = model_type, config, sizes
        built.may_fall_back = fallback and max_cpu_parameters >= _size(built.module)
        return built
    raise AssertionError("unreachable: the last shrink level raises")


def _build_and_fit(
    model_type: str,
    config: Any,
    device: str,
    sizes: dict[str, Any],
    fallback: bool,
    max_cpu_parameters: int,
) -> HFModel:
    """Build on ``device`` and keep the first input plan the forward runs on.

    Complete plans come before those that leave out a modality. A plan that failed on
    the meta device only for want of values (not for its shapes) is tried again on the
    CPU when the model is small enough; a bigger one is handed to the tracer on meta."""
    model = _build_model(model_type, config, device)
    plans = synthesised_plans(model, sizes, device)
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
        f"{_first_line(error)})"
    )
    return dataclasses.replace(
        built, module=model, inputs=plan.inputs, device="cpu",
        warnings=[*built.warnings, note, *plan.notes], may_fall_back=False,
    )  # fmt: skip


def _size(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def hf_config(
    model_type: str, overrides: dict[str, Any], *, shrink: str | None = None
) -> tuple[Any, dict[str, Any], list[str]]:
    """The config of ``model_type`` with ``overrides`` (shrunk as :func:`shrink_config`
    says), the shrunk fields, and warnings. Raises the errors of the module docstring."""
    transformers = _transformers()
    if model_type not in transformers.CONFIG_MAPPING:
        raise SpecError(
            f"unknown hf: model type {model_type!r} (the model_type field of a config.json)"
            + did_you_mean(model_type, transformers.CONFIG_MAPPING.keys())
        )
    try:
        defaults = transformers.AutoConfig.for_model(model_type)
    except ImportError as error:
        raise _missing_package(model_type, error) from error
    except Exception as error:
        raise TransformersError(
            f"transformers cannot build the default config of hf:{model_type}: "
            f"{type(error).__name__}: {_first_line(error)}",
            "config",
        ) from error
    for key, value in overrides.items():
        owner, field = _field_owner(model_type, defaults, key)
        _check_type(model_type, key, value, getattr(owner, field))
    top = {k: v for k, v in overrides.items() if "." not in k}
    try:
        config = transformers.AutoConfig.for_model(model_type, **top)
        if len(top) < len(overrides):
            config = _with_sub_config_fields(config, overrides)
    except Exception as error:
        given = " ".join(f"{k}={v!r}" for k, v in overrides.items())
        raise SpecError(
            f"the {type(defaults).__name__} of hf:{model_type} rejects --config {given}: "
            f"{type(error).__name__}: {_first_line(error)}"
        ) from error
    shrunk: dict[str, Any] = {}
    warnings: list[str] = []
    if shrink:
        try:
            config, shrunk = shrink_config(config, model_type, shrink, keep=set(overrides))
        except Exception as error:  # the config class validates: keep its own sizes
            warnings.append(
                f"{shrink} not shrunk: the config rejects it ({type(error).__name__}: "
                f"{_first_line(error)})"
            )
    else:
        config, repaired = repaired_config(config, model_type, keep=set(overrides))
        if repaired:
            warnings.append(
                "set as the checkpoints do, since transformers' own forward fails on the "
                "default: " + ", ".join(f"{k}={v!r}" for k, v in repaired.items())
            )
    _without_cache(config)
    config._analyzer_described = (  # for messages: whose config failed
        "its config with " + " ".join(f"--config {k}={v!r}" for k, v in overrides.items())
        if overrides
        else ("its shrunk config" if shrunk else "its default config")
    )
    if "vocab_size" not in overrides:
        warnings += _placeholders_in_vocabulary(config)
    return config, shrunk, warnings


def _field_owner(model_type: str, defaults: Any, key: str) -> tuple[Any, str]:
    """The (sub-)config that holds ``key``'s field (``text_config.num_hidden_layers``: the
    text config) and the field's name; a :class:`SpecError` naming the closest fields when
    there is no such field."""
    *path, field = key.split(".")
    owner, walked = defaults, []
    for name in path:
        sub = getattr(owner, name, None)
        if sub is None or not hasattr(sub, "to_dict"):
            where = ".".join(walked) or model_type
            subs = [k for k, v in vars(owner).items() if hasattr(v, "to_dict")]
            raise SpecError(
                f"--config {key}=…: the {where} config has no sub-config {name!r}"
                + (did_you_mean(name, subs) if subs else " (it has no sub-configs)")
            )
        owner, walked = sub, [*walked, name]
    if not hasattr(owner, field):
        where = ".".join(walked) or model_type
        raise SpecError(
            f"--config {key}=…: the {where} config has no field {field!r}"
            + did_you_mean(field, [k for k in owner.to_dict() if not k.startswith("_")])
        )
    return owner, field


def _with_sub_config_fields(config: Any, overrides: dict[str, Any]) -> Any:
    """``config`` with the dotted overrides set in its sub-configs, rebuilt by its class so
    that derived fields follow (as ``from_dict`` of the changed document)."""
    document = config.to_dict()
    for key, value in overrides.items():
        *path, field = key.split(".")
        if not path:
            continue
        target = document
        for name in path:
            target = target[name]
        target[field] = value
    return type(config).from_dict(document)


def _check_type(model_type: str, key: str, value: Any, default: Any) -> None:
    """A value of the wrong type for its field (``num_hidden_layers=abc``) is bad input."""
    if default is None or value is None:
        return  # the field takes several types; the config checks it
    if isinstance(value, dict) and (isinstance(default, dict) or hasattr(default, "to_dict")):
        return  # a sub-config given as a dict: its own class checks its fields
    expected = type(default)
    fits = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        fits = True
    if not fits:
        raise SpecError(
            f"--config {key}={value!r}: the {model_type} config's {key} must be "
            f"{expected.__name__} (its default is {default!r}), not {type(value).__name__}"
        )


def _placeholders_in_vocabulary(config: Any) -> list[str]:
    """Some default configs put the image placeholder id just past the text vocabulary
    (LLaVA: ``image_token_id`` 32000, ``vocab_size`` 32000; the checkpoints have 32064):
    grow the vocabulary to hold it, so that an image can be given at all."""
    try:
        text = config.get_text_config()
    except (AttributeError, ValueError):
        return []
    vocab = getattr(text, "vocab_size", None)
    ids = [
        getattr(config, name, None)
        for name in ("image_token_id", "image_token_index", "video_token_id")
    ]
    ids = [i for i in ids if isinstance(i, int)]
    if not isinstance(vocab, int) or not ids or max(ids) < vocab:
        return []
    text.vocab_size = max(ids) + 1
    return [
        f"vocab_size {vocab} grown to {text.vocab_size}: the config's placeholder token id "
        f"{max(ids)} lies outside it"
    ]


def _without_cache(config: Any) -> None:
    """No cache objects in the traced outputs, in sub-configs too."""
    for holder in [config, *(getattr(config, n, None) for n in getattr(config, "sub_configs", {}))]:
        if holder is not None and hasattr(holder, "use_cache"):
            holder.use_cache = False


def _described(config: Any) -> str:
    """How a config came about, for messages: ``its default config`` and the like."""
    return getattr(config, "_analyzer_described", "its config")


def _build_model(model_type: str, config: Any, device: str) -> nn.Module:
    transformers = _transformers()
    try:
        with torch.device(device):
            model = transformers.AutoModel.from_config(config)
    except ImportError as error:
        raise _missing_package(model_type, error) from error
    except Exception as error:
        raise TransformersError(
            f"transformers cannot build hf:{model_type} from {_described(config)}: "
            f"{type(error).__name__}: {_first_line(error)}",
            "model",
        ) from error
    if type(model).forward is nn.Module.forward:  # nothing to trace (Bark only generates)
        raise TransformersError(
            f"hf:{model_type}: {type(model).__name__} has no forward (transformers gives it "
            "generation only); analyse one of its sub-models with a factory FILE.py:NAME",
            "no forward",
        )
    return model.eval()


def inputs_on(
    model: nn.Module, inputs: dict[str, Any], device: str | torch.device
) -> dict[str, Any]:
    """The same synthesised inputs (names and shapes) made again on ``device``: a model
    built on the meta device whose inputs must hold values (block-wise validation streams
    its weights to the device one block at a time).

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
    placeholder tokens in the text as the vision tower yields features."""
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
            raise _missing_package(type(model).__name__, error) from error
        except Exception as error:
            first_error = first_error or f"{type(error).__name__}: {_first_line(error)}"
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


_REQUIRES = re.compile(r"requires the (\S+) librar")


def _missing_package(model_type: str, error: ImportError) -> MissingPackageError:
    found = _REQUIRES.search(str(error))
    package = getattr(error, "name", None) or (found.group(1) if found else None)
    package = (package or "an uninstalled package").split(".")[0]
    distribution = _DISTRIBUTIONS.get(package, package)
    said = _first_line(error)
    if said.endswith(":"):  # "… You can install it with pip:" and the command on the next line
        said = said.rsplit(". ", 1)[0] + "."
    return MissingPackageError(
        f"hf:{model_type} needs the Python package {package!r}, which is not installed "
        f"(pip install {distribution}): {said}",
        package,
    )


# import names whose pip distribution is called otherwise
_DISTRIBUTIONS = {"PIL": "Pillow", "sklearn": "scikit-learn", "cv2": "opencv-python"}


def _transformers() -> Any:
    try:
        import transformers
    except ImportError as error:
        raise MissingPackageError(
            "hf: models need the transformers package: pip install 'analyzer[transformers]'",
            "transformers",
        ) from error
    return transformers


def _reason(error: BaseException) -> str:
    """The cause in a message, without whose config it was (to compare two failures)."""
    return _first_line(error).split(": ", 1)[-1]


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else repr(error)
    return text if len(text) < 300 else text[:300] + "…"
