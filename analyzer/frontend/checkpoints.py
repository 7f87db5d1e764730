"""Checkpoint folders: a model as a trainer saved it (``save_pretrained``), offline.

A folder with a transformers ``config.json`` builds the class its ``architectures``
names (else the ``AutoModel`` class of its ``model_type``); a diffusers ``config.json``
(with ``_class_name``) builds that diffusers class; a pipeline folder
(``model_index.json``) analyses its main component (``unet``, ``transformer``…), and
naming a component (``--component vae``) or its subfolder picks another. The flow runs
one way: config (with ``--config`` overrides, checked field by field) → build → inputs
(the same synthesis as ``hf:`` and ``diffusers:``). With the weights, an override that
changes a weight's shape leaves that weight random, and the notes say which.

The static analysis builds on the meta device and reads no weights. A command that
needs values (``validate``, ``expand``, or ``--device cpu``) loads the folder's
safetensors weights, sharded ones through their index; a weight file that is missing or
unreadable is a :class:`~analyzer.errors.SpecError` naming it. Nothing is downloaded
(``local_files_only``).

>>> is_checkpoint_folder("no/such/folder")
False
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from analyzer.errors import SpecError, TraceError, did_you_mean
from analyzer.frontend.loaded import LoadedModel

MAIN_COMPONENTS = ("unet", "transformer", "prior", "decoder", "vae")
"""A pipeline's components in the order one is taken as the main one."""

WEIGHTS = {
    "transformers": ("model.safetensors", "model.safetensors.index.json"),
    "diffusers": (
        "diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.safetensors.index.json"
    ),
}  # fmt: skip
"""The weight file of each library, single and sharded (its index)."""


def is_checkpoint_folder(spec: str) -> bool:
    """Whether ``spec`` is a folder holding a ``config.json`` or ``model_index.json``."""
    folder = Path(spec)
    return folder.is_dir() and any(
        (folder / name).is_file() for name in ("config.json", "model_index.json")
    )


def load_checkpoint(
    spec: str,
    overrides: Mapping[str, Any] | None = None,
    device: str | None = None,
    *,
    named: Mapping[str, torch.Tensor] | None = None,
    batch: int | None = None,
    seq_len: int | None = None,
    image_size: int | None = None,
    component: str | None = None,
) -> LoadedModel:
    """The model of checkpoint folder ``spec`` with inputs its forward runs on.

    ``device`` ``None`` or ``meta``: built on meta, no weights read; any other device:
    the folder's weights, loaded there. ``named`` inputs replace synthesised ones.
    ``component``: for a pipeline folder (``model_index.json``), the component to build
    (default: the main one, see :data:`MAIN_COMPONENTS`)."""
    folder, warnings = _component(Path(spec), component)
    config = _read_json(folder / "config.json")
    with_weights = device not in (None, "meta")
    sizes = {"batch": batch, "seq_len": seq_len, "image_size": image_size}
    if "_class_name" in config:
        loaded = _diffusers_checkpoint(folder, config, overrides or {}, device, named, sizes)
    else:
        loaded = _transformers_checkpoint(folder, overrides or {}, device, named, sizes)
    loaded.label = spec
    loaded.warnings[:0] = warnings
    loaded.warnings.append(
        f"weights read from {_weight_description(folder)}"
        if with_weights
        else "built on meta from the folder's config: the weights are not read"
    )
    if not with_weights:

        def on_cpu(error: BaseException) -> LoadedModel | None:
            again = load_checkpoint(
                spec, overrides, "cpu", named=named, batch=batch, seq_len=seq_len,
                image_size=image_size, component=component,
            )  # fmt: skip
            again.warnings.append(f"loaded on the cpu: tracing on meta failed ({error})")
            return again

        loaded.retry = on_cpu
    return loaded


def _component(folder: Path, component: str | None = None) -> tuple[Path, list[str]]:
    """The folder holding the model's ``config.json``: a pipeline's ``component``, else
    its main one."""
    if (folder / "config.json").is_file() or not (folder / "model_index.json").is_file():
        if component is not None:
            raise SpecError(
                f"--component {component}: {folder} is not a pipeline folder (it has no "
                "model_index.json); --component picks one of a pipeline's components"
            )
        return folder, []
    index = _read_json(folder / "model_index.json")
    components = [
        name for name, value in index.items()
        if not name.startswith("_") and isinstance(value, list)
        and (folder / name / "config.json").is_file()
    ]  # fmt: skip
    if component is not None:
        if component not in components:
            listed = [n for n in index if not n.startswith("_")]
            why = (
                "has no config.json: not a model (a scheduler, tokenizer…)"
                if component in listed
                else "is not one of its components" + did_you_mean(component, components)
            )
            raise SpecError(
                f"--component {component}: in {folder}/model_index.json, {component!r} {why}; "
                f"its model components: {', '.join(components) or 'none'}"
            )
        return folder / component, [f"analysed the pipeline's {component} component "
                                    f"({folder / component})"]  # fmt: skip
    main = next((name for name in MAIN_COMPONENTS if name in components), None)
    if main is None:
        raise SpecError(
            f"{folder}/model_index.json names no model component with a config.json among "
            f"{', '.join(components) or 'its entries'}: give a component's folder instead"
        )
    others = [name for name in components if name != main]
    note = f"analysed the pipeline's {main} component ({folder / main})"
    if others:
        note += f"; --component NAME analyses another: {', '.join(others)}"
    return folder / main, [note]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SpecError(f"cannot read {path}: {type(error).__name__}: {error}") from None
    if not isinstance(document, dict):
        raise SpecError(f"{path} holds a {type(document).__name__}, not a JSON object")
    return document


# --- transformers ------------------------------------------------------------------------


def _transformers_checkpoint(
    folder: Path,
    overrides: Mapping[str, Any],
    device: str | None,
    named: Mapping[str, torch.Tensor] | None,
    sizes: dict[str, Any],
) -> LoadedModel:
    import transformers

    from analyzer.frontend.hf_probe import first_running, synthesised_plans

    config = _transformers_config(transformers, folder, overrides)
    cls = _architecture(transformers, config)
    on = device or "meta"
    if on == "meta":
        try:
            with torch.device("meta"):
                model = cls._from_config(config)
        except Exception as error:
            raise TraceError(
                f"transformers cannot build {cls.__name__} from {folder}/config.json: "
                f"{type(error).__name__}: {_first_line(error)}"
            ) from error
        warnings: list[str] = []
    else:
        model, warnings = _transformers_weights(cls, folder, config, on)
    model.eval()
    plan_sizes = {
        "batch": sizes["batch"] or 1, "seq_len": sizes["seq_len"] or 16,
        "image_size": sizes["image_size"], "overrides": dict(named or {}),
    }  # fmt: skip
    plans = synthesised_plans(model, plan_sizes, on)
    found, error, _ = first_running(model, [p for p in plans if not p.degraded])
    found = found or first_running(model, [p for p in plans if p.degraded])[0]
    if found is None:
        raise TraceError(
            f"{folder}: {cls.__name__}'s forward fails on the synthesised inputs: {error}. "
            "Give inputs with --input NAME=SPEC"
        )
    return LoadedModel(model, (), str(folder), found.inputs, [*warnings, *found.notes])


def _transformers_config(transformers: Any, folder: Path, overrides: Mapping[str, Any]) -> Any:
    try:
        config = transformers.AutoConfig.from_pretrained(folder, local_files_only=True)
    except Exception as error:
        raise SpecError(
            f"transformers cannot read {folder}/config.json: {type(error).__name__}: "
            f"{_first_line(error)}"
        ) from error
    if overrides:
        document = config.to_dict()
        for key, value in overrides.items():
            *path, name = key.split(".")
            target = document
            for part in path:
                if not isinstance(target.get(part), dict):
                    raise SpecError(f"--config {key}=…: {folder}/config.json has no {part!r}")
                target = target[part]
            if name not in target:
                raise SpecError(
                    f"--config {key}=…: {folder}/config.json has no field {name!r}"
                    + did_you_mean(name, [k for k in target if not k.startswith("_")])
                )
            target[name] = value
        try:
            config = type(config).from_dict(document)
        except Exception as error:
            raise SpecError(
                f"the config of {folder} rejects the --config overrides: "
                f"{type(error).__name__}: {_first_line(error)}"
            ) from error
    for holder in [config, *(getattr(config, n, None) for n in getattr(config, "sub_configs", {}))]:
        if holder is not None and hasattr(holder, "use_cache"):
            holder.use_cache = False  # no cache objects among the traced outputs
    return config


def _architecture(transformers: Any, config: Any) -> type:
    """The class the config names (``architectures``), else the AutoModel class."""
    for name in getattr(config, "architectures", None) or []:
        cls = getattr(transformers, name, None)
        if isinstance(cls, type):
            return cls
    mapping = transformers.models.auto.modeling_auto.MODEL_MAPPING
    try:
        return mapping[type(config)]
    except KeyError:
        raise SpecError(
            f"transformers has no model class for this config ({type(config).__name__}, "
            f"architectures {getattr(config, 'architectures', None)})"
        ) from None


def _transformers_weights(cls: type, folder: Path, config: Any, device: str) -> tuple[Any, list]:
    checked_weight_files(folder, "transformers")
    try:
        with _no_progress_bar(sys.modules["transformers"].utils.logging):
            model, info = cls.from_pretrained(
                folder, config=config, local_files_only=True, use_safetensors=True,
                output_loading_info=True,
            )  # fmt: skip
    except Exception as error:
        raise SpecError(
            f"cannot load the weights of {folder} into {cls.__name__}: "
            f"{type(error).__name__}: {_first_line(error)}"
        ) from error
    return model.to(device), _loading_notes(info)


def _loading_notes(info: Mapping[str, Any]) -> list[str]:
    notes = []
    for key, what in (("missing_keys", "not in the checkpoint (random)"),
                      ("mismatched_keys", "of another shape in the checkpoint (random)"),
                      ("unexpected_keys", "in the checkpoint but unused")):  # fmt: skip
        names = sorted(str(n if isinstance(n, str) else n[0]) for n in info.get(key) or [])
        if names:
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            notes.append(f"weights {what}: {shown}")
    return notes


# --- diffusers ---------------------------------------------------------------------------


def _diffusers_checkpoint(
    folder: Path,
    stored: dict[str, Any],
    overrides: Mapping[str, Any],
    device: str | None,
    named: Mapping[str, torch.Tensor] | None,
    sizes: dict[str, Any],
) -> LoadedModel:
    from analyzer.frontend.diffusion import (
        built_model,
        diffusers_config,
        diffusers_inputs,
        model_class,
    )

    cls = model_class(stored["_class_name"])
    config = diffusers_config(cls, overrides, stored)
    on = device or "meta"
    warnings: list[str] = []
    if on == "meta":
        model = built_model(cls, config, "meta")
    else:
        checked_weight_files(folder, "diffusers")
        try:
            with _no_progress_bar(sys.modules["diffusers"].utils.logging):
                model, info = cls.from_pretrained(
                    folder, local_files_only=True, use_safetensors=True,
                    output_loading_info=True, low_cpu_mem_usage=False,
                    ignore_mismatched_sizes=bool(overrides), **dict(overrides),
                )  # fmt: skip
        except Exception as error:
            raise SpecError(
                f"cannot load the weights of {folder} into {cls.__name__}: "
                f"{type(error).__name__}: {_first_line(error)}"
            ) from error
        model = model.to(on).eval()
        warnings = _loading_notes(info)
    inputs, notes = diffusers_inputs(
        model, batch=sizes["batch"] or 1, seq_len=sizes["seq_len"] or 16,
        image_size=sizes["image_size"], named=named, device=on,
    )  # fmt: skip
    return LoadedModel(model, (), str(folder), inputs, warnings + notes)


# --- weight files ------------------------------------------------------------------------


def checked_weight_files(folder: Path, library: str) -> list[Path]:
    """The safetensors files of ``folder`` (every shard of a sharded one), each checked
    readable: a missing shard, a file that is not safetensors or a dtype torch does not
    know is a :class:`SpecError` naming the file."""
    single, index = (folder / name for name in WEIGHTS[library])
    if (folder / index.name).is_file():
        weight_map = _read_json(index).get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise SpecError(f"{index} has no weight_map: it does not index any shard")
        files = [folder / name for name in sorted(set(weight_map.values()))]
    elif single.is_file():
        files = [single]
    else:
        others = sorted(p.name for p in folder.glob("*.bin")) + sorted(
            p.name for p in folder.glob("*.pt*")
        )
        hint = (
            f" ({', '.join(others)} are pickles: only safetensors weights are read; convert "
            "them with save_pretrained(..., safe_serialization=True))"
            if others
            else ""
        )
        raise SpecError(f"{folder} holds no weights: neither {single.name} nor {index.name}{hint}")
    for path in files:
        _check_safetensors(path)
    return files


def _check_safetensors(path: Path) -> None:
    from safetensors import safe_open

    if not path.is_file():
        raise SpecError(f"the weight file {path} is missing (a shard named by its index)")
    try:
        with safe_open(str(path), framework="pt") as handle:
            for name in handle.keys():
                handle.get_slice(name).get_dtype()
    except Exception as error:
        raise SpecError(
            f"cannot read the weight file {path}: {type(error).__name__}: {_first_line(error)}"
        ) from None


@contextlib.contextmanager
def _no_progress_bar(logging: Any) -> Iterator[None]:
    """The library's own loading bar off: the command line shows its own progress."""
    shown = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            logging.enable_progress_bar()


def _weight_description(folder: Path) -> str:
    shards = sorted(folder.glob("*.safetensors"))
    names = ", ".join(p.name for p in shards[:3]) + (" …" if len(shards) > 3 else "")
    return f"{folder} ({names})" if shards else str(folder)


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else repr(error)
    return text if len(text) < 300 else text[:300] + "…"
