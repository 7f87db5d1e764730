"""Block-wise validation on a Ray cluster: each block to validate is one Ray task.

The model runs once here, on the driver, to record the input of every block to validate,
with :mod:`analyzer.empirical.blockwise`'s own functions (streamed from the meta device
when it was built there); each block, as a model of its recorded input, is then sent to
the cluster as a task asking for ``cpus`` CPUs and ``gpus`` GPUs, and validated there by
:func:`~analyzer.empirical.validate.validate`, as the local run does. What comes back is
the local run's :class:`~analyzer.empirical.blockwise.BlockwiseReport` (same blocks, same
reports, same JSON, rendered by :func:`~analyzer.render.validation.render_blockwise`),
plus the blocks whose task failed, whose worker died, or which ran past ``timeout``
seconds (``failed_blocks``): never dropped, and the whole then does not agree.

>>> report = ClusterBlockwiseReport("m", [], 0.0, failures=[{"path": "layers.0",
...     "outcome": "timeout", "error": "no result within 5 s"}])
>>> report.agree, report.text().splitlines()[-2:]
(False, ['  layers.0: timeout: no result within 5 s', 'verdict      NOT VALIDATED: 1 block(s) \
failed  (0.0 s)'])
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from analyzer.empirical.blockwise import (
    BlockResult,
    BlockwiseReport,
    block_jobs,
    seconds_by_check,
)
from analyzer.empirical.validate import check_options, validate
from analyzer.errors import SpecError
from analyzer.progress import SILENT, Progress

FORWARDED = ("device", "samples", "max_degree", "pairs", "seed", "batched", "frontend", "mode",
             "memory")  # fmt: skip
"""The options of :func:`~analyzer.empirical.validate.validate` each block's task is given."""


@dataclass
class ClusterBlockwiseReport(BlockwiseReport):
    """The local run's report of the blocks validated on the cluster, and the blocks that
    could not be validated (``path``, ``outcome``: ``timeout``, ``crash`` or ``failed``,
    ``error``)."""

    failures: list[dict[str, str]] = field(default_factory=list)

    @property
    def agree(self) -> bool:
        return super().agree and not self.failures

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "executor": "ray", "failed_blocks": self.failures}

    def text(self) -> str:
        """The local run's text, the failed blocks listed before the verdict."""
        from analyzer.render.validation import render_blockwise

        lines = render_blockwise(self).splitlines()
        verdict = lines.pop()
        for failure in self.failures:
            lines.append(f"  {failure['path']}: {failure['outcome']}: {failure['error']}")
        if self.failures:
            verdict = (
                f"verdict      NOT VALIDATED: {len(self.failures)} block(s) failed  "
                f"({self.seconds:.1f} s)"
            )
        return "\n".join([*lines, verdict])


@dataclass(frozen=True)
class ClaimsRead:
    """What a :class:`~analyzer.empirical.report.ValidationReport` reads of its analysis
    (its verdicts and its text): the analysis itself holds the traced graph, whose torch
    objects do not pickle, so it stays in the worker and this comes back instead."""

    piecewise_affine: bool


def validate_blockwise_ray(
    module: Any,
    example_args: Sequence[Any],
    *,
    example_kwargs: dict[str, Any] | None = None,
    model: str = "model",
    progress: Progress = SILENT,
    blocks: str = "distinct",
    address: str | None = None,
    cpus: float = 1.0,
    gpus: float = 0.0,
    timeout: float = 3600.0,
    init: dict[str, Any] | None = None,
    **options: Any,
) -> ClusterBlockwiseReport:
    """:func:`~analyzer.empirical.blockwise.validate_blockwise` with each block validated
    as a task on the Ray cluster at ``address`` (``RAY_ADDRESS``, else a local cluster);
    ``options`` are :func:`~analyzer.empirical.validate.validate`'s (:data:`FORWARDED`;
    ``device`` is the workers' own, ``cpu`` by default)."""
    import ray

    from analyzer.census_ray import connect

    settings = _settings(options)
    if not timeout > 0:
        raise SpecError(f"timeout must be positive, not {timeout}")
    started = time.perf_counter()
    jobs, capture, streamed = block_jobs(
        module, example_args, example_kwargs, model=model, blocks=blocks, device="cpu",
        mode=settings["mode"], progress=progress,
    )  # fmt: skip
    started_here = not ray.is_initialized()
    if started_here:
        connect(ray, address or os.environ.get("RAY_ADDRESS"), init or {})
    task = ray.remote(_validate_block).options(num_cpus=cpus, num_gpus=gpus, max_retries=0)
    order, running = [], {}
    try:
        for job in jobs:
            ref = task.remote(job.model, job.activation, job.label, settings)
            order.append(job.path)
            running[ref] = (job.path, job.instances, job.scope, time.perf_counter())
        results, failures = _gather(ray, running, timeout, progress)
    finally:
        if started_here:
            ray.shutdown()
    position = {path: i for i, path in enumerate(order)}
    results.sort(key=lambda r: position[r.path])
    failures.sort(key=lambda f: position[f["path"]])
    seconds = seconds_by_check(capture, results)
    return ClusterBlockwiseReport(
        model, results, time.perf_counter() - started, seconds, streamed, failures
    )


def _settings(options: dict[str, Any]) -> dict[str, Any]:
    """``validate``'s defaults for what ``options`` leaves out (the device: the cpu),
    checked as ``validate`` checks them."""
    unknown = sorted(set(options) - set(FORWARDED))
    if unknown:
        raise TypeError(f"validate_blockwise_ray() got unexpected options {unknown}")
    parameters = inspect.signature(validate).parameters
    settings = {name: parameters[name].default for name in FORWARDED}
    settings["device"] = "cpu"
    settings.update({k: v for k, v in options.items() if v is not None})
    check_options(
        settings["samples"], settings["max_degree"], settings["memory"], settings["device"],
        settings["pairs"],
    )  # fmt: skip
    return settings


def _gather(
    ray: Any, running: dict[Any, Any], timeout: float, progress: Progress
) -> tuple[list[BlockResult], list[dict[str, str]]]:
    """Every task's report, or why it has none (a timed-out task is cancelled)."""
    results: list[BlockResult] = []
    failures: list[dict[str, str]] = []
    with progress.task("validating blocks on the cluster", total=len(running)) as bar:
        while running:
            done, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
            for ref in done:
                path, instances, scope, _ = running.pop(ref)
                try:
                    report = ray.get(ref)
                except ray.exceptions.RayError as error:
                    lines = [line for line in str(error).splitlines() if line.strip()]
                    outcome = "crash" if isinstance(error, ray.exceptions.WorkerCrashedError) else (
                        "failed"
                    )  # fmt: skip
                    failures.append(
                        {"path": path, "outcome": outcome, "error": (lines or ["?"])[-1][:400]}
                    )
                else:
                    report.scope = scope
                    results.append(BlockResult(path, instances, report))
                bar.advance()
            now = time.perf_counter()
            for ref, (path, _, _, since) in list(running.items()):
                if now - since > timeout:
                    ray.cancel(ref, force=True)
                    del running[ref]
                    failures.append(
                        {"path": path, "outcome": "timeout", "error": f"no result within "
                         f"{timeout:g} s (the Ray task was cancelled)"}
                    )  # fmt: skip
                    bar.advance()
    return results, failures


def _validate_block(wrapped: Any, activation: Any, label: str, settings: dict[str, Any]) -> Any:
    """One block, in a Ray worker: validated as a model of its recorded input; its report
    comes back with :class:`ClaimsRead` in place of the analysis."""
    import torch

    torch.set_num_threads(1)
    report = validate(wrapped, (activation.to(settings["device"]),), model=label, **settings)
    if report.analysis is not None:  # None: the block could not be traced
        report.analysis = ClaimsRead(report.analysis.piecewise_affine)  # type: ignore[assignment]
    return report


__all__ = ["FORWARDED", "ClaimsRead", "ClusterBlockwiseReport", "validate_blockwise_ray"]
