"""``analyzer census``: every transformers architecture, analysed in worker processes.

Each type of transformers' ``MODEL_MAPPING_NAMES`` (what ``AutoModel`` builds) is built
from its default config with layers and widths shrunk (:func:`analyse_type`), on the
meta device (the CPU where its forward needs values), traced, analysed and given a
small report page. The types run in a pool of worker processes, each model under a
timeout: a model that hangs, crashes or eats the memory takes down its worker only,
which is replaced. Every result is stored as it arrives (``results/TYPE.json``), so
``resume=True`` skips what is done. At the end come ``census.json`` (schema
``analyzer.census/1``), ``census.csv`` and ``index.html``.

>>> record = failure_record("x", "timeout", "no answer in 5 s", 5.0)
>>> record["status"], record["category"]
('failed', 'timeout')
"""

from __future__ import annotations

import collections
import csv
import io
import json
import multiprocessing
import multiprocessing.connection
import os
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzer.errors import AnalyzerError, SpecError, TraceError
from analyzer.output import write_json_atomic, write_text_atomic
from analyzer.progress import SILENT, Progress

SCHEMA = "analyzer.census/1"

CATEGORIES = {
    "clean": "analysed, every op known",
    "unknown ops": "analysed, with ops the registry does not know (worst case assumed)",
    "config": "transformers cannot build the type's default config",
    "model": "transformers cannot build the model from its default config",
    "no forward": "the AutoModel class has no forward to trace (generation only)",
    "missing package": "the model's code needs a package that is not installed",
    "inputs": "no builder for a required input",
    "forward": "the forward fails on every synthesised input plan",
    "trace": "no frontend could trace the model",
    "analysis": "the analysis raised (a bug of the tool)",
    "error": "an unexpected exception while building (a bug of the tool or of transformers)",
    "timeout": "no result within the time limit",
    "crash": "the worker process died (memory, or a crash in native code)",
}
"""Every result category, in the order the page lists them, with what it means."""

EXCLUDED = ("config", "model", "no forward", "missing package")
"""Categories outside the target's denominator: the default config, or the model from
it, does not build in transformers, or has no forward; or the code needs a package this
environment lacks."""


@dataclass(frozen=True)
class CensusOptions:
    """How to run a census; stored with every result so that ``resume`` reuses only
    results made the same way."""

    shrink: str | None = "widths"  # "widths", "layers" or None: the default config
    seq_len: int = 16
    batch: int = 1
    timeout: float = 180.0
    workers: int = 2
    reports: bool = True
    memory_gb: float = 8.0  # address-space limit of a worker process
    max_cpu_parameters: int = 500_000_000  # the largest model rebuilt on the cpu (2 GB)

    def key(self) -> dict[str, Any]:
        """The options that change a result (not how many workers ran it)."""
        return {"shrink": self.shrink, "seq_len": self.seq_len, "batch": self.batch}


def census_types() -> list[str]:
    """Every model type ``AutoModel`` can build, sorted.

    >>> "llama" in census_types()
    True
    """
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    return sorted(MODEL_MAPPING_NAMES)


def failure_record(model_type: str, category: str, error: str, seconds: float) -> dict[str, Any]:
    """The record of a type that did not analyse."""
    return {
        "type": model_type,
        "status": "failed",
        "category": category,
        "error": error,
        "seconds": round(seconds, 2),
    }


def analyse_type(
    model_type: str, options: CensusOptions, out: Path | None = None
) -> dict[str, Any]:
    """Build, trace and analyse one type; the record of what happened (never raises for
    the model's own failures). With ``out``, a successful model's report page is written
    to ``out/models/TYPE/index.html``."""
    from analyzer.analysis import analyze_traced
    from analyzer.frontend.hf import (
        MissingPackageError,
        TransformersError,
        build_hf_model,
        rebuilt_on_cpu,
    )
    from analyzer.frontend.tracing import trace

    started = time.perf_counter()
    stage = "build"
    try:
        built = build_hf_model(
            model_type, shrink=options.shrink, seq_len=options.seq_len, batch=options.batch,
            max_cpu_parameters=options.max_cpu_parameters,
        )  # fmt: skip
        stage = "trace"
        try:
            traced = trace(built.module, (), model=f"hf:{model_type}", example_kwargs=built.inputs)
        except TraceError as error:  # on meta: one more try on the cpu, when small enough
            again = rebuilt_on_cpu(built, error)
            if again is None:
                raise
            built = again
            traced = trace(built.module, (), model=f"hf:{model_type}", example_kwargs=built.inputs)
        traced.warnings[:0] = built.warnings
        stage = "analysis"
        result = analyze_traced(traced)
        document = result.to_json()
    except MissingPackageError as error:
        return failure_record(model_type, "missing package", str(error), _since(started))
    except TransformersError as error:
        return failure_record(model_type, error.stage, str(error), _since(started))
    except SpecError as error:
        category = "inputs" if stage == "build" else "analysis"
        return failure_record(model_type, category, str(error), _since(started))
    except TraceError as error:
        category = "trace" if stage == "trace" else "forward"
        return failure_record(model_type, category, str(error), _since(started))
    except Exception as error:  # a bug of the tool, or of transformers: recorded, not lost
        where = traceback.extract_tb(error.__traceback__)[-1]
        message = f"{type(error).__name__}: {error} (at {Path(where.filename).name}:{where.lineno})"
        category = {"analysis": "analysis", "trace": "trace"}.get(stage, "error")
        return failure_record(model_type, category, message, _since(started))
    sites = collections.Counter(site["kind"] for site in document["input_products"])
    record = {
        "type": model_type,
        "status": "analysed",
        "category": "unknown ops" if document["unknown_ops"] else "clean",
        "class": type(built.module).__name__,
        "circuit_class": document["circuit_class"],
        "sites": {kind: sites.get(kind, 0) for kind in ("contraction", "gating", "normalization")},
        "dynamic_transposes": sum(t["feeds_contraction"] for t in document["dynamic_transposes"]),
        "degree": document["degree"],
        "piecewise_affine": document["piecewise_affine"],
        "unknown_ops": document["unknown_ops"],
        "nodes": document["graph"]["nodes"],
        "frontend": document["frontend"],
        "device": built.device,
        "parameters": sum(p.numel() for p in built.module.parameters()),
        "inputs": {n: list(v.shape) for n, v in built.inputs.items() if hasattr(v, "shape")},
        "shrunk": built.shrunk,
        "warnings": document["warnings"],
        "seconds": 0.0,
    }
    if out is not None and options.reports:
        record["report"] = _write_model_report(result, out, model_type)
    record["seconds"] = _since(started)
    return record


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 2)


def _write_model_report(result: Any, out: Path, model_type: str) -> str:
    """A small page per model: the HTML report with a module-level drawing when graphviz
    is installed (no separate SVG, DOT or JSON files: the census keeps its folder small)."""
    from analyzer.render.annotated import annotated_graph
    from analyzer.render.dot import dot_source, render_svg
    from analyzer.render.html import html_page

    try:
        svg = render_svg(dot_source(annotated_graph(result), level="modules", depth=3))
    except AnalyzerError:  # no graphviz: the page without its drawing
        svg = None
    relative = f"models/{_file_name(model_type)}/index.html"
    (out / relative).parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / relative, html_page(result, svg))
    return relative


def _file_name(model_type: str) -> str:
    """Model types are identifiers with ``-`` at most; keep any other character out."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in model_type)


def run_census(
    out: str | Path,
    types: Iterable[str] | None = None,
    options: CensusOptions | None = None,
    *,
    resume: bool = False,
    progress: Progress = SILENT,
    analyse: Callable[[str, CensusOptions, Path], dict[str, Any]] = analyse_type,
) -> dict[str, Any]:
    """Analyse ``types`` (default: :func:`census_types`) in worker processes; write
    ``census.json``, ``census.csv`` and ``index.html`` into ``out``; return the document.

    Unknown names in ``types`` are refused up front (:class:`SpecError`, with the
    closest known types). ``analyse`` is what a worker runs per type (a module-level
    function, so that worker processes can import it).
    """
    options = options or CensusOptions()
    if options.workers < 1:
        raise SpecError(f"--workers {options.workers}: must be at least 1")
    if options.timeout <= 0:
        raise SpecError(f"--timeout {options.timeout}: must be positive (seconds)")
    known = census_types()
    wanted = list(dict.fromkeys(types)) if types is not None else known
    _check_types(wanted)
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise SpecError(f"--out {str(folder)!r} is a file; give a folder")
    results = folder / "results"
    results.mkdir(parents=True, exist_ok=True)
    records: dict[str, dict[str, Any]] = {}
    if resume:
        for model_type in wanted:
            stored = _stored(results / f"{_file_name(model_type)}.json", options)
            if stored is not None:
                records[model_type] = stored
    todo = [t for t in wanted if t not in records]
    started = time.perf_counter()
    if records:
        progress.note(f"resuming: {len(records)} of {len(wanted)} types already done")
    with progress.task("census", total=len(todo)) as task:
        for record in _pool(todo, options, folder, progress, task, analyse):
            record["options"] = options.key()
            write_json_atomic(results / f"{_file_name(record['type'])}.json", record)
            records[record["type"]] = record
    document = census_document([records[t] for t in wanted], options, time.perf_counter() - started)
    write_census(document, folder)
    return document


def _check_types(wanted: list[str]) -> None:
    from transformers import CONFIG_MAPPING

    from analyzer.frontend.hf_plans import did_you_mean

    for model_type in wanted:
        if model_type.startswith("diffusers:"):
            continue  # checked by analyzer.census_diffusers.source_types
        if model_type not in CONFIG_MAPPING:
            raise SpecError(
                f"--types: unknown model type {model_type!r}"
                + did_you_mean(model_type, CONFIG_MAPPING.keys())
            )


def _stored(path: Path, options: CensusOptions) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if record.get("options") == options.key() else None


# --- the pool: one process per worker, replaced when it hangs or dies ----------------


class _Worker:
    """One worker process and the type it is working on."""

    def __init__(self, context: Any, options: CensusOptions, out: Path, analyse: Any) -> None:
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


def _worker_main(connection: Any, options: CensusOptions, out: str, analyse: Any) -> None:
    """A worker: import the heavy modules once, then analyse types until told to stop."""
    import logging
    import resource
    import warnings

    import torch

    quiet = os.open(os.devnull, os.O_WRONLY)  # torch prints graphs of failed traces
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    limit = int(options.memory_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    torch.set_num_threads(1)  # one core per worker
    warnings.simplefilter("ignore")
    logging.disable(logging.ERROR)  # torch logs every failed trace: the record says it
    import transformers  # imported once, before the clock of the first type starts

    transformers.logging.set_verbosity_error()
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


def _pool(
    todo: list[str],
    options: CensusOptions,
    out: Path,
    progress: Progress,
    task: Any,
    analyse: Any,
) -> Iterable[dict[str, Any]]:
    """Run ``todo`` in ``options.workers`` processes; yield each record as it arrives."""
    if not todo:
        return
    context = multiprocessing.get_context("spawn")  # no torch state forked into children
    pending = collections.deque(todo)
    workers = [
        _Worker(context, options, out, analyse) for _ in range(min(options.workers, len(todo)))
    ]
    started, failures, done = time.perf_counter(), 0, 0

    def report(record: dict[str, Any]) -> None:
        nonlocal failures, done
        done += 1
        failures += record["status"] == "failed"
        task.advance()
        elapsed = time.perf_counter() - started
        left = elapsed / done * (len(todo) - done)
        progress.note(
            f"[{done}/{len(todo)}] {record['type']}: {record['category']} "
            f"({record['seconds']:.1f} s) · {failures} failed · "
            f"{_duration(elapsed)} elapsed, about {_duration(left)} left"
        )

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
                    report(record)
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


def _collect(worker: _Worker, options: CensusOptions) -> tuple[dict[str, Any] | None, bool]:
    """``(record, replace the worker)`` after a wait: a result, a death or a timeout."""
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
            if worker.task and time.perf_counter() - worker.since > options.timeout:
                record = failure_record(
                    worker.task, "timeout", f"no result within {options.timeout:g} s",
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


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


# --- the document and its files ------------------------------------------------------


def census_document(
    records: list[dict[str, Any]], options: CensusOptions, seconds: float
) -> dict[str, Any]:
    """The ``analyzer.census/1`` document of ``records`` (one per type)."""
    import torch
    import transformers

    import analyzer

    return {
        "schema": SCHEMA,
        "analyzer": analyzer.__version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        **_diffusers_version(records),
        "options": {**options.key(), "timeout": options.timeout, "workers": options.workers},
        "seconds": round(seconds, 1),
        "categories": CATEGORIES,
        "summary": summarise(records),
        "models": {r["type"]: {k: v for k, v in r.items() if k != "options"} for r in records},
    }


def _diffusers_version(records: list[dict[str, Any]]) -> dict[str, str]:
    """The diffusers version, when the census holds diffusers classes."""
    if not any(r["type"].startswith("diffusers:") for r in records):
        return {}
    import diffusers

    return {"diffusers": diffusers.__version__}


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts over the records: by category, the target's figure, and how many analysed
    architectures use each primitive and each site kind.

    >>> summary = summarise([{"type": "a", "status": "analysed", "category": "clean",
    ...     "circuit_class": ["matmul"], "sites": {"contraction": 0}, "unknown_ops": [],
    ...     "warnings": [], "seconds": 1.0}])
    >>> summary["clean_share_of_eligible"], summary["no_input_products"]
    (1.0, ['a'])
    """
    from analyzer.passes.registry import CIRCUIT_CLASSES

    analysed = [r for r in records if r["status"] == "analysed"]
    by_category = collections.Counter(r["category"] for r in records)
    eligible = [r for r in records if r["category"] not in EXCLUDED]
    clean = by_category.get("clean", 0)
    unknown: dict[str, list[str]] = collections.defaultdict(list)
    for record in analysed:
        for op in record["unknown_ops"]:
            unknown[op].append(record["type"])
    warnings = collections.Counter()
    for record in analysed:
        text = " ".join(record.get("warnings", []))
        warnings["built on the cpu"] += "built on the cpu" in text
        warnings["analysed without a modality"] += "analysed without" in text
        warnings["fell back to another frontend"] += "fell back to" in text
    return {
        "types": len(records),
        "analysed": len(analysed),
        "clean": clean,
        "eligible": len(eligible),
        "clean_share_of_eligible": round(clean / len(eligible), 4) if eligible else 0.0,
        "by_category": {c: by_category[c] for c in CATEGORIES if by_category.get(c)},
        "primitives": {
            cls: sum(cls in r["circuit_class"] for r in analysed) for cls in sorted(CIRCUIT_CLASSES)
        },
        "site_kinds": {
            kind: sum(r["sites"].get(kind, 0) > 0 for r in analysed)
            for kind in ("contraction", "gating", "normalization")
        },
        # only where every op is known: an unknown op may hide a product (Reformer's
        # layers inside wrap_with_set_grad_enabled)
        "no_input_products": sorted(
            r["type"] for r in analysed if r["category"] == "clean" and not any(r["sites"].values())
        ),
        "unknown_ops": {op: sorted(types) for op, types in sorted(unknown.items())},
        "warnings": dict(warnings),
        "seconds_per_type": round(sum(r["seconds"] for r in records) / len(records), 2)
        if records
        else 0.0,
    }


CSV_COLUMNS = (
    "type status category circuit_class contraction gating normalization degree "
    "unknown_ops device frontend nodes seconds error"
).split()


def census_csv(document: dict[str, Any]) -> str:
    """One row per type (lists joined with spaces)."""
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for record in document["models"].values():
        sites = record.get("sites", {})
        row = {
            **record,
            **{k: sites.get(k, "") for k in ("contraction", "gating", "normalization")},
            "circuit_class": " ".join(record.get("circuit_class", [])),
            "unknown_ops": " ".join(record.get("unknown_ops", [])),
            "error": record.get("error", "").splitlines()[0] if record.get("error") else "",
        }
        writer.writerow([row.get(column, "") for column in CSV_COLUMNS])
    return stream.getvalue()


def write_census(document: dict[str, Any], out: str | Path) -> None:
    """``census.json``, ``census.csv`` and ``index.html`` of a census document."""
    from analyzer.render.census import census_page

    folder = Path(out)
    page = census_page(document)
    table = census_csv(document)
    write_json_atomic(folder / "census.json", document)
    write_text_atomic(folder / "census.csv", table)
    write_text_atomic(folder / "index.html", page)


def load_census(path: str | Path) -> dict[str, Any]:
    """A stored ``census.json`` (checked to be one)."""
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise SpecError(f"cannot read census {str(path)!r}: {error}") from error
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise SpecError(f"{str(path)!r} is not an {SCHEMA} document")
    return document


__all__ = [
    "CATEGORIES",
    "CensusOptions",
    "analyse_type",
    "census_document",
    "census_types",
    "load_census",
    "run_census",
    "summarise",
    "write_census",
]
