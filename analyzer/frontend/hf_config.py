"""The config of an ``hf:`` model: the default of its type with the user's overrides.

``hf:llama --config num_hidden_layers=2`` becomes ``AutoConfig.for_model("llama",
num_hidden_layers=2)``; a dotted key (``text_config.num_hidden_layers``) is set in the
sub-config. An unknown field or a value of the wrong type is the user's mistake and
names the closest fields; then the config is shrunk or repaired
(:mod:`analyzer.frontend.hf_shrink`). The first step of the ``hf:`` builder: config →
shrink → build (:mod:`analyzer.frontend.hf`) → inputs.

>>> config, shrunk, warnings = hf_config("bert", {"num_hidden_layers": 1})
>>> config.num_hidden_layers, shrunk, warnings, described(config)
(1, {}, [], 'its config with --config num_hidden_layers=1')
"""

from __future__ import annotations

from typing import Any

from analyzer.errors import SpecError
from analyzer.frontend.hf_errors import (
    TransformersError,
    did_you_mean,
    first_line,
    import_transformers,
    missing_package,
)
from analyzer.frontend.hf_shrink import repaired_config, shrink_config


def hf_config(
    model_type: str, overrides: dict[str, Any], *, shrink: str | None = None
) -> tuple[Any, dict[str, Any], list[str]]:
    """The config of ``model_type`` with ``overrides`` (shrunk as :func:`shrink_config`
    says), the shrunk fields, and warnings. Raises the errors of the module docstring."""
    transformers = import_transformers()
    if model_type not in transformers.CONFIG_MAPPING:
        raise SpecError(
            f"unknown hf: model type {model_type!r} (the model_type field of a config.json)"
            + did_you_mean(model_type, transformers.CONFIG_MAPPING.keys())
        )
    try:
        defaults = transformers.AutoConfig.for_model(model_type)
    except ImportError as error:
        raise missing_package(model_type, error) from error
    except Exception as error:
        raise TransformersError(
            f"transformers cannot build the default config of hf:{model_type}: "
            f"{type(error).__name__}: {first_line(error)}",
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
            f"{type(error).__name__}: {first_line(error)}"
        ) from error
    shrunk: dict[str, Any] = {}
    warnings: list[str] = []
    if shrink:
        try:
            config, shrunk = shrink_config(config, model_type, shrink, keep=set(overrides))
        except Exception as error:  # the config class validates: keep its own sizes
            warnings.append(
                f"{shrink} not shrunk: the config rejects it ({type(error).__name__}: "
                f"{first_line(error)})"
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


def described(config: Any) -> str:
    """How a config came about, for messages: ``its default config`` and the like."""
    return getattr(config, "_analyzer_described", "its config")
