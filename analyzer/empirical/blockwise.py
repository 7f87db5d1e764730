"""Block-wise validation: each distinct repeated block, checked on its own real input.

A model whose repeated blocks sit in a list (``layers.0 … layers.79``, ``h.0 … h.11``)
can be validated one block at a time, so that a model too large to run in float64 as a
whole is still checked. The model runs once on the example input in its own dtype and
device, and a hook records the input each block receives there; each *distinct*
block (one per structure: same class, same parameter shapes) is then traced, analysed
and validated as a model of its own, whose input is that recorded activation (its
first argument, the hidden states; the other arguments — masks, position embeddings —
are held at their recorded values). Its claims are therefore claims relative to the
block's input, not to the model's, and the report says so. ``blocks="all"`` validates
every instance instead of one per structure.

A model built on the meta device is streamed: a copy of it is given random weights
module by module just before each runs (with the model's own ``_init_weights`` when it
has one, else ``reset_parameters``), and each block's weights are released after it has
run unless it is one of the blocks to validate, so that memory holds one block at a time.

>>> import torch
>>> from torch import nn
>>> stack = nn.Sequential(*[nn.Sequential(nn.Linear(4, 4), nn.ReLU()) for _ in range(3)])
>>> result = validate_blockwise(stack, (torch.randn(2, 4),), samples=2)
>>> [(b.path, len(b.instances), b.report.agree) for b in result.blocks]
[('0', 3, True)]
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.utils._pytree as pytree
from torch import nn

from analyzer.empirical.validate import ValidationReport, check_options, default_device, validate
from analyzer.empirical.weights import initialising_models, random_weights
from analyzer.errors import SpecError
from analyzer.frontend.tracing import module_left_as_it_was
from analyzer.progress import SILENT, Progress

SCHEMA = "analyzer.validation.blockwise/1"
_CACHE_KEYWORDS = ("past_key_value", "past_key_values", "layer_past", "cache_params")


@dataclass
class BlockResult:
    """One validated block, the instances of its structure, and its report."""

    path: str
    instances: list[str]
    report: ValidationReport


@dataclass
class BlockwiseReport:
    """Per distinct block, the validation of its claims relative to its own input."""

    model: str
    blocks: list[BlockResult]
    seconds: float
    seconds_by_check: dict[str, float] = field(default_factory=dict)
    streamed: bool = False

    @property
    def agree(self) -> bool:
        return bool(self.blocks) and all(b.report.agree for b in self.blocks)

    @property
    def sound(self) -> bool:
        return all(b.report.sound for b in self.blocks)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "model": self.model,
            "scope": "each block's claims are checked relative to that block's own input "
            "(the activation the example input produces there), not to the model's input",
            "agree": self.agree,
            "sound": self.sound,
            "streamed": self.streamed,
            "blocks": [
                {"path": b.path, "instances": b.instances, "validation": b.report.to_json()}
                for b in self.blocks
            ],
            "seconds": round(self.seconds, 3),
            "seconds_by_check": {k: round(v, 3) for k, v in self.seconds_by_check.items()},
        }


def repeated_blocks(module: nn.Module) -> list[list[tuple[str, nn.Module]]]:
    """The children of every module list (``ModuleList``/``Sequential``) in which at least
    two children share a structure, grouped by structure; lists inside a chosen block
    are left to it.

    >>> stack = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 3))
    >>> [[p for p, _ in group] for group in repeated_blocks(stack)]
    [['0', '1'], ['2']]
    """
    groups: list[list[tuple[str, nn.Module]]] = []
    chosen: list[str] = []
    for path, sub in module.named_modules():
        if any(path == c or path.startswith(c + ".") for c in chosen):
            continue
        if not isinstance(sub, (nn.ModuleList, nn.Sequential)) or len(sub) < 2:
            continue
        by_structure: dict[Any, list[tuple[str, nn.Module]]] = {}
        for name, child in sub.named_children():
            full = f"{path}.{name}" if path else name
            by_structure.setdefault(_structure(child), []).append((full, child))
        if max(len(members) for members in by_structure.values()) < 2:
            continue
        groups.extend(by_structure.values())
        chosen.extend(p for members in by_structure.values() for p, _ in members)
    return groups


def _structure(module: nn.Module) -> tuple[Any, ...]:
    return (
        tuple(type(m).__qualname__ for m in module.modules()),
        tuple((n, tuple(p.shape), p.dtype) for n, p in module.named_parameters()),
    )


def validate_blockwise(
    module: nn.Module,
    example_args: Sequence[Any],
    *,
    example_kwargs: dict[str, Any] | None = None,
    model: str = "model",
    device: str | None = None,
    samples: int = 16,
    max_degree: int = 4,
    pairs: int | None = None,
    seed: int = 0,
    batched: bool = True,
    frontend: str = "auto",
    mode: str | None = None,
    memory: float | None = None,
    progress: Progress = SILENT,
    blocks: str = "distinct",
) -> BlockwiseReport:
    """Validate each distinct repeated block of ``module`` on the input the example
    produces there (see the module doc); options as for
    :func:`~analyzer.empirical.validate.validate`."""
    device = device or default_device()
    check_options(samples, max_degree, memory, device, pairs)
    if not isinstance(module, nn.Module):
        raise SpecError("blockwise validation needs an nn.Module with repeated blocks")
    started = time.perf_counter()
    jobs, capture, streamed = block_jobs(
        module, example_args, example_kwargs, model=model, blocks=blocks, device=device,
        mode=mode, progress=progress,
    )  # fmt: skip
    results = []
    for job in jobs:
        report = validate(
            job.model, (job.activation,), model=job.label, device=device,
            samples=samples, max_degree=max_degree, pairs=pairs, seed=seed, batched=batched,
            frontend=frontend, mode=mode, memory=memory, progress=progress,
        )  # fmt: skip
        report.scope = job.scope
        results.append(BlockResult(job.path, job.instances, report))
    seconds = seconds_by_check(capture, results)
    return BlockwiseReport(model, results, time.perf_counter() - started, seconds, streamed)


@dataclass
class BlockJob:
    """One block to validate: its path, the instances of its structure it stands for, and
    the block as a model (:func:`_block_as_model`) of its recorded ``activation``."""

    path: str
    instances: list[str]
    model: nn.Module
    activation: torch.Tensor
    label: str

    @property
    def scope(self) -> str:
        """What the block's claims are relative to, as its report says."""
        return f"the input of {self.path} (its first argument; other arguments fixed)"


def block_jobs(
    module: nn.Module,
    example_args: Sequence[Any],
    example_kwargs: dict[str, Any] | None = None,
    *,
    model: str = "model",
    blocks: str = "distinct",
    device: str = "cpu",
    mode: str | None = None,
    progress: Progress = SILENT,
) -> tuple[list[BlockJob], float, bool]:
    """The blocks of ``module`` to validate, each with the input the example produces
    there, in the order of :func:`repeated_blocks` (a block the example's forward never
    called has no input and no job); also the seconds the recording took and whether the
    model was streamed from the meta device. Local and cluster runs share it.

    >>> stack = nn.Sequential(*[nn.Sequential(nn.Linear(4, 4), nn.ReLU()) for _ in range(3)])
    >>> jobs, _, streamed = block_jobs(stack, (torch.randn(2, 4),), blocks="all")
    >>> [(job.path, job.instances, tuple(job.activation.shape)) for job in jobs], streamed
    ([('0', ['0'], (2, 4)), ('1', ['1'], (2, 4)), ('2', ['2'], (2, 4))], False)
    """
    if blocks not in ("distinct", "all"):
        raise SpecError(f"blocks must be 'distinct' or 'all', not {blocks!r}")
    started = time.perf_counter()
    groups = repeated_blocks(module)
    if not groups:
        raise SpecError(
            f"{model} has no repeated blocks (a ModuleList or Sequential with two children "
            "of the same structure): validate it whole instead of --blockwise"
        )
    chosen = [members if blocks == "all" else members[:1] for members in groups]
    wanted = {path for members in chosen for path, _ in members}
    with progress.task("recording block inputs"):
        inputs, runnable, streamed = _record_inputs(
            module, example_args, example_kwargs or {}, wanted, device, mode
        )
    jobs = []
    for members, picked in zip(groups, chosen, strict=True):
        for path, _ in picked:
            if path not in inputs:
                continue  # never called by the example's forward
            block_args, block_kwargs = inputs[path]
            wrapped, activation = _block_as_model(runnable[path], block_args, block_kwargs)
            instances = [p for p, _ in members] if len(picked) == 1 else [path]
            jobs.append(BlockJob(path, instances, wrapped, activation, f"{model} {path}"))
    return jobs, time.perf_counter() - started, streamed


def seconds_by_check(capture: float, results: Sequence[BlockResult]) -> dict[str, float]:
    """The seconds of every check summed over the blocks' reports, after the recording's.

    >>> seconds_by_check(1.5, [])
    {'record_inputs': 1.5}
    """
    seconds: dict[str, float] = {"record_inputs": capture}
    for result in results:
        for check, value in result.report.seconds_by_check.items():
            seconds[check] = seconds.get(check, 0.0) + value
    return seconds


def _record_inputs(
    module: nn.Module,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    wanted: set[str],
    device: str,
    mode: str | None,
) -> tuple[dict[str, tuple[tuple[Any, ...], dict[str, Any]]], dict[str, nn.Module], bool]:
    """Run the model once and keep what each wanted block receives. A meta model is
    streamed through a copy (see the module doc)."""
    streamed = any(t.is_meta for t in [*module.parameters(), *module.buffers()])
    runner = copy.deepcopy(module) if streamed else module
    modules = dict(runner.named_modules())
    recorded: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}
    handles = []

    def recorder(path: str) -> Callable[..., None]:
        def hook(sub: nn.Module, hook_args: tuple[Any, ...], hook_kwargs: dict[str, Any]):
            if path not in recorded:
                recorded[path] = pytree.tree_map_only(
                    torch.Tensor, lambda t: t.detach().clone(), (hook_args, hook_kwargs)
                )

        return hook

    for path in wanted:
        handles.append(modules[path].register_forward_pre_hook(recorder(path), with_kwargs=True))
    if streamed:
        handles.extend(_streaming_hooks(runner, wanted, torch.device(device)))
        args, kwargs = pytree.tree_map_only(
            torch.Tensor, lambda t: _real(t, device), (tuple(args), kwargs)
        )
    try:
        with torch.no_grad(), module_left_as_it_was(runner, mode):
            runner(*args, **kwargs)
    except Exception as error:
        raise SpecError(
            f"running the model to record its blocks' inputs raised {type(error).__name__}: {error}"
        ) from error
    finally:
        for handle in handles:
            handle.remove()
    return recorded, {path: modules[path] for path in wanted}, streamed


def _real(tensor: torch.Tensor, device: str) -> torch.Tensor:
    if tensor.is_meta:
        raise SpecError("example inputs are on the meta device: build them on a real one")
    return tensor.to(device)


def _streaming_hooks(root: nn.Module, keep: set[str], device: torch.device) -> list[Any]:
    """Materialise each module's own weights just before it runs; release the weights of
    a repeated block that is not to be validated once it has run."""
    handles = []
    owners = initialising_models(root)

    def materialise(sub: nn.Module, *_: Any) -> None:
        random_weights(sub, owners.get(sub, root), device)

    def release(sub: nn.Module, *_: Any) -> None:
        sub.to_empty(device="meta")

    for sub in root.modules():
        handles.append(sub.register_forward_pre_hook(materialise))
    for members in repeated_blocks(root):
        for path, sub in members:
            if path not in keep:
                handles.append(sub.register_forward_hook(release))
    return handles


class _BlockAt(nn.Module):
    """A block as a model of its first input, the other arguments held fixed."""

    def __init__(self, block: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        super().__init__()
        self.block = block
        self._rest, self._kwargs = args, kwargs

    def forward(self, hidden: torch.Tensor) -> Any:
        return self.block(hidden, *self._rest, **self._kwargs)


def _block_as_model(
    block: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[nn.Module, torch.Tensor]:
    kwargs = dict(kwargs)
    for name in _CACHE_KEYWORDS:
        if name in kwargs:
            kwargs[name] = None  # a cache would be written into: the block's input is enough
    if "use_cache" in kwargs:
        kwargs["use_cache"] = False
    if args and isinstance(args[0], torch.Tensor):
        return _BlockAt(block, tuple(args[1:]), kwargs), args[0]
    name = next((k for k, v in kwargs.items() if isinstance(v, torch.Tensor)), None)
    if name is None:
        raise SpecError("a repeated block was called without a tensor input")
    activation = kwargs.pop(name)

    class _Keyword(_BlockAt):
        def forward(self, hidden: torch.Tensor) -> Any:
            return self.block(*self._rest, **{name: hidden}, **self._kwargs)

    return _Keyword(block, tuple(args), kwargs), activation
