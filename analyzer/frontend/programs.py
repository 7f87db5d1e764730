"""Saved programs and pickled modules: a model saved as a file.

A ``.pt2`` file from ``torch.export.save`` holds an exported program: its graph, its
parameters, the module path of every node (``nn_module_stack``) and, usually, the
example inputs it was exported with. :func:`load_program` replays that graph node by
node (:class:`Replay`), so that tracing it again keeps the original module paths and
parameter names; ``--input`` gives inputs when the file has none.

A file from ``torch.save(model)`` is a pickle: loading it runs whatever code the file
names. :func:`load_pickled` refuses it unless ``trust_pickle`` is set, with a paragraph
saying so and how to save the model safely instead.

>>> "--trust-pickle" in PICKLE_WARNING
True
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.fx as fx
import torch.fx._pytree as fx_pytree
import torch.fx.traceback as fx_traceback
from torch import nn

from analyzer.errors import SpecError, TraceError
from analyzer.frontend.loaded import LoadedModel, parse_input_spec, parse_kwargs

PICKLE_WARNING = (
    "{path} is a pickle (torch.save of a whole module): loading it runs arbitrary code named "
    "in the file, with your permissions, so it is refused by default. If you trust its "
    "source, pass --trust-pickle to load it with weights_only=False. To share a model "
    "without this risk, save the program instead (torch.export.save(torch.export.export("
    "model, example_args), 'model.pt2'), then `analyzer analyze model.pt2`), or its "
    "weights with save_pretrained / safetensors next to a config.json"
)


class Replay(nn.Module):
    """Runs a saved program's graph node by node with each node's recorded metadata, so
    that a new trace of it records the original ``nn_module_stack`` (module paths). The
    program's submodules and parameters are this module's, under their original names.

    >>> program = torch.export.export(nn.Linear(2, 1), (torch.randn(1, 2),))
    >>> [name for name, _ in Replay(program.module()).named_parameters()]
    ['weight', 'bias']
    """

    def __init__(self, program: fx.GraphModule) -> None:
        super().__init__()
        object.__setattr__(self, "program", program)  # not a submodule: no prefix on names
        for name, child in program.named_children():
            self.add_module(name, child)
        for name, parameter in program.named_parameters(recurse=False):
            self.register_parameter(name, parameter)
        for name, buffer in program.named_buffers(recurse=False):
            self.register_buffer(name, buffer)
        signature = _exported_signature(program)
        if signature is not None:  # inputs named as at export (x, attention_mask…)

            def forward(self: Replay, *args: Any, **kwargs: Any) -> Any:
                return Replay.forward(self, *args, **kwargs)

            forward.__signature__ = signature  # type: ignore[attr-defined]
            self.__class__ = type("Replay", (Replay,), {"forward": forward})

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        spec = getattr(self.program, "_in_spec", None)  # keywords in the order exported
        flat = fx_pytree.tree_flatten_spec((args, kwargs), spec) if spec else [*args]
        with fx_traceback.preserve_node_meta():
            return fx.Interpreter(self.program).run(*flat)


def _exported_signature(program: fx.GraphModule) -> inspect.Signature | None:
    """``(self, x, …, *, name=None, …)`` after the program's inputs, when each is one
    tensor (the placeholders then carry the names they were exported with)."""
    spec = getattr(program, "_in_spec", None)
    names = [n.name for n in program.graph.nodes if n.op == "placeholder"]
    if spec is None or spec.num_children != 2 or spec.num_leaves != len(names):
        return None
    positional, keywords = spec.children()
    if positional.num_leaves != positional.num_children or not all(
        child.num_leaves == 1 for child in keywords.children()
    ):
        return None
    kind = inspect.Parameter
    return inspect.Signature(
        [kind("self", kind.POSITIONAL_OR_KEYWORD)]
        + [kind(n, kind.POSITIONAL_OR_KEYWORD) for n in names[: positional.num_children]]
        + [kind(str(k), kind.KEYWORD_ONLY, default=None) for k in keywords.context]
    )


def load_program(
    path: str, inputs: list[str], kwargs: list[str], device: str | None
) -> LoadedModel:
    """The program a ``.pt2`` file holds, with its stored example inputs (``inputs`` and
    ``kwargs`` specs replace them), on ``device`` (default: where it was saved)."""
    if not Path(path).is_file():
        raise SpecError(f"program file {path!r} does not exist")
    try:
        program = torch.export.load(path)
    except Exception as error:
        raise SpecError(
            f"cannot read {path} as a program saved by torch.export.save: "
            f"{type(error).__name__}: {_first_line(error)}"
        ) from None
    stored_args, stored_kwargs = program.example_inputs or ((), {})
    on = device or "cpu"
    args = tuple(parse_input_spec(t, on) for t in inputs) if inputs else tuple(stored_args)
    keywords = {**(stored_kwargs if not inputs else {}), **parse_kwargs(kwargs, on)}
    if not args and not keywords:
        raise SpecError(
            f"{path} stores no example inputs: give them with --input, e.g. "
            "--input 'float32[2,16,64]'"
        )
    if inputs:
        _check_fits(program, args, path)
    module = Replay(program.module())
    if device is not None:
        module = module.to(device)
        args = tuple(a.to(device) if isinstance(a, torch.Tensor) else a for a in args)
        keywords = {k: v.to(device) if isinstance(v, torch.Tensor) else v
                    for k, v in keywords.items()}  # fmt: skip
    return LoadedModel(module, args, path, keywords)


def _check_fits(program: Any, args: tuple[Any, ...], path: str) -> None:
    """Inputs a program was not exported for are refused up front: a dimension not marked
    dynamic at export is fixed in the program."""
    placeholders = {n.name: n for n in program.graph.nodes if n.op == "placeholder"}
    expected = [placeholders[name].meta.get("val") for name in program.graph_signature.user_inputs]
    for index, (given, wanted) in enumerate(zip(args, expected, strict=False)):
        if not (isinstance(given, torch.Tensor) and isinstance(wanted, torch.Tensor)):
            continue
        fixed = [d if isinstance(d, int) else None for d in wanted.shape]
        fits = len(fixed) == given.dim() and all(
            f is None or f == g for f, g in zip(fixed, given.shape, strict=True)
        )
        if not fits:
            shape = ", ".join("*" if f is None else str(f) for f in fixed)
            raise SpecError(
                f"{path} was exported for input {index} of shape [{shape}] (a dimension not "
                f"marked dynamic at export is fixed): --input {list(given.shape)} does not fit"
            )


def load_pickled(
    path: str,
    inputs: list[str],
    kwargs: list[str],
    device: str | None,
    trust: bool,
    warn: Callable[[str], None] | None = None,
) -> LoadedModel:
    """The module ``torch.save`` pickled into ``path``, loaded only when ``trust`` (the
    warning goes to ``warn`` first); its example inputs come from ``inputs``/``kwargs``."""
    if not Path(path).is_file():
        raise SpecError(f"model file {path!r} does not exist")
    if not trust:
        try:  # weights alone load safely: say what the file holds instead
            held = torch.load(path, weights_only=True, map_location="meta")
        except Exception:
            raise SpecError(PICKLE_WARNING.format(path=path)) from None
        raise SpecError(
            f"{path} holds a {type(held).__name__} of weights, not a model: give the model's "
            "code (FILE.py:NAME) or a checkpoint folder with a config.json"
        )
    if warn is not None:
        warn(PICKLE_WARNING.format(path=path))
    try:
        module = torch.load(path, weights_only=False, map_location=device or "cpu")
    except Exception as error:
        raise TraceError(
            f"loading the pickle {path} raised {type(error).__name__}: {_first_line(error)}"
        ) from error
    if not isinstance(module, nn.Module):
        raise SpecError(f"{path} holds a {type(module).__name__}, not an nn.Module")
    on = device or "cpu"
    args = tuple(parse_input_spec(t, on) for t in inputs)
    keywords = parse_kwargs(kwargs, on)
    if not args and not keywords:
        raise SpecError(
            f"{path} holds a module but no example inputs: pass --input, e.g. "
            "--input 'float32[2,16,64]'"
        )
    return LoadedModel(module, args, path, keywords, [f"{path}: a trusted pickle was loaded"])


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else repr(error)
    return text if len(text) < 300 else text[:300] + "…"
