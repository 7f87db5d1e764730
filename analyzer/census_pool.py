"""The census's local executor: a pool of worker processes, each replaced when it hangs or dies.

Each worker imports torch and transformers once, then analyses the types it is sent, one
at a time, under an address-space limit; a type that takes longer than the options'
deadline has its worker killed (``timeout``), a worker that dies takes its type with it
(``crash``), and a fresh worker takes the next type. Records are yielded as they arrive.

>>> list(local_pool([], None, None, None))
[]
"""

from __future__ import annotations

import collections
import multiprocessing
import multiprocessing.connection
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any


class _Worker:
    """One worker process and the type it is working on."""

    def __init__(self, context: Any, options: Any, out: Path, analyse: Any) -> None:
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(child, options, str(out), analyse), daemon=True
        )
        self.process.start()
        child.close()
        self.ready = False
        self.task: str | None = None
        self.since = 0.0

    def assign(self, model_type: str) -> None:
        self.connection.send(model_type)
        self.task, self.since = model_type, time.perf_counter()

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=10)
        self.connection.close()


def quiet_worker(memory_gb: float, analyse: Any = None) -> None:
    """What a census worker does once: output to /dev/null (torch prints graphs of failed
    traces), an address-space limit, one thread, no warnings, and transformers imported
    when ``analyse`` is the census's own (a stand-in in a test does without)."""
    import logging
    import resource
    import warnings

    import torch

    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    limit = int(memory_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    torch.set_num_threads(1)  # one core per worker
    warnings.simplefilter("ignore")
    logging.disable(logging.ERROR)  # torch logs every failed trace: the record says it
    if needs_transformers(analyse):
        import transformers  # imported once, before the clock of the first type starts

        transformers.logging.set_verbosity_error()


def needs_transformers(analyse: Any) -> bool:
    """Whether ``analyse`` is the census's own analysis (``None``: assume so), which marks
    itself ``needs_transformers``."""
    return analyse is None or bool(getattr(analyse, "needs_transformers", False))


def _worker_main(connection: Any, options: Any, out: str, analyse: Any) -> None:
    """A worker: import the heavy modules once, then analyse types until told to stop."""
    from analyzer.census_store import failure_record

    quiet_worker(options.memory_gb, analyse)
    connection.send(("ready", None))
    while True:
        try:
            model_type = connection.recv()
        except EOFError:
            return
        if model_type is None:
            return
        try:
            record = analyse(model_type, options, Path(out))
        except MemoryError as error:
            record = failure_record(model_type, "crash", f"MemoryError: {error}", 0.0)
        connection.send(("done", record))


def local_pool(todo: list[str], options: Any, out: Any, analyse: Any) -> Iterable[dict[str, Any]]:
    """Run ``todo`` in ``options.workers`` processes; yield each record as it arrives."""
    if not todo:
        return
    context = multiprocessing.get_context("spawn")  # no torch state forked into children
    pending = collections.deque(todo)
    workers = [
        _Worker(context, options, out, analyse) for _ in range(min(options.workers, len(todo)))
    ]
    try:
        while pending or any(w.task for w in workers):
            for worker in workers:
                if worker.ready and worker.task is None and pending:
                    worker.assign(pending.popleft())
            waits = [w.connection for w in workers] + [w.process.sentinel for w in workers]
            multiprocessing.connection.wait(waits, timeout=1.0)
            for index, worker in enumerate(workers):
                record, replace = _collect(worker, options)
                if record is not None:
                    yield record
                if replace:
                    worker.stop()
                    workers[index] = _Worker(context, options, out, analyse)
    finally:  # ask each worker to stop and give it time to exit cleanly: a killed one
        for worker in workers:  # leaves its semaphores to the resource tracker's warning
            if worker.process.is_alive():
                try:
                    worker.connection.send(None)
                except OSError:
                    pass
        for worker in workers:
            if worker.task is None:
                worker.process.join(timeout=10)
            worker.stop()


def _collect(worker: _Worker, options: Any) -> tuple[dict[str, Any] | None, bool]:
    """``(record, replace the worker)`` after a wait: a result, a death or a timeout."""
    from analyzer.census_store import failure_record

    try:
        if worker.connection.poll():
            kind, record = worker.connection.recv()
            if kind == "ready":
                worker.ready = True
                return None, False
            worker.task = None
            return record, False
    except (EOFError, OSError):
        pass  # the process died: handled below
    else:
        if worker.process.is_alive():
            if worker.task and time.perf_counter() - worker.since > options.deadline:
                record = failure_record(
                    worker.task, "timeout", f"no result within {options.deadline:g} s",
                    time.perf_counter() - worker.since,
                )  # fmt: skip
                return record, True
            return None, False
    worker.process.join(timeout=5)
    code = worker.process.exitcode
    if worker.task is None:
        if worker.ready:
            return None, True
        raise RuntimeError(f"a census worker died while starting (exit code {code})")
    record = failure_record(
        worker.task, "crash", f"the worker died (exit code {code}): out of memory, or a "
        "crash in native code", time.perf_counter() - worker.since,
    )  # fmt: skip
    return record, True


__all__ = ["local_pool", "needs_transformers", "quiet_worker"]
