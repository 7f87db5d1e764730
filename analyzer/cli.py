"""The ``analyzer`` command: a thin layer over the Python API.

Errors the user can act on (:class:`~analyzer.errors.AnalyzerError`) print as one
paragraph with their exit code (2: bad input, 3: the model could not be traced);
``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from collections.abc import Sequence

from analyzer.errors import AnalyzerError, SpecError


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="analyzer",
        description="Tell what kind of circuit a PyTorch model is, with evidence.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True)

    analyze = commands.add_parser(
        "analyze",
        help="trace a model and print its primitive set, sites and degree",
        description="SPEC is zoo:NAME, hf:MODEL_TYPE, FILE.py:NAME or package.module:NAME.",
    )
    analyze.add_argument("spec", help="the model: zoo:NAME, hf:TYPE, FILE.py:NAME, pkg.mod:NAME")
    analyze.add_argument("--json", metavar="PATH", help="write the analyzer.analysis/1 JSON")
    analyze.add_argument(
        "--input", action="append", default=[], metavar="SPEC",
        help="an example input, e.g. 'float32[2,16,64]' or 'int64[1,16]<50000'; repeatable",
    )  # fmt: skip
    analyze.add_argument(
        "--config", action="append", default=[], metavar="KEY=VALUE",
        help="override a field of an hf: model's config; repeatable",
    )  # fmt: skip
    analyze.add_argument(
        "--frontend", default="auto", choices=["auto", "export", "fx", "real"],
        help="how to trace (default: auto = export, then fx, then real)",
    )  # fmt: skip
    analyze.add_argument(
        "--device", default=None,
        help="device to build and trace on (zoo: and hf: default to meta; others stay put)",
    )  # fmt: skip
    analyze.add_argument("--quiet", action="store_true", help="print no summary")
    analyze.set_defaults(run=_run_analyze)

    zoo = commands.add_parser("zoo", help="list the reference models, or analyse them all")
    zoo.add_argument(
        "--out", metavar="DIR",
        help="analyse every zoo model and write NAME.json, NAME.md and index.md to DIR",
    )  # fmt: skip
    zoo.set_defaults(run=_run_zoo)
    return parser


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _run_analyze(options: argparse.Namespace) -> int:
    from analyzer.analysis import analyze_traced
    from analyzer.output import write_json_atomic
    from analyzer.specs import load_model
    from analyzer.tracing import trace

    if options.json is not None:
        _check_writable(options.json)
    started = time.perf_counter()
    _progress(f"building {options.spec} …")
    loaded = load_model(
        options.spec, inputs=options.input, config=options.config, device=options.device
    )
    _progress(f"tracing {loaded.label} (frontend {options.frontend}) …")
    traced = trace(
        loaded.module, loaded.args, frontend=options.frontend, model=loaded.label,
        example_kwargs=loaded.kwargs,
    )  # fmt: skip
    _progress(f"analysing {len(traced.graph.nodes)} nodes …")
    result = analyze_traced(traced)
    if not options.quiet:
        print(result.summary())
    if options.json is not None:
        write_json_atomic(options.json, result.to_json())
        _progress(f"wrote {options.json}")
    _progress(f"done in {time.perf_counter() - started:.1f} s")
    return 0


def _check_writable(path: str) -> None:
    from pathlib import Path

    target = Path(path)
    if target.is_dir():
        raise SpecError(f"--json {path!r} is a directory; give a file name")
    if not target.parent.exists():
        raise SpecError(f"--json {path!r}: the folder {str(target.parent)!r} does not exist")


def _run_zoo(options: argparse.Namespace) -> int:
    from analyzer.zoo import ZOO

    if options.out is None:
        width = max(len(name) for name in ZOO)
        print(f"{'model':<{width}}  {'primitive set':<45} {'sites':<28} degree")
        for name, entry in ZOO.items():
            verdict = entry.verdict
            print(
                f"{name:<{width}}  {', '.join(verdict.circuit_class):<45} "
                f"{', '.join(verdict.site_kinds) or '-':<28} {verdict.degree}"
            )
        return 0
    from analyzer.zoo_reports import write_zoo_reports

    write_zoo_reports(options.out, progress=_progress)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
