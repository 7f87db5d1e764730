"""Trained weights for the claims' measurements that need them (``claims --weights``).

A claim measured on random weights says so; some figures (S7's activation sparsity)
mean something only on trained weights. :func:`load_trained` reads a checkpoint folder
(what ``save_pretrained`` writes: transformers or diffusers) with its weights, on the
cpu, through :mod:`analyzer.frontend.checkpoints`, with inputs synthesised as for
``analyze``. A :class:`~analyzer.claims.core.Check` carries it as ``check.weights``;
:func:`relu_nonzero` measures, per ReLU call of its forward, the fraction of non-zero
entries.

>>> import torch
>>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())
>>> with torch.no_grad():
...     _ = net[0].weight.copy_(torch.eye(2)); _ = net[0].bias.zero_()
>>> trained = TrainedWeights("net", net, (torch.tensor([[1.0, -1.0], [2.0, 3.0]]),))
>>> relu_nonzero(trained)
[('1', 0.75)]
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from analyzer.errors import SpecError

RELU_OPS = ("relu.default", "relu_.default")
"""The aten overloads whose outputs are post-ReLU activations (``nn.ReLU``, ``F.relu``,
``torch.relu``, in place or not)."""


@dataclass
class TrainedWeights:
    """A checkpoint's model with its trained weights and inputs its forward runs on.
    ``label``: the checkpoint as the user named it (reports name it); ``notes``: what
    loading decided (weights missing from the checkpoint, synthesised inputs)."""

    label: str
    module: Any
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"checkpoint": self.label, "notes": list(self.notes)}


def load_trained(folder: str | Path) -> TrainedWeights:
    """The model of checkpoint ``folder`` with its trained weights, on the cpu, and inputs
    synthesised from a fixed seed (the caller's random state untouched); a
    :class:`SpecError` (exit 2) when ``folder`` is not a checkpoint folder or its weights
    cannot be read."""
    from analyzer.frontend.checkpoints import is_checkpoint_folder, load_checkpoint

    path = Path(folder)
    if not path.is_dir():
        raise SpecError(
            f"--weights {str(folder)!r} is not a folder: give a checkpoint folder "
            "(what save_pretrained writes: config.json and safetensors weights)"
        )
    if not is_checkpoint_folder(str(path)):
        raise SpecError(
            f"--weights {str(folder)!r} holds neither config.json nor model_index.json: "
            "give a checkpoint folder (what save_pretrained writes)"
        )
    with torch.random.fork_rng(devices=[]):  # the same synthesised inputs on every load
        torch.manual_seed(0)
        loaded = load_checkpoint(str(path), device="cpu")
    module = loaded.module.eval()
    return TrainedWeights(str(folder), module, tuple(loaded.args), dict(loaded.kwargs),
                          list(loaded.warnings))  # fmt: skip


def trained_weights(weights: str | Path | TrainedWeights | None) -> TrainedWeights | None:
    """``weights`` as given to a run: a folder is loaded (:func:`load_trained`)."""
    if weights is None or isinstance(weights, TrainedWeights):
        return weights
    if isinstance(weights, (str, Path)):
        return load_trained(weights)
    raise SpecError(
        f"weights={weights!r}: give a checkpoint folder (a path) or a TrainedWeights, or None"
    )


def relu_nonzero(weights: TrainedWeights) -> list[tuple[str, float]]:
    """One forward of the checkpoint's model on its inputs: for each ReLU call, in order,
    the module it ran in (its path; a second call in one module gets ``#2``) and the
    fraction of non-zero entries of its output. Empty when the model has no ReLU."""
    found: list[tuple[str, float]] = []
    with _module_paths(weights.module) as where, _ReLUOutputs(found, where), torch.no_grad():
        weights.module(*weights.args, **weights.kwargs)
    seen: dict[str, int] = {}
    named = []
    for path, fraction in found:
        seen[path] = seen.get(path, 0) + 1
        named.append((path if seen[path] == 1 else f"{path}#{seen[path]}", fraction))
    return named


@contextmanager
def _module_paths(module: torch.nn.Module) -> Iterator[list[str]]:
    """A stack of the module paths the forward is inside (innermost last)."""
    stack: list[str] = []
    handles = []
    for name, sub in module.named_modules():
        label = name or "(model)"

        def enter(_m: Any, _a: Any, label: str = label) -> None:
            stack.append(label)

        def leave(_m: Any, _a: Any, _o: Any) -> None:
            if stack:
                stack.pop()

        handles.append(sub.register_forward_pre_hook(enter))
        handles.append(sub.register_forward_hook(leave, always_call=True))
    try:
        yield stack
    finally:
        for handle in handles:
            handle.remove()


class _ReLUOutputs(TorchDispatchMode):
    """Records the fraction of non-zero entries of every ReLU output."""

    def __init__(self, into: list[tuple[str, float]], where: list[str]) -> None:
        super().__init__()
        self.into, self.where = into, where

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if str(func).removeprefix("aten.") in RELU_OPS and isinstance(out, torch.Tensor):
            path = self.where[-1] if self.where else "(model)"
            self.into.append((path, (out != 0).float().mean().item()))
        return out
