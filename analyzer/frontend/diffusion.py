"""Build any diffusers model class from a config, with inputs from its forward signature.

``diffusers:UNet2DConditionModel --config sample_size=32`` builds the class from its
default config (its ``__init__`` defaults) with the overrides, on the meta device. The
flow runs one way: config (:func:`diffusers_config`) → shrink (:func:`shrunk_config`,
the census only) → build (:func:`built_model`) → inputs (:func:`diffusers_inputs`).
Checkpoint folders (:mod:`analyzer.frontend.checkpoints`) use the same steps on a stored
config. diffusers is imported lazily; when absent, the command line exits 4 naming it.

Inputs are synthesised by name: the latent (``sample``, ``hidden_states``, ``x``,
``latents``) is tried as an image ``(B, C, H, W)``, a video ``(B, C, F, H, W)``, a token
sequence ``(B, N, C)`` and a signal ``(B, C, L)``; ``timestep``, the text states
(``encoder_hidden_states``, width from the config's cross/joint attention fields),
``pooled_projections``, position ids (``img_ids``, ``txt_ids``), ``guidance``,
``class_labels`` and a control image follow from the config. The first layout whose
forward runs (on fake tensors, as export will) is kept.

>>> import torch
>>> loaded = build_diffusers_model("UNet2DModel", {"block_out_channels": [32, 64],
...     "down_block_types": ["DownBlock2D", "AttnDownBlock2D"],
...     "up_block_types": ["AttnUpBlock2D", "UpBlock2D"], "sample_size": 16})
>>> {name: tuple(getattr(value, "shape", ())) for name, value in loaded.kwargs.items()}
{'sample': (1, 3, 16, 16), 'timestep': (1,), 'return_dict': ()}
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from analyzer.errors import SpecError, TraceError, did_you_mean
from analyzer.frontend.hf_plans import InputPlan, forward_parameters
from analyzer.frontend.hf_probe import first_running
from analyzer.frontend.loaded import LoadedModel

LATENTS = ("sample", "hidden_states", "x", "latents")
"""Names a diffusers forward gives its main (noisy latent) input."""

TEXT_WIDTHS = (
    "cross_attention_dim", "joint_attention_dim", "caption_channels", "text_embed_dim",
    "encoder_hid_dim", "text_dim", "context_dim", "caption_projection_dim", "text_hidden_dim",
)  # fmt: skip
"""Config fields that give the width of the text states, in the order they are read."""

# integer fields that count repeated layers: the census cuts them (to 2; blocks per level to 1)
_LAYER_COUNTS = re.compile(r"^(num_(\w+_)?layers|num_(\w+_)?blocks|depth|layers_per_block)$")


def diffusers_module() -> Any:
    """The diffusers package (a ``ModuleNotFoundError`` naming it when absent: exit 4)."""
    import diffusers

    return diffusers


def model_classes() -> list[str]:
    """Every model class diffusers exports (subclasses of ``ModelMixin``), sorted.

    >>> "UNet2DConditionModel" in model_classes()
    True
    """
    diffusers = diffusers_module()
    found = []
    for name in dir(diffusers):
        if name.startswith("_"):
            continue
        try:
            obj = getattr(diffusers, name)
        except Exception:  # an optional backend's dummy that refuses to load
            continue
        if isinstance(obj, type) and issubclass(obj, diffusers.ModelMixin):
            if obj is not diffusers.ModelMixin:
                found.append(name)
    return sorted(found)


def model_class(name: str) -> type:
    """The diffusers model class ``name``; a :class:`SpecError` with the closest names."""
    diffusers = diffusers_module()
    obj = getattr(diffusers, name, None) if name.isidentifier() else None
    if not (isinstance(obj, type) and issubclass(obj, diffusers.ModelMixin)):
        raise SpecError(
            f"diffusers has no model class {name!r}" + did_you_mean(name, model_classes())
        )
    return obj


def config_fields(cls: type) -> dict[str, Any]:
    """The fields of ``cls``'s config with their defaults (its ``__init__`` parameters).

    >>> config_fields(model_class("AutoencoderKL"))["in_channels"]
    3
    """
    parameters = inspect.signature(cls.__init__).parameters
    return {
        name: (None if p.default is inspect.Parameter.empty else p.default)
        for name, p in parameters.items()
        if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def diffusers_config(
    cls: type, overrides: Mapping[str, Any], stored: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The config to build ``cls`` from: ``stored`` (a checkpoint's) or the defaults, with
    ``overrides`` checked against the class's fields (did-you-mean on a misspelling)."""
    fields = config_fields(cls)
    for key in overrides:
        if key not in fields:
            raise SpecError(
                f"--config {key}=…: {cls.__name__} has no config field {key!r}"
                + did_you_mean(key, fields)
            )
    base = dict(stored) if stored is not None else {}
    return {**base, **overrides}


def shrunk_config(config: dict[str, Any], cls: type, keep: set[str]) -> tuple[dict, dict]:
    """``config`` with its layer counts cut (``num_layers`` and the like to 2, blocks per
    resolution level to 1), except the fields in ``keep``; and what was cut.

    >>> shrunk_config({}, model_class("DiTTransformer2DModel"), set())[1]
    {'num_layers': 2}
    """
    fields = {**config_fields(cls), **config}
    changed: dict[str, Any] = {}
    for name, value in fields.items():
        if name in keep or not _LAYER_COUNTS.match(name):
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            limit = 1 if name == "layers_per_block" else 2
            if value > limit:
                changed[name] = limit
    return {**config, **changed}, changed


def built_model(cls: type, config: Mapping[str, Any], device: str) -> nn.Module:
    """``cls`` built from ``config`` on ``device`` with fresh (random) weights, in eval
    mode. A config the class rejects is the user's (exit 2); a class that does not build
    from its defaults is diffusers' own (exit 3)."""
    try:
        with torch.device(device):
            model = cls.from_config(dict(config))
    except (TypeError, ValueError, AssertionError) as error:
        given = " ".join(f"{k}={v!r}" for k, v in config.items() if not k.startswith("_"))
        raise SpecError(
            f"{cls.__name__} does not build from its config{' with ' + given if given else ''}"
            f": {type(error).__name__}: {_first_line(error)}"
        ) from error
    except ModuleNotFoundError:
        raise
    except Exception as error:
        raise TraceError(
            f"diffusers cannot build {cls.__name__}: {type(error).__name__}: {_first_line(error)}"
        ) from error
    return model.eval()


def diffusers_inputs(
    model: nn.Module,
    *,
    batch: int = 1,
    seq_len: int = 16,
    image_size: int | None = None,
    named: Mapping[str, torch.Tensor] | None = None,
    device: str = "meta",
) -> tuple[dict[str, Any], list[str]]:
    """Keyword inputs ``model``'s forward runs on, and notes on what was chosen.

    ``named`` (``--input NAME=SPEC``, ``--kwarg``) replace inputs by name. Raises
    :class:`SpecError` for a required input no rule builds, :class:`TraceError` when
    the forward fails on every layout."""
    for option, value in (("--batch", batch), ("--seq-len", seq_len), ("--image-size", image_size)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise SpecError(f"{option} {value!r}: must be a positive integer")
    parameters = forward_parameters(model)
    named = dict(named or {})
    for name in named:
        if name not in parameters:
            raise SpecError(
                f"--input {name}=…: {type(model).__name__}.forward takes no argument {name!r}"
                + did_you_mean(name, parameters)
            )
    config = dict(getattr(model, "config", {}) or {})
    plans = []
    for layout in _layouts(type(model).__name__, config):
        context = _Context(config, batch, seq_len, image_size, layout, device)
        inputs: dict[str, Any] = {}
        for name, parameter in parameters.items():
            required = parameter.default is inspect.Parameter.empty
            if name in named:
                inputs[name] = named[name].to(device)
                continue
            rule = _RULES.get(name) or (_REQUIRED_ONLY.get(name) if required else None)
            value = rule(context) if rule is not None else None
            if value is None and required:
                raise SpecError(
                    f"cannot synthesise the required input {name!r} of {type(model).__name__};"
                    f" give it with --input '{name}=DTYPE[d0,d1,…]'"
                )
            if value is not None:
                inputs[name] = value
        if "return_dict" in parameters:
            inputs["return_dict"] = False  # a tuple out, not a dataclass
        plans.append(InputPlan(inputs, [f"latent laid out as {layout}"]))
    found, error, _ = first_running(model, plans)
    if found is None:
        first = ", ".join(
            f"{n} {list(v.shape)}" for n, v in plans[0].inputs.items() if hasattr(v, "shape")
        )
        raise TraceError(
            f"{type(model).__name__}: the forward fails on every synthesised layout (first: "
            f"{first}): {error}. Give inputs with --input NAME=SPEC, or a factory FILE.py:NAME"
        )
    return found.inputs, (found.notes if found is not plans[0] else [])


def build_diffusers_model(
    class_name: str,
    overrides: Mapping[str, Any] | None = None,
    device: str | None = None,
    *,
    batch: int | None = None,
    seq_len: int | None = None,
    image_size: int | None = None,
    named: Mapping[str, torch.Tensor] | None = None,
    shrink: bool = False,
    label: str | None = None,
) -> LoadedModel:
    """``diffusers:CLASS``: the class from its default config with ``overrides``, on
    ``device`` (default ``meta``), and inputs its forward runs on. ``shrink`` cuts the
    layer counts the overrides leave alone, as the census does."""
    cls = model_class(class_name)
    config = diffusers_config(cls, overrides or {})
    warnings: list[str] = []
    if shrink:
        config, changed = shrunk_config(config, cls, set(overrides or {}))
        if changed:
            warnings.append("shrunk: " + ", ".join(f"{k}={v}" for k, v in changed.items()))
    model = built_model(cls, config, device or "meta")
    inputs, notes = diffusers_inputs(
        model, batch=batch or 1, seq_len=seq_len or 16, image_size=image_size, named=named,
        device=device or "meta",
    )  # fmt: skip
    return LoadedModel(model, (), label or f"diffusers:{class_name}", inputs, warnings + notes)


# --- input rules ----------------------------------------------------------------------


class _Context:
    """What the input rules read: the config, the sizes and the latent's layout."""

    def __init__(
        self, config: dict[str, Any], batch: int, seq_len: int, image_size: int | None,
        layout: str, device: str,
    ) -> None:  # fmt: skip
        self.config, self.batch, self.seq_len, self.layout = config, batch, seq_len, layout
        self.device = device
        side = image_size or _first_int(config.get("sample_size")) or 32
        self.side = side

    def field(self, *names: str, default: Any = None) -> Any:
        for name in names:
            value = self.config.get(name)
            if value is not None:
                return value
        return default

    def tensor(self, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        if dtype.is_floating_point:
            return torch.randn(shape, dtype=dtype, device=self.device)
        return torch.zeros(shape, dtype=dtype, device=self.device)

    @property
    def channels(self) -> int:
        return _first_int(self.field("in_channels", "latent_channels", "in_chans")) or 4

    @property
    def tokens(self) -> int:
        """Latent tokens of the sequence layout (a 4 × 4 grid, packed)."""
        return 16


def _first_int(value: Any) -> int | None:
    if isinstance(value, (list, tuple)) and value:
        value = value[0]
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _layouts(class_name: str, config: dict[str, Any]) -> list[str]:
    """Latent layouts to try, the likeliest for the class first."""
    if re.search(r"3D|Video|Temporal|Motion|Wan|Mochi|Allegro|Latte|Cosmos", class_name):
        order = ["video", "frames", "image", "tokens", "signal"]
    elif re.search(r"1D|Audio|Oobleck|Music|Vocoder", class_name):
        order = ["signal", "tokens", "image", "video"]
    elif re.search(r"Flux|Chroma|QwenImage|Bria|HiDream|OvisImage|LongCat", class_name):
        order = ["tokens", "image", "video", "signal"]
    else:
        order = ["image", "video", "frames", "tokens", "signal"]
    return order


def _latent(ctx: _Context) -> torch.Tensor:
    side, channels, batch = ctx.side, ctx.channels, ctx.batch
    if ctx.layout == "video":
        return ctx.tensor(batch, channels, 2, side, side)
    if ctx.layout == "frames":  # video with the frames before the channels (CogVideoX)
        return ctx.tensor(batch, 2, channels, side, side)
    if ctx.layout == "tokens":
        return ctx.tensor(batch, ctx.tokens, channels)
    if ctx.layout == "signal":
        return ctx.tensor(batch, channels, _first_int(ctx.config.get("sample_size")) or 64)
    return ctx.tensor(batch, channels, side, side)


def _timestep(ctx: _Context) -> torch.Tensor:
    return torch.full((ctx.batch,), 0.5, device=ctx.device)


def _text_states(ctx: _Context) -> torch.Tensor | None:
    width = _first_int(ctx.field(*TEXT_WIDTHS))
    if width is None:  # another name for the text width: the first field that reads as one
        width = next(
            (_first_int(v) for k, v in ctx.config.items()
             if _TEXT_WIDTH.search(k) and _first_int(v)),
            None,
        )  # fmt: skip
    return None if width is None else ctx.tensor(ctx.batch, ctx.seq_len, width)


_TEXT_WIDTH = re.compile(r"(text|context|caption|cross|cond|encoder).*(dim|channels|size)$")


def _pooled(ctx: _Context) -> torch.Tensor | None:
    width = _first_int(ctx.field("pooled_projection_dim", "projection_class_embeddings_input_dim"))
    return None if width is None else ctx.tensor(ctx.batch, width)


def _ids(count: Callable[[_Context], int]) -> Callable[[_Context], torch.Tensor | None]:
    def build(ctx: _Context) -> torch.Tensor | None:
        if ctx.layout != "tokens":
            return None
        axes = ctx.field("axes_dims_rope", "axes_dims", default=(0, 0, 0))
        return ctx.tensor(count(ctx), len(axes) if isinstance(axes, (list, tuple)) else 3)

    return build


def _guidance(ctx: _Context) -> torch.Tensor | None:
    if not ctx.field("guidance_embeds"):
        return None
    return torch.full((ctx.batch,), 3.5, device=ctx.device)


def _class_labels(ctx: _Context) -> torch.Tensor | None:
    if not (ctx.field("num_class_embeds", "num_embeds_ada_norm") or ctx.field("class_embed_type")):
        return None
    return ctx.tensor(ctx.batch, dtype=torch.long)


def _control_image(ctx: _Context) -> torch.Tensor:
    channels = _first_int(ctx.field("conditioning_channels")) or 3
    scale = 2 ** (len(ctx.field("block_out_channels", default=(0,) * 4)) - 1)
    return ctx.tensor(ctx.batch, channels, ctx.side * scale, ctx.side * scale)


_RULES: dict[str, Callable[[_Context], Any]] = {
    **dict.fromkeys(LATENTS, _latent),
    **dict.fromkeys(("timestep", "t", "timesteps", "r_timestep", "timestep_r"), _timestep),
    "encoder_hidden_states": _text_states,
    "pooled_projections": _pooled,
    "img_ids": _ids(lambda ctx: ctx.tokens),
    "txt_ids": _ids(lambda ctx: ctx.seq_len),
    "guidance": _guidance,
    "class_labels": _class_labels,
    "controlnet_cond": _control_image,
    "conditioning_scale": lambda ctx: 1.0,
}  # fmt: skip
"""Input name → how to build it (``None``: leave an optional input out)."""


def _token_ids(ctx: _Context) -> torch.Tensor:
    high = _first_int(ctx.field("vocab_size", "codebook_size", "num_vq_embeddings")) or 2
    return torch.randint(0, high, (ctx.batch, ctx.seq_len), device=ctx.device)


def _per_sample(width: int, value: float) -> Callable[[_Context], torch.Tensor]:
    def build(ctx: _Context) -> torch.Tensor:
        shape = (ctx.batch,) if width == 0 else (ctx.batch, width)
        return torch.full(shape, value, device=ctx.device)

    return build


_REQUIRED_ONLY: dict[str, Callable[[_Context], Any]] = {
    "encoder_attention_mask": lambda ctx: ctx.tensor(ctx.batch, ctx.seq_len, dtype=torch.long) + 1,
    "input_ids": _token_ids,
    "original_size": _per_sample(2, float(256)),  # image sizes and crops (CogView)
    "target_size": _per_sample(2, float(256)),
    "crop_coords": _per_sample(2, 0.0),
    "added_time_ids": _per_sample(3, 1.0),  # fps, motion bucket, noise (video UNets)
    "fps": _per_sample(0, 8.0),
    "timestep_ratio": _per_sample(0, 0.5),
}
"""Inputs built only where the forward requires them (optional masks stay out)."""


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else repr(error)
    return text if len(text) < 300 else text[:300] + "…"
