"""The value every model builder returns, and the user's input, device and config options.

A builder (``zoo:``, ``hf:``, ``diffusers:``, a checkpoint folder, a ``.pt2`` program, a
factory in a Python file) turns a spec into one :class:`LoadedModel`; the options that
describe example inputs (``--input``, ``--kwarg``), the device and ``--config`` overrides
are parsed here, so every builder reads them the same way.

>>> parse_input_spec("int64[1,16]<50000").shape
torch.Size([1, 16])
>>> parse_config(["num_hidden_layers=2", "hidden_act=gelu"])
{'num_hidden_layers': 2, 'hidden_act': 'gelu'}
>>> sorted(parse_kwargs(["mask=bool[1,16]"]))
['mask']
"""

from __future__ import annotations

import json
import platform
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from analyzer.errors import SpecError

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
    # the inputs are a first guess, not run yet (hf: load_model(probe=False)): trace them
    # with export alone, and on a failure take retry's, which are probed
    unprobed: bool = False

    def parameter_counts(self, depth: int = 3) -> dict[str, int]:
        """Parameters per submodule path (see :func:`parameter_counts`)."""
        return parameter_counts(self.module, depth) if isinstance(self.module, nn.Module) else {}


def parameter_counts(module: nn.Module, depth: int = 3) -> dict[str, int]:
    """Parameters of every submodule down to ``depth`` path components, each counted with
    its own submodules (``""`` is the whole model). Shared parameters count once, at the
    first module that holds them; meta-device models count without memory.

    >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> parameter_counts(net)
    {'': 23, '0': 15, '2': 8}
    """
    counts: dict[str, int] = {}
    seen: set[int] = set()
    for name, parameter in module.named_parameters(remove_duplicate=True):
        if id(parameter) in seen:
            continue
        seen.add(id(parameter))
        parts = name.split(".")[:-1]  # the module path of the parameter
        for level in range(min(len(parts), depth) + 1):
            prefix = ".".join(parts[:level])
            counts[prefix] = counts.get(prefix, 0) + parameter.numel()
    counts.setdefault("", 0)
    return dict(sorted(counts.items(), key=lambda item: _natural(item[0])))


def _natural(path: str) -> list[Any]:
    """Sort key that puts ``layers.2`` before ``layers.10``."""
    parts = path.split(".") if path else []
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts]


def versions() -> dict[str, str]:
    """The versions that decide an analysis: Python, torch, transformers (when loaded)
    and analyzer itself."""
    import analyzer

    found = {"analyzer": analyzer.__version__, "python": platform.python_version(),
             "torch": torch.__version__}  # fmt: skip
    if "transformers" in sys.modules:
        found["transformers"] = sys.modules["transformers"].__version__
    return found


def check_device(text: str | None, option: str = "--device") -> str | None:
    """``text`` if a tensor can live on that device here, else :class:`SpecError` saying
    why (``cuda`` on a CPU-only build, an unknown device string, a missing GPU index).

    >>> check_device("cpu"), check_device(None)
    ('cpu', None)
    """
    if text is None:
        return None
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise SpecError(
            f"{option} {text!r} is not a device torch knows: use cpu, cuda, cuda:N, mps or meta"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        why = (
            f"this torch {torch.__version__} is a CPU-only build"
            if torch.version.cuda is None
            else "no CUDA GPU is visible to this process"
        )
        raise SpecError(f"{option} {text}: CUDA is not available here ({why}); use --device cpu")
    if device.type == "cuda" and device.index is not None:
        count = torch.cuda.device_count()
        if device.index >= count:
            raise SpecError(f"{option} {text}: this machine has {count} CUDA device(s)")
    if device.type not in ("cpu", "meta", "cuda"):
        try:
            torch.empty(0, device=device)
        except Exception as error:  # the backend's own reason, in one line
            reason = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            raise SpecError(f"{option} {text}: not usable here ({reason})") from None
    return text


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


def parse_kwargs(items: list[str], device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """``name=DTYPE[d0,…]`` keyword inputs (``--kwarg``), each a random tensor as for
    :func:`parse_input_spec`."""
    found: dict[str, torch.Tensor] = {}
    for item in items:
        name, sep, spec = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise SpecError(
                f"malformed --kwarg {item!r}: expected NAME=DTYPE[d0,...], e.g. "
                "attention_mask='int64[1,16]'"
            )
        if name.strip() in found:
            raise SpecError(f"--kwarg {name.strip()!r} is given twice")
        found[name.strip()] = parse_input_spec(spec, device)
    return found


def parse_config(items: list[str]) -> dict[str, Any]:
    """``key=value`` overrides; values are read as JSON when they parse, else as text. A
    key may name a sub-config's field: ``text_config.num_hidden_layers=1``.

    >>> parse_config(["n_layer=2", "text_config.num_hidden_layers=1", "act=gelu"])
    {'n_layer': 2, 'text_config.num_hidden_layers': 1, 'act': 'gelu'}
    """
    config: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(part.isidentifier() for part in parts):
            raise SpecError(
                f"malformed --config {item!r}: expected key=value with a field name as key, "
                "e.g. num_hidden_layers=2 or text_config.num_hidden_layers=1"
            )
        try:
            config[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            config[key.strip()] = value
    return config
