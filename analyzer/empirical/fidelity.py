"""Does the traced graph compute what the model computes, away from the example input?

Every other check differentiates the published graph, so a graph that is not the
model's function (control flow frozen by the ``real`` frontend, an input captured as a
constant, a write the trace missed) would be checked against itself. This check runs
the Python model — a float64 copy, the caller's module untouched — at the sample points
and compares its outputs with the graph's. It applies when every continuous source is a
model input (perturbations at an embedding's output cannot be fed to the model) and the
graph draws no random numbers (the model's own draws would differ).

>>> import torch
>>> from analyzer.frontend.tracing import trace
>>> module, x = torch.nn.Linear(3, 2), torch.randn(4, 3)
>>> program = Program.of(trace(module, (x,)))
>>> reference = model_reference(module, (x,), {}, "cpu", None)
>>> check_fidelity(program, reference, (x.double().unsqueeze(0) + 1,)).mismatched
0
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.utils._pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

from analyzer.empirical.execute import Program
from analyzer.empirical.ops import EXPLICIT, _overloads
from analyzer.empirical.randomness import random_ops
from analyzer.empirical.values import float64_dtype
from analyzer.frontend.dialect import InputKind

RELATIVE_TOLERANCE = 1e-6  # float64 on both sides; kernels differ only in rounding


@dataclass
class Fidelity:
    """How the graph's outputs compared with the model's at the sample points."""

    checked: int = 0
    mismatched: int = 0
    max_relative_difference: float = 0.0
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "mismatched": self.mismatched,
            "max_relative_difference": self.max_relative_difference,
            "note": self.note,
        }


class Reference:
    """``replaced -> outputs``: the model, copied to float64, called with the example
    inputs whose pytree leaves at the given positions are replaced (see
    :func:`model_reference`). With ``seed``, torch's random generators are seeded for the
    call (and restored after it), so that a model that draws random numbers draws the
    same ones at every input. A tensor the forward builds without a dtype is float64, as
    in the graph's runs (:meth:`analyzer.empirical.execute.Program.run`); :attr:`epsilon`
    is the machine epsilon of the least precise floating-point value any op produced so
    far (a forward that casts to float32 itself)."""

    def __init__(self, call: Callable[[dict[int, torch.Tensor]], tuple[torch.Tensor, ...]]):
        self._call = call
        self.epsilon = torch.finfo(torch.float64).eps

    def __call__(
        self, replaced: dict[int, torch.Tensor], seed: int | None = None
    ) -> tuple[torch.Tensor, ...]:
        kernels, default = Float64Kernels(), torch.get_default_dtype()
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        with contextlib.ExitStack() as stack:
            if seed is not None:
                stack.enter_context(torch.random.fork_rng(devices=devices))
                torch.manual_seed(seed)
            torch.set_default_dtype(torch.float64)  # as in the graph: validate's runs
            stack.callback(torch.set_default_dtype, default)
            stack.enter_context(kernels)
            outputs = self._call(replaced)
        self.epsilon = max(self.epsilon, kernels.epsilon)
        return outputs


def model_reference(
    module: Any,
    example_args: Sequence[Any],
    example_kwargs: dict[str, Any],
    device: str | torch.device,
    mode: str | None,
) -> Reference:
    """The model, copied to float64 on ``device`` (the caller's module untouched), as a
    :class:`Reference`."""
    from analyzer.frontend.tracing import flatten_tensors

    device = torch.device(device)
    if isinstance(module, torch.nn.Module):
        module = copy.deepcopy(module).to(device=device, dtype=torch.float64)
        if mode is not None:
            module.train(mode == "train")

    def moved(value: Any) -> Any:
        if not isinstance(value, torch.Tensor):
            return value
        if value.is_floating_point():
            return value.detach().to(device=device, dtype=torch.float64)
        return value.detach().to(device=device)

    leaves, spec = pytree.tree_flatten((tuple(example_args), dict(example_kwargs)))
    leaves = [moved(leaf) for leaf in leaves]

    def call(replaced: dict[int, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        filled = [replaced.get(i, leaf) for i, leaf in enumerate(leaves)]
        args, kwargs = pytree.tree_unflatten(filled, spec)
        with torch.no_grad():
            output = module(*args, **kwargs)
        return tuple(t for t in flatten_tensors(output) if t.is_floating_point() or t.is_complex())

    return Reference(call)


class Float64Kernels(TorchDispatchMode):
    """While the model itself runs in float64: ops whose kernels refuse float64 run by
    their explicit implementations (``_grouped_mm``, which a mixture of experts calls).
    :attr:`epsilon` is the machine epsilon of the least precise floating-point result."""

    def __init__(self) -> None:
        super().__init__()
        self.epsilon = torch.finfo(torch.float64).eps

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        if func not in _BIT_VIEWS:  # the model's own float32 casts run in float64, as the graph's
            args, kwargs = pytree.tree_map(float64_dtype, (args, kwargs))
        result = None
        if func in _FLOAT64_KERNELS:
            tensors = [a for a in args if isinstance(a, torch.Tensor)]
            if any(t.dtype == torch.float64 for t in tensors):
                result = _FLOAT64_KERNELS[func](*args, **kwargs)
        if result is None:
            result = func(*args, **kwargs)
        for leaf in pytree.tree_leaves(result):
            if isinstance(leaf, torch.Tensor) and leaf.is_floating_point():
                self.epsilon = max(self.epsilon, torch.finfo(leaf.dtype).eps)
        return result


_BIT_VIEWS = frozenset(_overloads(torch.ops.aten.view, "dtype"))
"""A view of the bits as another type: its dtype is the reinterpretation, not a precision."""


_FLOAT64_KERNELS = {
    op: EXPLICIT[op] for op in _overloads(torch.ops.aten._grouped_mm, "default") if op in EXPLICIT
}


def check_fidelity(
    program: Program, reference: Reference, points: tuple[torch.Tensor, ...], count: int = 4
) -> Fidelity:
    """Compare the graph with the model at the first ``count`` sample ``points`` (at the
    example input alone when the perturbations enter at an embedding)."""
    inputs = [
        n for n in program.graph.nodes
        if n.op == "placeholder" and program.traced.input_kinds.get(n.name) is InputKind.INPUT
    ]  # fmt: skip
    position = {node: i for i, node in enumerate(inputs)}
    random = random_ops(program.graph, program.traced.graph_module)
    if random:
        return Fidelity(note=f"not checked: the graph draws random numbers ({random[0]})")
    result = Fidelity()
    if any(source not in position for source in program.sources):
        # perturbations enter at an embedding the model cannot be handed: sample 0 is the
        # example input itself, where the graph must still compute the model's output
        count = 1
        result.note = "checked at the example input only (the model is perturbed at a lookup)"
    for sample in range(min(count, len(points[0]) if points else 0)):
        values = tuple(p[sample] for p in points)
        replaced = {
            position[s]: v for s, v in zip(program.sources, values, strict=True) if s in position
        }
        try:
            with torch.no_grad():
                expected = reference(replaced)
                produced = program.outputs(values)
            if len(expected) != len(produced):  # the trace lost or invented an output
                worst = math.inf
                result.note = (
                    f"the model returns {len(expected)} floating-point tensor(s), "
                    f"the graph {len(produced)}"
                )
            else:
                pairs = zip(produced, expected, strict=True)
                worst = max((_difference(a, b) for a, b in pairs), default=0.0)
        except Exception as error:  # the model refuses float64, say: nothing to compare
            return Fidelity(note=f"not checked: running the model raised {type(error).__name__}")
        result.checked += 1
        result.max_relative_difference = max(result.max_relative_difference, worst)
        result.mismatched += worst > RELATIVE_TOLERANCE
    return result


def _difference(produced: torch.Tensor, expected: torch.Tensor) -> float:
    if produced.shape != expected.shape:
        return math.inf
    produced, expected = produced.detach().to(expected.device), expected.detach()
    both = torch.isfinite(produced) & torch.isfinite(expected)
    if not bool((both == torch.isfinite(expected)).all()):
        return math.inf  # one side finite where the other is not
    if not bool(both.any()):
        return 0.0
    scale = float(expected[both].abs().amax())
    gap = float((produced[both] - expected[both]).abs().amax())
    return gap / scale if scale > 0 else gap
