"""The ``analyzer`` command: a thin layer over the Python API.

Errors the user can act on (:class:`~analyzer.errors.AnalyzerError`) print as one
paragraph with their exit code (2: bad input, 3: the model could not be traced,
4: a program the tool needs is missing); ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from analyzer.errors import AnalyzerError, SpecError, TraceError


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser = _parser()
    options = parser.parse_args(argv)
    try:
        return int(options.run(options) or 0)
    except AnalyzerError as error:
        if options.debug:
            raise
        message = textwrap.fill(f"analyzer: error: {error}", width=100, break_long_words=False)
        print(message, file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("analyzer: interrupted", file=sys.stderr)
        return 130


BUILD_DEVICE_HELP = "device to build and trace on (zoo: and hf: default to meta; others stay put)"


def _add_model_options(
    parser: argparse.ArgumentParser, device_help: str = BUILD_DEVICE_HELP
) -> None:
    parser.add_argument(
        "spec", help="zoo:NAME, hf:MODEL_TYPE, FILE.py:NAME, package.module:NAME or a trace .json"
    )
    parser.add_argument(
        "--input", action="append", default=[], metavar="SPEC",
        help="an example input, e.g. 'float32[2,16,64]' or 'int64[1,16]<50000'; repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--config", action="append", default=[], metavar="KEY=VALUE",
        help="override a field of an hf: model's config; repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--frontend", default="auto", choices=["auto", "export", "fx", "real"],
        help="how to trace (default: auto = export, then fx, then real)",
    )  # fmt: skip
    parser.add_argument("--device", default=None, help=device_help)
    sizes = parser.add_argument_group("hf: inputs (--input NAME=SPEC replaces one by name)")
    sizes.add_argument("--seq-len", type=int, metavar="N", help="tokens / time steps (16)")
    sizes.add_argument("--batch", type=int, metavar="N", help="batch size (1)")
    sizes.add_argument("--image-size", type=int, metavar="N", help="image side (the config's)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="analyzer",
        description="Tell what kind of circuit a PyTorch model is, with evidence.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True)

    analyze = commands.add_parser(
        "analyze", help="trace a model (or load a stored trace) and print its analysis"
    )
    _add_model_options(analyze)
    analyze.add_argument("--json", metavar="PATH", help="write the analyzer.analysis/1 JSON")
    analyze.add_argument("--graphml", metavar="PATH", help="write the annotated graph as GraphML")
    analyze.add_argument("--quiet", action="store_true", help="print no summary")
    analyze.set_defaults(run=_run_analyze)

    trace = commands.add_parser("trace", help="store a model's op graph as analyzer.trace/1 JSON")
    _add_model_options(trace)
    trace.add_argument("--out", required=True, metavar="PATH", help="the trace file to write")
    trace.set_defaults(run=_run_trace)

    report = commands.add_parser(
        "report", help="write index.html, graph.svg/.dot, report.md and analysis.json"
    )
    _add_model_options(report)
    report.add_argument("--out", required=True, metavar="DIR", help="the report folder")
    report.add_argument(
        "--level", default="auto", choices=["auto", "ops", "modules"],
        help="draw every op, or one node per module (auto: ops for small graphs)",
    )  # fmt: skip
    report.add_argument(
        "--depth", type=int, default=3, metavar="N",
        help="module view: cut module paths after N components (default 3)",
    )  # fmt: skip
    report.set_defaults(run=_run_report)

    validate = commands.add_parser(
        "validate", help="check the static claims by differentiating the real model"
    )
    _add_model_options(
        validate, "device to run and differentiate on (default: cuda when present, else cpu)"
    )
    validate.add_argument("--json", metavar="PATH", help="write the analyzer.validation/1 JSON")
    validate.add_argument(
        "--samples", type=int, default=16, help="random tangents / lines / pairs of directions"
    )
    validate.add_argument(
        "--max-degree", type=int, default=4, metavar="K",
        help="highest degree measured; above it the model reads as inf (default 4)",
    )  # fmt: skip
    validate.add_argument("--pairs", type=int, default=64, help="sampled cross-entry pairs")
    validate.add_argument(
        "--seed", type=int, default=0, help="seed for weights, inputs and samples (default 0)"
    )
    validate.add_argument(
        "--no-vmap", action="store_true", help="loop over samples in Python (for comparison)"
    )
    validate.add_argument(
        "--strict", action="store_true", help="exit 1 when a measurement disagrees (for CI)"
    )
    validate.set_defaults(run=_run_validate)

    zoo = commands.add_parser("zoo", help="list the reference models, or analyse them all")
    zoo.add_argument(
        "--out", metavar="DIR", help="write every zoo model's report and an index page to DIR"
    )
    zoo.add_argument("--traces", metavar="DIR", help="store every zoo model's trace in DIR")
    zoo.set_defaults(run=_run_zoo)
    _add_census_parser(commands)
    return parser


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _check_output_file(option: str, path: str | None) -> None:
    """Fail before the slow work, not after it, when an output file cannot be written."""
    from analyzer.output import check_writable

    if path is not None:
        check_writable(path, option)


def _traced(options: argparse.Namespace) -> Any:
    """Load a stored trace, or build and trace the model a spec names."""
    from analyzer.frontend.specs import load_model
    from analyzer.frontend.tracing import trace

    if options.spec.endswith(".json"):
        from analyzer.frontend.storage import load_trace

        if options.input or options.config or any(_hf_sizes(options).values()):
            raise SpecError("--input, --config and the hf: sizes do not apply to a stored trace")
        _progress(f"loading trace {options.spec} …")
        return load_trace(options.spec)
    _progress(f"building {options.spec} …")
    loaded = load_model(
        options.spec, inputs=options.input, config=options.config, device=options.device,
        **_hf_sizes(options),
    )  # fmt: skip
    for warning in loaded.warnings:
        _progress(f"note: {warning}")
    _progress(f"tracing {loaded.label} (frontend {options.frontend}) …")
    try:
        traced = trace(
            loaded.module, loaded.args, frontend=options.frontend, model=loaded.label,
            example_kwargs=loaded.kwargs,
        )  # fmt: skip
    except TraceError as error:  # hf: models traced on meta get one more try on the cpu
        loaded = loaded.retry(error) if loaded.retry else None
        if loaded is None:
            raise
        _progress(f"note: {loaded.warnings[-1]}; tracing again …")
        traced = trace(
            loaded.module, loaded.args, frontend=options.frontend, model=loaded.label,
            example_kwargs=loaded.kwargs,
        )  # fmt: skip
    traced.warnings[:0] = loaded.warnings
    return traced


def _hf_sizes(options: argparse.Namespace) -> dict[str, Any]:
    """--seq-len, --batch and --image-size as given (load_model refuses them off hf:)."""
    return {"seq_len": options.seq_len, "batch": options.batch, "image_size": options.image_size}


def _analysed(options: argparse.Namespace) -> Any:
    from analyzer.analysis import analyze_traced

    traced = _traced(options)
    _progress(f"analysing {len(traced.graph.nodes)} nodes …")
    return analyze_traced(traced)


def _run_analyze(options: argparse.Namespace) -> int:
    from analyzer.output import write_json_atomic

    _check_output_file("--json", options.json)
    _check_output_file("--graphml", options.graphml)
    started = time.perf_counter()
    result = _analysed(options)
    if not options.quiet:
        from analyzer.render.summary import render_summary

        print(render_summary(result))
    if options.json is not None:
        write_json_atomic(options.json, result.to_json())
        _progress(f"wrote {options.json}")
    if options.graphml is not None:
        from analyzer.render.annotated import write_graphml

        write_graphml(result, options.graphml)
        _progress(f"wrote {options.graphml}")
    _progress(f"done in {time.perf_counter() - started:.1f} s")
    return 0


def _run_trace(options: argparse.Namespace) -> int:
    from analyzer.frontend.storage import save_trace

    _check_output_file("--out", options.out)
    if options.spec.endswith(".json"):
        raise SpecError(f"{options.spec!r} is already a trace; give a model spec")
    traced = _traced(options)
    save_trace(traced, options.out)
    _progress(f"wrote {options.out} ({len(traced.graph.nodes)} nodes)")
    return 0


def _run_report(options: argparse.Namespace) -> int:
    from analyzer.render.report import write_report

    if options.depth < 1:
        raise SpecError(f"--depth {options.depth}: must be at least 1")
    target = Path(options.out)
    if target.exists() and not target.is_dir():
        raise SpecError(f"--out {options.out!r} is a file; give a folder")
    started = time.perf_counter()
    result = _analysed(options)
    _progress("drawing …")
    folder = write_report(result, target, level=options.level, depth=options.depth)
    _progress(f"wrote {folder}/index.html in {time.perf_counter() - started:.1f} s")
    return 0


def _run_validate(options: argparse.Namespace) -> int:
    from analyzer.empirical.validate import default_device, validate
    from analyzer.frontend.specs import load_model
    from analyzer.output import write_json_atomic
    from analyzer.render.validation import render_validation

    _check_output_file("--json", options.json)
    if options.spec.endswith(".json"):
        raise SpecError("a stored trace has no weights to differentiate: validate the model spec")
    device = options.device or default_device()
    if device == "meta":
        raise SpecError("--device meta cannot run the model: use cpu or cuda")
    _progress(f"building {options.spec} on {device} …")
    import torch

    torch.manual_seed(options.seed)  # the random weights and inputs: reproducible runs
    loaded = load_model(
        options.spec, inputs=options.input, config=options.config, device=device,
        **_hf_sizes(options),
    )  # fmt: skip
    for warning in loaded.warnings:
        _progress(f"note: {warning}")
    _progress(f"tracing, analysing and differentiating (float64, {options.samples} samples) …")
    report = validate(
        loaded.module, loaded.args, example_kwargs=loaded.kwargs, model=loaded.label,
        device=device, samples=options.samples, max_degree=options.max_degree,
        pairs=options.pairs, seed=options.seed, batched=not options.no_vmap,
        frontend=options.frontend,
    )  # fmt: skip
    print(render_validation(report))
    if options.json is not None:
        write_json_atomic(options.json, report.to_json())
        _progress(f"wrote {options.json}")
    return 1 if options.strict and not report.agree else 0


def _run_zoo(options: argparse.Namespace) -> int:
    from analyzer.frontend.zoo import ZOO

    if options.out is None and options.traces is None:
        width = max(len(name) for name in ZOO)
        print(f"{'model':<{width}}  {'primitive set':<45} {'sites':<28} degree")
        for name, entry in ZOO.items():
            verdict = entry.verdict
            print(
                f"{name:<{width}}  {', '.join(verdict.circuit_class):<45} "
                f"{', '.join(verdict.site_kinds) or '-':<28} {verdict.degree}"
            )
        return 0
    if options.traces is not None:
        from analyzer.frontend.storage import save_trace
        from analyzer.frontend.tracing import trace

        folder = Path(options.traces)
        folder.mkdir(parents=True, exist_ok=True)
        for name, entry in ZOO.items():
            save_trace(trace(*entry.build(), model=f"zoo:{name}"), folder / f"{name}.json")
        _progress(f"wrote {len(ZOO)} traces to {folder}")
    if options.out is not None:
        from analyzer.render.report import write_zoo_reports

        write_zoo_reports(options.out, progress=_progress)
    return 0


def _add_census_parser(commands: Any) -> None:
    census = commands.add_parser(
        "census", help="analyse every transformers architecture (AutoModel type) in parallel"
    )
    census.add_argument("--out", required=True, metavar="DIR", help="the census folder")
    census.add_argument(
        "--types", metavar="A,B,…", help="only these model types (default: every AutoModel type)"
    )
    census.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    census.add_argument(
        "--timeout", type=float, default=180.0, metavar="S",
        help="seconds per model before its worker is replaced (default 180)",
    )  # fmt: skip
    census.add_argument(
        "--resume", action="store_true", help="keep the stored results of types already done"
    )
    census.add_argument(
        "--shrink", default="widths", choices=["widths", "layers", "none"],
        help="cut layers and widths (default), layers only, or analyse default configs",
    )  # fmt: skip
    census.add_argument("--seq-len", type=int, default=16, metavar="N", help="tokens (16)")
    census.add_argument(
        "--no-reports", action="store_true", help="no report page per model (faster)"
    )
    census.add_argument(
        "--memory", type=float, default=8.0, metavar="GB",
        help="address-space limit of each worker (default 8)",
    )  # fmt: skip
    census.set_defaults(run=_run_census)


def _run_census(options: argparse.Namespace) -> int:
    from analyzer.census import CensusOptions, run_census

    if options.seq_len < 1:
        raise SpecError(f"--seq-len {options.seq_len}: must be at least 1")
    if options.memory <= 0:
        raise SpecError(f"--memory {options.memory}: must be positive (GB)")
    types = [t.strip() for t in options.types.split(",") if t.strip()] if options.types else None
    settings = CensusOptions(
        shrink=None if options.shrink == "none" else options.shrink, seq_len=options.seq_len,
        timeout=options.timeout, workers=options.workers, reports=not options.no_reports,
        memory_gb=options.memory,
    )  # fmt: skip
    document = run_census(
        options.out, types, settings, resume=options.resume, progress=_CensusProgress()
    )
    summary = document["summary"]
    print(
        f"{summary['analysed']} of {summary['types']} types analysed, {summary['clean']} with "
        f"every op known: {100 * summary['clean_share_of_eligible']:.1f}% of the "
        f"{summary['eligible']} whose default config builds and whose packages are installed"
    )
    print("by category: " + ", ".join(f"{c} {n}" for c, n in summary["by_category"].items()))
    if summary["unknown_ops"]:
        print("unknown ops: " + ", ".join(
            f"{op} ({len(types)})" for op, types in summary["unknown_ops"].items()
        ))  # fmt: skip
    _progress(f"wrote {options.out}/index.html, census.json and census.csv")
    return 0


class _CensusProgress:
    """Shows the census's notes (count, failures, time left) on stderr."""

    def __new__(cls) -> Any:
        from analyzer.progress import Progress

        class Lines(Progress):
            def note(self, message: str) -> None:
                _progress(message)

        return Lines()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
