"""Block-wise validation on a Ray cluster: each block to validate is one Ray task.

The model runs once here, on the driver, to record the input of every block to validate
(exactly as :func:`analyzer.empirical.blockwise.validate_blockwise` does, streamed from
the meta device when it was built there); each block, as a model of its recorded input,
is then sent to the cluster as a task asking for ``cpus`` CPUs and ``gpus`` GPUs, and
validated there. The per-block reports are those of the local run; a block whose task
fails, whose worker dies, or which runs past ``timeout`` seconds is reported as such
(``failed_blocks``), never dropped, and the whole then does not agree.

>>> report = ClusterBlockwiseReport("m", [], 0.0, failures=[{"path": "layers.0",
...     "outcome": "timeout", "error": "no result within 5 s"}])
>>> report.agree, report.text().splitlines()[1]
(False, '  layers.0: timeout: no result within 5 s')
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from analyzer.empirical.blockwise import (
    SCHEMA,
    _block_as_model,
    _record_inputs,
    repeated_blocks,
)
from analyzer.empirical.validate import check_options
from analyzer.errors import SpecError
from analyzer.progress import SILENT, Progress


@dataclass
class ClusterBlockwiseReport:
    """Per block validated on the cluster, its ``analyzer.validation/1`` document (what
    comes back from a worker: the report's analysis holds the traced graph, which does
    not travel), and the blocks that could not be validated."""

    model: str
    blocks: list[dict[str, Any]]  # path, instances, validation (the document)
    seconds: float
    seconds_by_check: dict[str, float] = field(default_factory=dict)
    streamed: bool = False
    failures: list[dict[str, str]] = field(default_factory=list)

    @property
    def agree(self) -> bool:
        return (
            bool(self.blocks)
            and not self.failures
            and all(b["validation"]["agree"] for b in self.blocks)
        )

    @property
    def sound(self) -> bool:
        """No measured block contradicts a claim (a failed block contradicts nothing, but
        the whole does not agree)."""
        return all(b["validation"]["sound"] for b in self.blocks)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "model": self.model,
            "scope": "each block's claims are checked relative to that block's own input "
            "(the activation the example input produces there), not to the model's input",
            "agree": self.agree,
            "sound": self.sound,
            "streamed": self.streamed,
            "executor": "ray",
            "blocks": self.blocks,
            "failed_blocks": self.failures,
            "seconds": round(self.seconds, 3),
            "seconds_by_check": {k: round(v, 3) for k, v in self.seconds_by_check.items()},
        }

    def text(self) -> str:
        """What ``validate --blockwise --executor ray`` prints: one line per block."""
        lines = [f"block-wise validation of {self.model} on a Ray cluster (float64)"]
        for block in self.blocks:
            document = block["validation"]
            verdict = "agree" if document["agree"] else (
                "sound (over-approximates)" if document["sound"] else "DISAGREES"
            )  # fmt: skip
            confirmed = sum(p["confirmed"] for p in document["products"])
            lines.append(
                f"  {block['path']} (x{len(block['instances'])}): {verdict} · degree "
                f"{document['degree']['static']} claimed, {document['degree']['empirical']} "
                f"measured · sites {confirmed}/{len(document['products'])} confirmed · "
                f"{document['seconds']:.1f} s"
            )
        for failure in self.failures:
            lines.append(f"  {failure['path']}: {failure['outcome']}: {failure['error']}")
        lines.append(
            ("agree" if self.agree else "sound" if self.sound else "disagrees")
            + f" ({len(self.blocks)} block(s) validated, {len(self.failures)} failed, "
            f"{self.seconds:.1f} s)"
        )
        return "\n".join(lines)


def validate_blockwise_ray(
    module: Any,
    example_args: Sequence[Any],
    *,
    example_kwargs: dict[str, Any] | None = None,
    model: str = "model",
    device: str = "cpu",
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
    address: str | None = None,
    cpus: float = 1.0,
    gpus: float = 0.0,
    timeout: float = 3600.0,
    init: dict[str, Any] | None = None,
) -> ClusterBlockwiseReport:
    """:func:`~analyzer.empirical.blockwise.validate_blockwise` with each block validated
    as a task on the Ray cluster at ``address`` (``RAY_ADDRESS``, else a local cluster)."""
    import ray

    from analyzer.census_ray import connect

    check_options(samples, max_degree, memory, device, pairs)
    if blocks not in ("distinct", "all"):
        raise SpecError(f"blocks must be 'distinct' or 'all', not {blocks!r}")
    if not timeout > 0:
        raise SpecError(f"timeout must be positive, not {timeout}")
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
            module, example_args, example_kwargs or {}, wanted, "cpu", mode
        )
    capture = time.perf_counter() - started
    settings = {
        "device": device, "samples": samples, "max_degree": max_degree, "pairs": pairs,
        "seed": seed, "batched": batched, "frontend": frontend, "mode": mode, "memory": memory,
    }  # fmt: skip
    started_here = not ray.is_initialized()
    if started_here:
        connect(ray, address or os.environ.get("RAY_ADDRESS"), init or {})
    task = ray.remote(_validate_block).options(num_cpus=cpus, num_gpus=gpus, max_retries=0)
    order, running = [], {}
    try:
        for members, picked in zip(groups, chosen, strict=True):
            for path, _ in picked:
                if path not in inputs:
                    continue  # never called by the example's forward
                wrapped, activation = _block_as_model(runnable[path], *inputs[path])
                instances = [p for p, _ in members] if len(picked) == 1 else [path]
                ref = task.remote(wrapped, activation, f"{model} {path}", settings)
                order.append(path)
                running[ref] = (path, instances, time.perf_counter())
        results, failures = _gather(ray, running, timeout, progress)
    finally:
        if started_here:
            ray.shutdown()
    position = {path: i for i, path in enumerate(order)}
    results.sort(key=lambda r: position[r["path"]])
    failures.sort(key=lambda f: position[f["path"]])
    seconds: dict[str, float] = {"record_inputs": capture}
    for result in results:
        for check, value in result["validation"]["seconds_by_check"].items():
            seconds[check] = seconds.get(check, 0.0) + value
    return ClusterBlockwiseReport(
        model, results, time.perf_counter() - started, seconds, streamed, failures
    )


def _gather(
    ray: Any, running: dict[Any, Any], timeout: float, progress: Progress
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Every task's report, or why it has none (a timed-out task is cancelled)."""
    results: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    with progress.task("validating blocks on the cluster", total=len(running)) as bar:
        while running:
            done, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
            for ref in done:
                path, instances, _ = running.pop(ref)
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
                    report["scope"] = f"the input of {path} (its first argument; others fixed)"
                    results.append({"path": path, "instances": instances, "validation": report})
                bar.advance()
            now = time.perf_counter()
            for ref, (path, _, since) in list(running.items()):
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
    """One block, in a Ray worker: validated as a model of its recorded input."""
    import torch

    from analyzer.empirical.validate import validate

    torch.set_num_threads(1)
    report = validate(wrapped, (activation.to(settings["device"]),), model=label, **settings)
    return report.to_json()


__all__ = ["ClusterBlockwiseReport", "validate_blockwise_ray"]
