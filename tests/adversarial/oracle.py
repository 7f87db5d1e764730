"""An oracle independent of the tool: facts about a model measured by running its Python forward.

Nothing here imports ``analyzer`` or reads a traced graph. Every measurement calls the model's
own ``forward`` on a deep copy in float64; before each call the copy's parameters and buffers
are restored and the random generators reseeded, so that a change in the output is caused by
the input alone. Finite differences see what autograd does not (``.item()``, ``detach``,
``no_grad``, ``torch.func`` inside forward, sampling with input-dependent parameters, a custom
``autograd.Function`` with a wrong backward).

* **dependence** — an output that a perturbation of ``1e-5`` (relative) changes is
  ``continuous``; one that only large perturbations of the continuous inputs, or other values
  of the integer inputs, change is ``discrete``; one that nothing changes is ``static``.
* **degree** — forward differences ``Δ^j_h g(0)`` of ``g(t) = f(x0 + t·u)`` along random
  lines. For a polynomial of degree ``d``, ``Δ^{d+1}`` vanishes exactly whatever the step, so
  the *global* test uses a large step (``0.3`` of the inputs' scale), orders up to
  :data:`CAP` + 1, and needs every line to agree. When it fails (a kink, a jump, or no
  polynomial), the *local* test uses a small step (``3e-3``) on many lines and takes a robust
  statistic (the 60th percentile of the per-line degrees), so that the few lines crossing a
  kink do not count; a small step cannot resolve high orders, so the local test only tells
  0, 1, 2 from "at least 3". Vanishing means ``|Δ^j| ≤ tol·2^j·S`` with ``S`` the largest
  ``|g|`` on the stencil: relative to the model's own scale, ``tol = 1e-9`` (global) and
  ``1e-11`` (local).
* **cross-entry terms** — the mixed second difference
  ``D_ij(h) = s(x+h·e_i+h·e_j) − s(x+h·e_i) − s(x+h·e_j) + s(x)`` of a random projection ``s``
  of the output, for pairs ``i ≠ j``. A pair is a cross term when ``D_ij/h²`` is non-zero
  (``|D| > 1e-10`` of the values) and the same within 5% at two steps (``1e-3`` and ``4e-3``):
  smooth there. A kink or a jump between the points makes ``D/h²`` scale like ``1/h`` or
  ``1/h²`` and is not counted (the seed S1, caveat 2).

>>> import torch
>>> measured = Oracle(lambda x: x[..., :1] * x[..., 1:], (torch.randn(3, 2),)).measure()
>>> measured.dependence, measured.degree, measured.cross
('continuous', 2, True)
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils import _pytree as pytree

INF = math.inf
CAP = 6  # the global test resolves degrees 0..CAP; above that the degree reads as INF
LOCAL_CAP = 2  # the local test resolves 0..LOCAL_CAP; above that "at least LOCAL_CAP + 1"
GLOBAL_STEP, LOCAL_STEP = 0.3, 3e-3
GLOBAL_TOL, LOCAL_TOL = 1e-9, 1e-11
GLOBAL_LINES, LOCAL_LINES = 4, 25
CROSS_STEPS = (1e-3, 4e-3)
CROSS_PAIRS = 120
DEPENDENCE_STEP, CHANGE_TOL = 1e-5, 1e-11


@dataclass(frozen=True)
class Measured:
    """What the oracle measured: dependence, degree (``INF`` when it is not resolved, with
    ``at_least`` the lower bound that is), whether the global polynomial test failed while
    the local one resolved a degree (``kinks``), and whether cross-entry terms exist."""

    dependence: str
    degree: float
    at_least: int
    kinks: bool
    cross: bool

    def degree_consistent_with(self, label: float) -> bool:
        """Whether a hand-written degree agrees with the measurement (a label above the
        resolution of the measurement only has to be at least what was resolved)."""
        if self.degree == INF:
            return label >= self.at_least
        return label == self.degree


class Oracle:
    """Runs ``model(*args, **kwargs)`` as a function of a flat float64 vector of its
    continuous coordinates: the floating-point input entries (real and imaginary parts of
    complex ones) and, for each name in ``sources``, an offset added to that submodule's
    output (an embedding's output is where a token model becomes continuous).

    ``step`` scales the global test's step (a model whose truth holds in a region only,
    frozen control flow, uses a smaller one); ``seed`` fixes every random choice.
    """

    def __init__(
        self,
        model: nn.Module | Callable[..., Any],
        args: Sequence[Any],
        kwargs: dict[str, Any] | None = None,
        *,
        sources: Sequence[str] = (),
        step: float = 1.0,
        seed: int = 0,
    ) -> None:
        self.model = _float64_copy(model)
        self.saved = _state(self.model)
        self.step, self.seed = step, seed
        self.generator = torch.Generator().manual_seed(seed)
        leaves, self.spec = pytree.tree_flatten((tuple(args), dict(kwargs or {})))
        self.leaves = [_as_float64(leaf) for leaf in leaves]
        self.continuous = [
            i for i, leaf in enumerate(self.leaves)
            if isinstance(leaf, torch.Tensor) and (leaf.is_floating_point() or leaf.is_complex())
        ]  # fmt: skip
        self.integers = [
            i for i, leaf in enumerate(self.leaves)
            if isinstance(leaf, torch.Tensor) and i not in self.continuous
        ]  # fmt: skip
        self.offsets: dict[str, torch.Tensor | None] = dict.fromkeys(sources)
        self.source_shapes: dict[str, torch.Size] = {}
        self._hooks(sources)
        self.evaluate(None)  # learns the sources' shapes
        pieces, scales = [], []
        for i in self.continuous:
            flat = _real_view(self.leaves[i]).reshape(-1)
            pieces.append(flat)
            scales.append(torch.full_like(flat, _rms(flat)))
        for name in sources:
            shape = self.source_shapes[name]
            pieces.append(torch.zeros(shape, dtype=torch.float64).reshape(-1))
            scales.append(torch.full((math.prod(shape),), self._source_rms[name]))
        self.theta0 = torch.cat(pieces) if pieces else torch.zeros(0, dtype=torch.float64)
        self.scale = torch.cat(scales) if scales else torch.zeros(0, dtype=torch.float64)

    # --- running the model ------------------------------------------------------------
    def _hooks(self, sources: Sequence[str]) -> None:
        self._source_rms: dict[str, float] = {}
        if not sources:
            return
        assert isinstance(self.model, nn.Module), "sources name submodules"
        modules = dict(self.model.named_modules())
        for name in sources:

            def hook(module: nn.Module, inputs: Any, output: Any, name: str = name) -> Any:
                self.source_shapes[name] = output.shape
                self._source_rms.setdefault(name, _rms(output.detach().reshape(-1)))
                offset = self.offsets[name]
                return output if offset is None else output + offset.view(output.shape)

            modules[name].register_forward_hook(hook)

    def evaluate(
        self, theta: torch.Tensor | None, integers: dict[int, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """The model's outputs, flattened into one float64 vector, at coordinates ``theta``
        (``None``: the example inputs) and with integer inputs replaced by ``integers``."""
        leaves = [leaf.clone() if isinstance(leaf, torch.Tensor) else leaf for leaf in self.leaves]
        if theta is not None:
            position = 0
            for i in self.continuous:
                size = _real_view(leaves[i]).numel()
                piece = theta[position : position + size]
                leaves[i] = _from_real(piece, self.leaves[i])
                position += size
            for name, shape in self.source_shapes.items():
                size = math.prod(shape)
                self.offsets[name] = theta[position : position + size].reshape(shape)
                position += size
        for i, value in (integers or {}).items():
            leaves[i] = value.clone()
        _restore(self.saved)
        torch.manual_seed(self.seed)
        random.seed(self.seed)
        args, kwargs = pytree.tree_unflatten(leaves, self.spec)
        default = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)  # tensors the forward creates match its inputs
        try:
            with torch.no_grad():
                output = self.model(*args, **kwargs)
        finally:
            torch.set_default_dtype(default)
        return _flatten_output(output)

    def _direction(self) -> torch.Tensor:
        return torch.randn(self.theta0.shape, generator=self.generator, dtype=torch.float64)

    def _start(self) -> torch.Tensor:
        return self.theta0 + 0.1 * self.step * self.scale * self._direction()

    # --- measurements -----------------------------------------------------------------
    def measure(self) -> Measured:
        """Dependence, degree and cross-entry terms, in one call."""
        degree, at_least, kinks = self.degree()
        return Measured(self.dependence(), degree, at_least, kinks, self.cross_terms())

    def dependence(self) -> str:
        """``continuous``, ``discrete`` or ``static`` (see the module doc)."""
        if self.theta0.numel():
            for _ in range(3):
                start = self._start()
                base = self.evaluate(start)
                for _ in range(2):
                    moved = start + DEPENDENCE_STEP * self.scale * self._direction()
                    if _changed(base, self.evaluate(moved)):
                        return "continuous"
        base = self.evaluate(self.theta0)
        for _ in range(4):
            if self.theta0.numel():
                far = self.theta0 + self.scale * self._direction()
                if _changed(base, self.evaluate(far)):
                    return "discrete"
            if self.integers and _changed(base, self.evaluate(self.theta0, self._shuffled())):
                return "discrete"
        return "static"

    def _shuffled(self) -> dict[int, torch.Tensor]:
        values = {}
        for i in self.integers:
            flat = self.leaves[i].reshape(-1)
            order = torch.randperm(flat.numel(), generator=self.generator)
            values[i] = flat[order].reshape(self.leaves[i].shape)
        return values

    def degree(self) -> tuple[float, int, bool]:
        """``(degree, at_least, kinks)``: the global test's degree when every line agrees on
        a finite one; else the local test's (``kinks`` true); else ``(INF, LOCAL_CAP + 1)``."""
        if not self.theta0.numel():
            return 0, 0, False
        step = GLOBAL_STEP * self.step
        lines = [self._line_degree(step, CAP, GLOBAL_TOL) for _ in range(GLOBAL_LINES)]
        if max(lines) <= CAP:
            return max(lines), max(lines), False
        local = sorted(
            self._line_degree(LOCAL_STEP, LOCAL_CAP, LOCAL_TOL) for _ in range(LOCAL_LINES)
        )
        typical = local[math.ceil(0.6 * len(local)) - 1]
        if typical <= LOCAL_CAP:
            return typical, typical, True
        return INF, LOCAL_CAP + 1, False

    def _line_degree(self, step: float, cap: int, tol: float) -> float:
        """The smallest ``k ≤ cap`` such that differences of orders ``k+1 … cap+1`` along one
        random line vanish, else ``INF``."""
        start, direction = self._start(), self._direction() * self.scale
        values = torch.stack([self.evaluate(start + k * step * direction) for k in range(cap + 2)])
        if not torch.isfinite(values).all():
            return INF
        scale = float(values.abs().max())
        if scale == 0.0:
            return 0
        vanishes = []
        differences = values
        for order in range(1, cap + 2):
            differences = differences[1:] - differences[:-1]
            size = float(differences[0].abs().max())
            vanishes.append(size <= tol * 2**order * scale)
        for k in range(cap + 1):
            if all(vanishes[k:]):
                return k
        return INF

    def cross_terms(self) -> bool:
        """Whether some pair ``i ≠ j`` of continuous coordinates has a smooth, non-zero mixed
        second derivative (see the module doc)."""
        count = self.theta0.numel()
        if count < 2:
            return False
        point = self._start()
        pairs = [(i, j) for i in range(count) for j in range(i + 1, count)]
        if len(pairs) > CROSS_PAIRS:
            chosen = torch.randperm(len(pairs), generator=self.generator)[:CROSS_PAIRS]
            pairs = [pairs[int(k)] for k in chosen]
        first, second = CROSS_STEPS
        unit = torch.where(self.scale > 0, self.scale, torch.ones_like(self.scale))
        weight = None

        def mixed(step: float, pair: tuple[int, int], single: dict[int, float]) -> float:
            """``D_ij/h²`` at ``step`` (0 when ``D`` vanishes); ``single`` caches
            ``s(x + h·e_i)`` and, under ``-1``, ``s(x)``."""
            nonlocal weight
            h = step * unit
            if -1 not in single:
                base = self.evaluate(point)
                if weight is None:
                    weight = torch.randn(base.shape, generator=self.generator, dtype=torch.float64)
                single[-1] = float((base * weight).sum())

            def s(theta: torch.Tensor) -> float:
                return float((self.evaluate(theta) * weight).sum())

            i, j = pair
            for k in pair:
                if k not in single:
                    single[k] = s(point + h[k] * _unit(count, k))
            f0 = single[-1]
            both = s(point + h[i] * _unit(count, i) + h[j] * _unit(count, j))
            d = both - single[i] - single[j] + f0
            size = max(abs(both), abs(single[i]), abs(single[j]), abs(f0))
            nonzero = math.isfinite(d) and abs(d) > 1e-10 * size
            return d / float(h[i] * h[j]) if nonzero else 0.0

        # every pair at the first step, then the second step only where the first is
        # non-zero (the only pairs that can count), stopping at the first that agrees
        at_first: dict[int, float] = {}
        candidates = [(pair, mixed(first, pair, at_first)) for pair in pairs]
        at_second: dict[int, float] = {}
        for pair, a in candidates:
            if a != 0.0:
                b = mixed(second, pair, at_second)
                if b != 0.0 and abs(a - b) <= 0.05 * max(abs(a), abs(b)):
                    return True
        return False


def _unit(count: int, i: int) -> torch.Tensor:
    e = torch.zeros(count, dtype=torch.float64)
    e[i] = 1.0
    return e


def _changed(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape:
        return True
    nan_a, nan_b = torch.isnan(a), torch.isnan(b)
    if not torch.equal(nan_a, nan_b):
        return True
    a, b = a[~nan_a], b[~nan_b]
    if not a.numel():
        return False
    size = max(float(a.abs().max()), float(b.abs().max()))
    return float((a - b).abs().max()) > CHANGE_TOL * size


def _rms(flat: torch.Tensor) -> float:
    flat = flat.to(torch.float64) if not flat.is_complex() else torch.view_as_real(flat)
    value = float(flat.pow(2).mean().sqrt()) if flat.numel() else 0.0
    return value if value > 0 and math.isfinite(value) else 1.0


def _real_view(tensor: torch.Tensor) -> torch.Tensor:
    return torch.view_as_real(tensor) if tensor.is_complex() else tensor


def _from_real(piece: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    if like.is_complex():
        return torch.view_as_complex(piece.reshape(*like.shape, 2).contiguous())
    return piece.reshape(like.shape).clone()


def _as_float64(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        if value.is_complex():
            return value.detach().to(torch.complex128)
        if value.is_floating_point():
            return value.detach().to(torch.float64)
        return value.detach()
    return value


def _float64_copy(model: Any) -> Any:
    if not isinstance(model, nn.Module):
        return model
    return copy.deepcopy(model).double()  # floating parameters and buffers; the mode is kept


def _state(model: Any) -> list[tuple[torch.Tensor, torch.Tensor]]:
    if not isinstance(model, nn.Module):
        return []
    tensors = [*model.parameters(), *model.buffers()]
    return [(t, t.detach().clone()) for t in tensors]


def _restore(saved: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    with torch.no_grad():
        for tensor, value in saved:
            tensor.copy_(value)


def _flatten_output(output: Any) -> torch.Tensor:
    pieces = []
    for leaf in pytree.tree_leaves(output):
        if isinstance(leaf, torch.Tensor):
            leaf = leaf.detach()
            if leaf.is_complex():
                leaf = torch.view_as_real(leaf.to(torch.complex128))
            pieces.append(leaf.to(torch.float64).reshape(-1))
        elif isinstance(leaf, (int, float, bool)):
            pieces.append(torch.tensor([float(leaf)], dtype=torch.float64))
    return torch.cat(pieces) if pieces else torch.zeros(0, dtype=torch.float64)
