"""The census's Ray executor: one task per type on a Ray cluster, into the same store.

``RayExecutor()(todo, options, out, analyse)`` connects to the cluster at ``address``
(default: ``RAY_ADDRESS``; a local cluster on this machine when neither is set), and
keeps as many tasks in flight as the cluster has room for (each asks for ``cpus`` CPUs,
``gpus`` GPUs and the options' memory). A task that runs past the options' deadline is
cancelled with its worker (``timeout``); a task whose worker dies is a ``crash``; every
record is yielded as it arrives, so that :func:`analyzer.census.run_census` stores it in
the same resumable store the local pool uses (a census begun with one executor resumes
with the other). Reports and validation evidence are written by the workers into
``out``: on a cluster of several machines, ``out`` must be a shared folder for the pages
(the records themselves come back to the driver either way).

>>> RayExecutor(cpus=0).cpus
Traceback (most recent call last):
...
analyzer.errors.SpecError: a Ray task needs a positive number of CPUs, not 0
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from analyzer.errors import SpecError


class RayExecutor:
    """Runs census types as Ray tasks (see the module's docstring)."""

    def __init__(
        self,
        address: str | None = None,
        *,
        cpus: float = 1.0,
        gpus: float = 0.0,
        init: dict[str, Any] | None = None,
    ) -> None:
        if not cpus > 0:
            raise SpecError(f"a Ray task needs a positive number of CPUs, not {cpus:g}")
        if gpus < 0:
            raise SpecError(f"GPUs per Ray task must not be negative, not {gpus:g}")
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.cpus, self.gpus, self.init = cpus, gpus, dict(init or {})

    def __call__(
        self, todo: list[str], options: Any, out: Path, analyse: Any
    ) -> Iterable[dict[str, Any]]:
        if not todo:
            return
        import ray

        started_here = not ray.is_initialized()
        if started_here:
            connect(ray, self.address, self.init)
        try:
            yield from self._run(ray, todo, options, out, analyse)
        finally:
            if started_here:
                ray.shutdown()

    def _run(
        self, ray: Any, todo: list[str], options: Any, out: Path, analyse: Any
    ) -> Iterable[dict[str, Any]]:
        from analyzer.census_pool import needs_transformers
        from analyzer.census_store import failure_record

        actor = ray.remote(_CensusWorker).options(
            num_cpus=self.cpus, num_gpus=self.gpus, max_restarts=0, max_task_retries=0,
            memory=int(options.memory_gb * 2**30),
        )  # fmt: skip
        resources = ray.cluster_resources()
        slots = max(1, int(resources.get("CPU", 1) // self.cpus))
        if self.gpus:
            slots = min(slots, max(1, int(resources.get("GPU", 0) // self.gpus)))
        pending = list(todo)
        preload = (needs_transformers(analyse), analyse, options, str(out))
        workers = [_Slot(actor, preload) for _ in range(min(slots, len(todo)))]
        try:
            while pending or any(w.task for w in workers):
                for worker in workers:
                    if worker.ready and worker.task is None and pending:
                        worker.assign(pending.pop(0))
                waiting = [w.ref for w in workers]
                done, _ = ray.wait(waiting, num_returns=1, timeout=1.0)
                for index, worker in enumerate(workers):
                    record, replace = worker.collect(ray, worker.ref in done, options)
                    if record is not None:
                        yield record
                    if replace:
                        ray.kill(worker.handle)
                        workers[index] = _Slot(actor, preload)
                now = time.perf_counter()
                for index, worker in enumerate(workers):
                    if worker.task and worker.died():
                        yield failure_record(
                            worker.task, "crash", "the Ray worker died (its process is gone): "
                            "out of memory, or a crash in native code", now - worker.since,
                        )  # fmt: skip
                        ray.kill(worker.handle)
                        workers[index] = _Slot(actor, preload)
                    elif worker.task and now - worker.since > options.deadline:
                        ray.kill(worker.handle)  # the worker process goes with its task
                        yield failure_record(
                            worker.task, "timeout", f"no result within {options.deadline:g} s "
                            "(its Ray worker was killed)", now - worker.since,
                        )  # fmt: skip
                        workers[index] = _Slot(actor, preload)
        finally:
            for worker in workers:
                ray.kill(worker.handle)


class _Slot:
    """One Ray actor (a worker process with torch imported) and the type it works on."""

    def __init__(self, actor: Any, setup: tuple[Any, ...]) -> None:
        self.handle = actor.remote(*setup)
        self.ref = self.handle.ready.remote()
        self.ready = False
        self.task: str | None = None
        self.since = 0.0
        self.process: int | None = None  # its process id, when it runs on this machine

    def died(self) -> bool:
        """Whether its process is gone (known only for a worker on this machine: Ray itself
        can take a while to notice)."""
        if self.process is None:
            return False
        try:
            os.kill(self.process, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def assign(self, model_type: str) -> None:
        self.ref = self.handle.run.remote(model_type)
        self.task, self.since = model_type, time.perf_counter()

    def collect(self, ray: Any, finished: bool, options: Any) -> tuple[dict[str, Any] | None, bool]:
        """``(record, replace the worker)`` once its reference is ``finished``."""
        if not finished:
            return None, False
        if self.task is None:  # the start-up ping
            try:
                host, process = ray.get(self.ref)
            except ray.exceptions.RayError as error:
                raise RuntimeError(f"a census Ray worker died while starting: {error}")
            self.ready = True
            self.process = process if host == socket.gethostname() else None
            return None, False
        model_type, self.task = self.task, None
        record = _result(ray, self.ref, model_type, self.since)
        return record, record["category"] == "crash" and record.get("status") == "failed"


def connect(ray: Any, address: str | None, init: dict[str, Any]) -> None:
    """``ray.init`` at ``address`` (a local cluster when ``None``), with this copy of
    ``analyzer`` (and the current folder) importable by the workers."""
    import analyzer

    roots = [str(Path(analyzer.__file__).resolve().parent.parent), os.getcwd()]
    existing = os.environ.get("PYTHONPATH")
    path = os.pathsep.join(dict.fromkeys([*roots, *([existing] if existing else [])]))
    settings: dict[str, Any] = {
        "include_dashboard": False, "log_to_driver": False, "configure_logging": False,
        "runtime_env": {"env_vars": {"PYTHONPATH": path}},
    }  # fmt: skip
    if address:
        settings["address"] = address
    settings.update(init)
    ray.init(**settings)


def _result(ray: Any, ref: Any, model_type: str, since: float) -> dict[str, Any]:
    from analyzer.census_store import failure_record

    seconds = time.perf_counter() - since
    try:
        return ray.get(ref)
    except ray.exceptions.TaskCancelledError:
        return failure_record(model_type, "timeout", "the Ray task was cancelled", seconds)
    except (
        ray.exceptions.WorkerCrashedError,
        ray.exceptions.OutOfMemoryError,
        ray.exceptions.RayActorError,
    ) as error:
        return failure_record(
            model_type, "crash", f"the Ray worker died: {_first_line(error)}", seconds
        )
    except ray.exceptions.RayError as error:  # the task raised, or the node went away
        return failure_record(
            model_type, "crash", f"{type(error).__name__}: {_first_line(error)}", seconds
        )


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[0][:300] if lines else type(error).__name__


class _CensusWorker:
    """A Ray actor: torch and transformers imported once, then one type per call."""

    def __init__(self, preload: bool, analyse: Any, options: Any, out: str) -> None:
        """Everything a type needs that is the same for every type is unpickled and
        imported here, before the worker says it is ready (the clock of a type starts
        then): ``analyse``'s module above all."""
        import logging
        import warnings

        import torch

        torch.set_num_threads(1)  # one core per worker, as in the local pool
        warnings.simplefilter("ignore")
        logging.disable(logging.ERROR)
        if preload:
            import transformers

            transformers.logging.set_verbosity_error()
        self.analyse, self.options, self.out = analyse, options, Path(out)

    def ready(self) -> tuple[str, int]:
        """Where this worker runs: its host and process id."""
        return socket.gethostname(), os.getpid()

    def run(self, model_type: str) -> dict[str, Any]:
        from analyzer.census_store import failure_record

        try:
            return self.analyse(model_type, self.options, self.out)
        except MemoryError as error:
            return failure_record(model_type, "crash", f"MemoryError: {error}", 0.0)


__all__ = ["RayExecutor", "connect"]
