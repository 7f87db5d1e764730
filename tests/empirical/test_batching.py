"""Chunks of samples: vmap and loop give the same results; a budget sizes the chunks."""

from __future__ import annotations

import torch

from analyzer.empirical.batching import Batcher, Meter, chunk_size


class FakeMeter(Meter):
    """Reports a fixed cost per sample plus a fixed cost per chunk."""

    def __init__(self, per_sample: int, fixed: int) -> None:
        super().__init__(torch.device("cpu"))
        self.per_sample, self.fixed, self.size = per_sample, fixed, 0

    def reset(self) -> None:
        self.baseline = 0

    def peak(self) -> int:
        return self.fixed + self.per_sample * self.size


def test_vmap_and_loop_agree_and_chunks_cover_every_sample() -> None:
    values = torch.randn(7, 3)
    batched = Batcher(batched=True, chunk=3)(lambda x: (x * x).sum(), values)
    looped = Batcher(batched=False, chunk=3)(lambda x: (x * x).sum(), values)
    assert torch.allclose(batched, (values * values).sum(dim=1)) and torch.equal(batched, looped)


def test_measured_chunks_fit_the_budget() -> None:
    meter = FakeMeter(per_sample=100, fixed=50)
    batcher = Batcher(batched=True, chunk=64, budget=1_000, meter=meter)

    def function(x: torch.Tensor) -> torch.Tensor:
        return x + 1

    sizes = []

    def sized(fn, part):
        meter.size = len(part[0])
        sizes.append(meter.size)
        return original(fn, part)

    original, batcher._chunk = batcher._chunk, sized
    batcher(function, torch.zeros(40))
    assert sizes[:2] == [1, 2]  # calibration: one sample, then two
    assert all(s * 100 + 50 <= 1_000 for s in sizes) and sum(sizes) == 40
    assert batcher.chunk == 9 and not batcher.over_budget


def test_a_chunk_that_measures_nothing_still_has_a_size() -> None:
    batcher = Batcher(batched=True, chunk=4, budget=10, meter=FakeMeter(0, 0))
    batcher._size_chunks([(1, 0)], 10)
    assert batcher.chunk == 10


def test_chunk_size_from_the_estimate() -> None:
    assert chunk_size(budget=1000, weights=200, per_sample=100, samples=16) == 8
    assert chunk_size(budget=100, weights=200, per_sample=100, samples=16) == 1
