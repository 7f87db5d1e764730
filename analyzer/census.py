"""``analyzer census``: every transformers architecture, analysed in worker processes.

Each type of transformers' ``MODEL_MAPPING_NAMES`` (what ``AutoModel`` builds) is built
from its default config with layers and widths shrunk (:func:`analyse_type`), on the
meta device (the CPU where its forward needs values), traced, analysed and given a
small report page. The types run in a pool of worker processes, each model under a
timeout: a model that hangs, crashes or eats the memory takes down its worker only,
which is replaced. Every result is stored as it arrives (``results/TYPE.json``), so
``resume=True`` skips what is done. At the end come ``census.json`` (schema
``analyzer.census/1``), ``census.csv`` and ``index.html``, made by
:mod:`analyzer.census_document` (whose names this module re-exports).

>>> record = failure_record("x", "timeout", "no answer in 5 s", 5.0)
>>> record["status"], record["category"]
('failed', 'timeout')
"""

from __future__ import annotations

import collections
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzer.census_document import (
    CATEGORIES,
    CSV_COLUMNS,
    EXCLUDED,
    SCHEMA,
    census_csv,
    census_document,
    load_census,
    shrink_of,
    summarise,
    write_census,
)
from analyzer.census_inputs import real_run_failure, unrunnable_record
from analyzer.census_pool import local_pool
from analyzer.census_store import failure_record, store, stored
from analyzer.census_store import file_name as _file_name
from analyzer.census_validation import (
    ValidationBudget,
    graph_ops,
    validate_built,
)
from analyzer.errors import AnalyzerError, ForwardError, SpecError, TraceError
from analyzer.output import write_json_atomic, write_text_atomic
from analyzer.progress import SILENT, Progress


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
    validate: ValidationBudget | None = None  # validate each analysed type on this budget
    crossover: float = 0.0  # seconds for the crossover length (0: not computed)

    def key(self) -> dict[str, Any]:
        """The options that change a result (not how many workers ran it)."""
        key: dict[str, Any] = {"shrink": self.shrink, "seq_len": self.seq_len, "batch": self.batch}
        if self.validate is not None:
            key["validate"] = {"samples": self.validate.samples, "device": self.validate.device}
        return key

    @property
    def deadline(self) -> float:
        """Seconds a worker may spend on one type, validation included."""
        validation = self.validate.seconds + 30 if self.validate else 0.0
        return self.timeout + validation + (self.crossover + 10 if self.crossover else 0.0)


Executor = Callable[[list[str], CensusOptions, Path, Callable[..., dict[str, Any]]],
                    Iterable[dict[str, Any]]]  # fmt: skip
"""Runs types (``todo, options, out, analyse``) and yields their records as they finish."""


def census_types() -> list[str]:
    """Every model type ``AutoModel`` can build, sorted.

    >>> "llama" in census_types()
    True
    """
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    return sorted(MODEL_MAPPING_NAMES)


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
    except TraceError as error:  # the model's own failure on its inputs is its forward's
        forward = stage != "trace" or isinstance(error, ForwardError)
        return failure_record(model_type, "forward" if forward else "trace", str(error),
                              _since(started))  # fmt: skip
    except Exception as error:  # a bug of the tool, or of transformers: recorded, not lost
        where = traceback.extract_tb(error.__traceback__)[-1]
        message = f"{type(error).__name__}: {error} (at {Path(where.filename).name}:{where.lineno})"
        category = {"analysis": "analysis", "trace": "trace"}.get(stage, "error")
        return failure_record(model_type, category, message, _since(started))
    record = {
        "type": model_type,
        "status": "analysed",
        "class": type(built.module).__name__,
        **analysed_fields(document),
        "device": built.device,
        "parameters": sum(p.numel() for p in built.module.parameters()),
        "inputs": {n: list(v.shape) for n, v in built.inputs.items() if hasattr(v, "shape")},
        "shrunk": built.shrunk,
        "shrink": _level(built, options.shrink),
        "layers": layers_in(built.module),
        "seconds": 0.0,
    }
    if options.validate is None:  # validate runs the real model itself
        failure, record["real_run"] = real_run_failure(built, model_type)
        if failure is not None:
            record["seconds"] = _since(started)
            return unrunnable_record(record, failure)
    if out is not None and options.reports:
        record["report"] = _write_model_report(result, out, model_type)
    record["seconds"] = _since(started)
    if options.crossover:
        from analyzer.census_cost import crossover_of

        record["crossover"] = crossover_of(built, model_type, options.crossover)
    if options.validate is not None:
        name = _file_name(model_type)
        if out is not None:  # what the store keeps if the validation takes the worker down
            write_json_atomic(out / "results" / f"{name}.partial.json", record)
        evidence = out / "models" / name / "validation.json" if out is not None else None
        analysed = graph_ops(result.traced.graph)  # what validate must check
        record["validation"] = validate_built(
            built, model_type, options.validate, evidence, analysed
        )
        if "evidence" in record["validation"]:
            record["validation"]["evidence"] = f"models/{name}/validation.json"
        if record["validation"].get("fails_on_inputs"):
            return unrunnable_record(record, record["validation"]["reason"])
    return record


def analysed_fields(document: dict[str, Any]) -> dict[str, Any]:
    """The fields of an analysed type's record read from its ``analyzer.analysis/1``
    document (the census of any source shares them).

    >>> fields = analysed_fields({"input_products": [{"kind": "gating"}], "unknown_ops": [],
    ...     "circuit_class": ["gating"], "dynamic_transposes": [], "degree": "2",
    ...     "piecewise_affine": False, "graph": {"nodes": 3}, "frontend": "export",
    ...     "warnings": []})
    >>> fields["category"], fields["sites"]
    ('clean', {'contraction': 0, 'gating': 1, 'normalization': 0})
    """
    sites = collections.Counter(site["kind"] for site in document["input_products"])
    return {
        "category": "unknown ops" if document["unknown_ops"] else "clean",
        "circuit_class": document["circuit_class"],
        "sites": {kind: sites.get(kind, 0) for kind in ("contraction", "gating", "normalization")},
        "dynamic_transposes": sum(t["feeds_contraction"] for t in document["dynamic_transposes"]),
        "degree": document["degree"],
        "piecewise_affine": document["piecewise_affine"],
        "unknown_ops": document["unknown_ops"],
        "nodes": document["graph"]["nodes"],
        "frontend": document["frontend"],
        "warnings": document["warnings"],
    }


analyse_type.needs_transformers = True  # type: ignore[attr-defined]  # workers import it first


def layers_in(module: Any) -> int | None:
    """Layers the model's config counts (its layer fields, sub-configs included; ``None``
    when it names none).

    >>> from transformers import BertConfig
    >>> class Stub:
    ...     config = BertConfig(num_hidden_layers=3)
    >>> layers_in(Stub())
    3
    """
    from analyzer.frontend.hf_shrink import LAYER_FIELDS

    def count(document: dict[str, Any]) -> int:
        total = 0
        for key, value in document.items():
            if isinstance(value, dict):
                total += count(value)
            elif key in LAYER_FIELDS and isinstance(value, int) and not isinstance(value, bool):
                total += value
        return total

    config = getattr(module, "config", None)
    if config is None or not hasattr(config, "to_dict"):
        return None
    return count(config.to_dict()) or None


def _level(built: Any, asked: str | None) -> str:
    """The shrink level the model was built at: the first one asked for that did not fail
    (``none``: the default config)."""
    from analyzer.frontend.hf_shrink import SHRINK_LEVELS

    if not built.shrunk or asked is None:
        return "none"
    notes = [w for w in built.warnings if w.startswith("less shrunk: ")]
    failed = {w.split(": ")[1].split(" ")[0] for w in notes}
    levels = [lv for lv in SHRINK_LEVELS[SHRINK_LEVELS.index(asked) :] if lv not in failed]
    return levels[0] if levels else "none"


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


def run_census(
    out: str | Path,
    types: Iterable[str] | None = None,
    options: CensusOptions | None = None,
    *,
    resume: bool = False,
    progress: Progress = SILENT,
    analyse: Callable[[str, CensusOptions, Path], dict[str, Any]] = analyse_type,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Analyse ``types`` (default: :func:`census_types`) in worker processes; write
    ``census.json``, ``census.csv`` and ``index.html`` into ``out``; return the document.

    Unknown names in ``types`` are refused up front (:class:`SpecError`, with the
    closest known types). ``analyse`` is what a worker runs per type (a module-level
    function, so that worker processes can import it). ``executor`` runs the types and
    yields their records as they finish (default: the local process pool,
    :func:`analyzer.census_pool.local_pool`; :func:`analyzer.census_ray.ray_executor` runs
    them on a Ray cluster); every record goes to the same resumable store.
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
    key = options.key()
    records: dict[str, dict[str, Any]] = {}
    if resume:
        for model_type in wanted:
            found = stored(results, model_type, key)
            if found is not None:
                records[model_type] = found
    todo = [t for t in wanted if t not in records]
    started = time.perf_counter()
    if records:
        progress.note(f"resuming: {len(records)} of {len(wanted)} types already done")
    executor = executor or local_pool
    failures = 0
    with progress.task("census", total=len(todo)) as task:
        for done, record in enumerate(executor(todo, options, folder, analyse), 1):
            record = store(results, record, key)
            records[record["type"]] = record
            failures += record["status"] == "failed"
            task.advance()
            progress.note(_progress_line(record, done, len(todo), failures, started))
    document = census_document([records[t] for t in wanted], options, time.perf_counter() - started)
    write_census(document, folder)
    return document


def _progress_line(
    record: dict[str, Any], done: int, total: int, failures: int, started: float
) -> str:
    """``[3/60] gpt2: clean (4.1 s) · validation agree (3.2 s) · 0 failed · … left``."""
    elapsed = time.perf_counter() - started
    left = elapsed / done * (total - done)
    validation = record.get("validation")
    checked = (
        f" · validation {validation['verdict']} ({validation.get('seconds', 0.0):.1f} s)"
        if validation
        else ""
    )
    return (
        f"[{done}/{total}] {record['type']}: {record['category']} "
        f"({record['seconds']:.1f} s){checked} · {failures} failed · "
        f"{_duration(elapsed)} elapsed, about {_duration(left)} left"
    )


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


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


__all__ = [
    "CATEGORIES",
    "CSV_COLUMNS",
    "EXCLUDED",
    "SCHEMA",
    "CensusOptions",
    "analyse_type",
    "analysed_fields",
    "census_csv",
    "census_document",
    "census_types",
    "load_census",
    "run_census",
    "shrink_of",
    "summarise",
    "write_census",
]
