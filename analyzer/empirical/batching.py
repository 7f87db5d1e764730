"""Run a per-sample function over stacked samples: vmapped in chunks that fit a memory
budget, or a Python loop (the baseline, and the fallback for ops with no batching rule).

The chunk size comes from an estimate of one sample's memory (:func:`peak_bytes`: the
largest set of float64 values alive at once while the graph runs, times the check's
multiplier) against the budget, so ``--memory`` bounds the peak by splitting samples.

>>> batcher = Batcher(batched=True, chunk=2)
>>> batcher(lambda x: x * 2, torch.arange(5.0)).tolist()
[0.0, 2.0, 4.0, 6.0, 8.0]
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch
import torch.fx as fx
import torch.utils._pytree as pytree
from torch.func import vmap

from analyzer.frontend.dialect import InputKind, TracedModel, tensor_operands
from analyzer.progress import Task

GIB = 1024**3


class Batcher:
    """Applies ``function`` to each sample (the leading dim of every stacked input).

    With a ``budget`` (bytes) and a ``meter``, the first chunk of every call holds one
    sample and its measured peak sizes the following chunks, so that the budget bounds
    the peak memory whatever the estimate said; ``chunk`` is the estimate's size."""

    def __init__(
        self, batched: bool, chunk: int, budget: int | None = None, meter: Meter | None = None
    ) -> None:
        self.mode = "vmap" if batched else "loop"
        self.chunk = max(1, chunk)
        self.loop_reason = ""
        self.budget, self.meter = budget, meter
        self.peak = 0  # the most memory (bytes) a chunk was measured to use
        self.largest = 0  # the most samples one call was given
        self.over_budget = False  # one sample alone needed more than the budget

    def __call__(
        self, function: Callable[..., Any], *stacked: Any, task: Task | None = None
    ) -> Any:
        count = len(pytree.tree_leaves(stacked)[0])
        self.largest = max(self.largest, count)
        results = []
        start = 0
        calibrate = self.meter is not None and self.budget is not None and self.mode == "vmap"
        measured: list[tuple[int, int]] = []  # (samples, bytes) of the calibration chunks
        while start < count:
            size = len(measured) + 1 if calibrate and len(measured) < 2 else self.chunk
            size = min(size, count - start)
            part = pytree.tree_map(lambda t, s=start, n=size: t[s : s + n], stacked)
            if self.meter is not None:
                self.meter.reset()
            results.append(self._chunk(function, part))
            if self.meter is not None:
                used = self.meter.peak()
                self.peak = max(self.peak, used)
                if calibrate and len(measured) < 2 and self.budget is not None:
                    measured.append((size, used))
                    self._size_chunks(measured, self.budget - self.meter.baseline)
            done = min(size, count - start)
            if task is not None:
                task.advance(done)
            start += done
        return pytree.tree_map(lambda *xs: torch.cat(xs), *results)

    def _size_chunks(self, measured: list[tuple[int, int]], spare: int) -> None:
        """Chunks that fit ``spare`` bytes: one sample's cost is the growth from a chunk of
        one to a chunk of two (what one chunk costs whatever its size is left out)."""
        (_, one), *rest = measured
        per_sample, fixed = max(one, 1), 0
        if rest and rest[0][0] == 2:
            per_sample = max(rest[0][1] - one, 1)
            fixed = max(one - per_sample, 0)
        self.over_budget = one > spare
        self.chunk = max(1, int(max(spare - fixed, 0) // per_sample))

    def _chunk(self, function: Callable[..., Any], part: Any) -> Any:
        if self.mode == "vmap":
            try:
                return vmap(function, randomness="same")(*part)
            except Exception as error:  # an op without a batching rule, a data-dependent shape
                self.mode = "loop"
                self.loop_reason = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
        count = len(pytree.tree_leaves(part)[0])
        outputs = [function(*pytree.tree_map(lambda t, i=i: t[i], part)) for i in range(count)]
        return pytree.tree_map(lambda *xs: torch.stack(xs), *outputs)

    @property
    def description(self) -> str:
        if self.mode == "vmap":
            return f"vmap (chunks of {min(self.chunk, max(self.largest, 1))})"
        if self.loop_reason:
            return f"loop (vmap failed: {self.loop_reason})"
        return "loop"


class Meter:
    """Peak memory of a stretch of work: CUDA's allocator statistics on a GPU, the
    process's peak resident set (``VmHWM``, reset through ``/proc/self/clear_refs``) on
    the CPU. ``baseline`` is what was in use when the stretch began."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.baseline = 0

    @staticmethod
    def available(device: torch.device) -> bool:
        if device.type == "cuda":
            return True
        try:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")
            return _status("VmHWM") > 0
        except OSError:
            return False

    def reset(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.baseline = torch.cuda.memory_allocated(self.device)
        else:
            _release_free_memory()  # else freed memory is reused unseen by the RSS
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")
            self.baseline = _status("VmRSS")

    def peak(self) -> int:
        """Bytes above the baseline at the peak since :meth:`reset`."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            return max(torch.cuda.max_memory_allocated(self.device) - self.baseline, 0)
        return max(_status("VmHWM") - self.baseline, 0)


def _release_free_memory() -> None:
    """Return the C allocator's free memory to the system (glibc ``malloc_trim``)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _status(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def peak_bytes(traced: TracedModel) -> tuple[int, int]:
    """``(weights, activations)``: bytes of the float64 weights, and the most float64
    bytes of intermediate values alive at once while the graph runs (values are freed
    after their last use, as ``fx.Interpreter`` does)."""
    last_use: dict[fx.Node, fx.Node] = {}
    for node in traced.graph.nodes:
        for operand in tensor_operands(node):
            last_use[operand] = node
    freed_at: dict[fx.Node, list[fx.Node]] = {}
    for value, user in last_use.items():
        freed_at.setdefault(user, []).append(value)
    weights = live = peak = 0
    for node in traced.graph.nodes:
        size = _value_bytes(node.meta.get("val"))
        if node.op == "placeholder" and traced.input_kinds.get(node.name) is not InputKind.INPUT:
            weights += size
            continue
        live += size
        peak = max(peak, live)
        for value in freed_at.get(node, ()):
            if not (value.op == "placeholder"):
                live -= _value_bytes(value.meta.get("val"))
    return weights, peak


def _value_bytes(value: Any) -> int:
    total = 0
    for leaf in pytree.tree_leaves(value):
        if isinstance(leaf, torch.Tensor):
            try:
                count = int(leaf.numel())
            except Exception:  # a symbolic size: count it as one element
                count = 1
            total += count * (8 if leaf.is_floating_point() else leaf.element_size())
    return total


def default_budget(device: torch.device) -> int:
    """Half of the device's free memory (the host's available memory for the CPU)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free // 2
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 // 2
    except OSError:
        pass
    pages = os.sysconf("SC_AVPHYS_PAGES") if hasattr(os, "sysconf") else 0
    return max(pages * os.sysconf("SC_PAGE_SIZE") // 2, 2 * GIB)


def chunk_size(budget: int, weights: int, per_sample: int, samples: int) -> int:
    """How many samples fit in ``budget`` at once (at least one)."""
    available = max(budget - weights, 0)
    return max(1, min(samples, available // max(per_sample, 1)))
