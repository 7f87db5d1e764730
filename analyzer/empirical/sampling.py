"""The samples the measurements run at, and how a value becomes one number.

:class:`Samples` holds, per source, the random points, two directions ``u`` and ``v``
with disjoint supports, and random lines. :class:`Projector` reduces every value to a
scalar by a fixed random rank-one projection ``⟨value, a₁⊗a₂⊗…⟩``: zero exactly when the
value is (almost surely), and cheap to hold. Directions are scaled to each source's own
root-mean-square, so that tolerances are relative to the model's scale. The
measurements themselves are :mod:`analyzer.empirical.checks`'.

>>> x = torch.randn(2, 3, dtype=torch.float64)
>>> drawn = Samples.draw((x,), count=4, seed=0)
>>> bool(torch.equal(drawn.points[0][0], x)), bool((drawn.u[0] * drawn.v[0] == 0).all())
(True, True)
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class Samples:
    """Per source, stacked over samples: points, the two disjoint directions, and lines."""

    points: tuple[torch.Tensor, ...]
    u: tuple[torch.Tensor, ...]
    v: tuple[torch.Tensor, ...]
    lines: tuple[torch.Tensor, ...]

    @staticmethod
    def draw(values: tuple[torch.Tensor, ...], count: int, seed: int) -> Samples:
        """Sample 0 is the example input itself; the others are offset from it by one
        root-mean-square of each source. ``u``/``v`` split the entries of all sources by
        one bit of a random permutation of their positions (bit ``s`` for sample ``s``),
        so that after ``log₂(entries)`` samples every pair ``i ≠ j`` has been separated."""
        generator = torch.Generator().manual_seed(seed)
        scales = [_rms(v) for v in values]
        sizes = [v.numel() for v in values]
        total = sum(sizes)
        bits = max(1, math.ceil(math.log2(max(total, 2))))
        permutation = torch.randperm(total, generator=generator)
        sides = []
        for s in range(count):
            if s < bits:
                sides.append(((permutation >> s) & 1).bool())
            else:
                sides.append(torch.rand(total, generator=generator) < 0.5)
        side = torch.stack(sides)  # (count, total): True -> the entry moves along u

        def stacked(kind: str) -> tuple[torch.Tensor, ...]:
            out = []
            offset = 0
            for value, scale, size in zip(values, scales, sizes, strict=True):
                noise = torch.randn((count, size), generator=generator, dtype=torch.float64)
                if kind == "u":
                    noise = noise * side[:, offset : offset + size]
                elif kind == "v":
                    noise = noise * ~side[:, offset : offset + size]
                elif kind == "points":
                    noise[0] = 0.0
                offset += size
                noise = (noise * scale).reshape(count, *value.shape)
                if value.is_complex():
                    imaginary = torch.randn(noise.shape, generator=generator, dtype=torch.float64)
                    noise = torch.complex(noise, imaginary * scale)
                out.append(noise.to(device=value.device, dtype=value.dtype))
            return tuple(out)

        offsets = stacked("points")
        points = tuple(v.unsqueeze(0) + o for v, o in zip(values, offsets, strict=True))
        return Samples(points, stacked("u"), stacked("v"), stacked("lines"))

    def first(self, count: int) -> Samples:
        """The first ``count`` samples."""
        return Samples(*(tuple(t[:count] for t in part) for part in (
            self.points, self.u, self.v, self.lines)))  # fmt: skip


def _rms(value: torch.Tensor) -> float:
    if value.numel() == 0:
        return 1.0
    rms = float(value.detach().abs().double().pow(2).mean().sqrt())
    return rms if math.isfinite(rms) and rms > 0 else 1.0


class Projector:
    """A fixed random rank-one linear functional per watched value."""

    def __init__(self, shapes: dict[str, tuple[torch.Size, torch.dtype]], device, seed: int):
        self.device, self.seed = device, seed
        self.factors: dict[tuple[str, tuple[int, ...]], list[torch.Tensor]] = {}
        for index, (key, (shape, dtype)) in enumerate(sorted(shapes.items())):
            self._make(key, _projected_shape(shape, dtype), index)

    def _make(self, key: str, shape: tuple[int, ...], index: int) -> list[torch.Tensor]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        factors = [
            torch.randn(size, generator=generator, dtype=torch.float64).to(self.device)
            for size in shape
        ]
        self.factors[(key, shape)] = factors
        return factors

    def _unrecorded(self, key: str, shape: tuple[int, ...]) -> list[torch.Tensor]:
        """Factors for a shape the first run did not record (a data-dependent shape, one
        per sample), made afresh at each call: a tensor made inside ``jvp`` or ``vmap`` is
        wrapped at that transform's level, so keeping it for a later call would leak it
        out of its level (functorch's internal assert). Seeded by key and shape, so every
        call gets the same factors."""
        seed = self.seed * 1_000_003 + zlib.crc32(repr((key, shape)).encode()) + 10**7
        generator = torch.Generator().manual_seed(seed)
        return [
            torch.randn(size, generator=generator, dtype=torch.float64).to(self.device)
            for size in shape
        ]

    def __call__(self, key: str, value: torch.Tensor) -> torch.Tensor:
        if value.is_complex():  # conj() is a lazy bit that view_as_real refuses
            value = torch.view_as_real(value.resolve_conj())
        if not value.is_floating_point():
            value = value.to(torch.float64)
        shape = tuple(value.shape)
        factors = self.factors.get((key, shape))
        if factors is None:  # a shape not recorded (data-dependent): fixed for this shape
            factors = self._unrecorded(key, shape)
        for factor in reversed(factors):
            value = value @ factor
        return value


def _projected_shape(shape: torch.Size, dtype: torch.dtype) -> tuple[int, ...]:
    return (*shape, 2) if dtype.is_complex else tuple(shape)


def _projection(project: Projector, key: str, value: Any) -> torch.Tensor:
    if key == "output":
        from analyzer.empirical.execute import floating_leaves

        leaves = floating_leaves(value)
        total = None
        for index, leaf in enumerate(leaves):
            term = project(f"output.{index}", leaf)
            total = term if total is None else total + term
        assert total is not None, "the model has no floating-point output"
        return total
    if isinstance(value, (tuple, list)):  # every member: a slogdet's sign and log|det|
        members = [
            project(f"{key}#{i}", t)
            for i, t in enumerate(torch.utils._pytree.tree_leaves(value))
            if isinstance(t, torch.Tensor)
        ]
        return torch.stack(members).sum()
    assert isinstance(value, torch.Tensor), key
    return project(key, value)
