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
    parser.add_argument(
        "--mode", choices=["train", "eval"], default=None,
        help="analyse the model in train() or eval() mode (default: as the spec builds it)",
    )  # fmt: skip
    _add_training_options(parser)


def _add_training_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training step (DESIGN §5)")
    group.add_argument(
        "--training", action="store_true",
        help="trace one SGD step (forward, loss, backward, update) as a function of the data",
    )  # fmt: skip
    group.add_argument(
        "--loss", choices=["mse", "ce"], default="mse",
        help="with --training: mse against float targets (default) or ce against class ids",
    )  # fmt: skip
    group.add_argument(
        "--lr", type=float, default=0.1, help="with --training: the SGD step size (default 0.1)"
    )
    group.add_argument(
        "--then-predict", action="store_true",
        help="with --training: apply the updated model to a fresh query input (dual form)",
    )  # fmt: skip


def training_step(options: argparse.Namespace) -> Any:
    """The TrainingStep the options ask for, or None; training flags need --training."""
    if not getattr(options, "training", False):
        given = [f for f, v in (("--then-predict", options.then_predict),
                                ("--loss", options.loss != "mse"), ("--lr", options.lr != 0.1))
                 if v]  # fmt: skip
        if given:
            raise SpecError(f"{given[0]} applies to a training step: add --training")
        return None
    from analyzer.frontend.training import TrainingStep

    return TrainingStep(loss=options.loss, lr=options.lr, then_predict=options.then_predict)


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
    _add_claims_parser(commands)
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

        if options.input or options.config or options.training or options.mode:
            raise SpecError(
                "--input, --config, --training and --mode do not apply to a stored trace"
            )
        _progress(f"loading trace {options.spec} …")
        return load_trace(options.spec)
    _progress(f"building {options.spec} …")
    loaded = load_model(
        options.spec, inputs=options.input, config=options.config, device=options.device
    )
    step = training_step(options)
    what = "a training step of " if step else ""
    _progress(f"tracing {what}{loaded.label} (frontend {options.frontend}) …")
    return trace(
        loaded.module, loaded.args, frontend=options.frontend, model=loaded.label,
        example_kwargs=loaded.kwargs, mode=options.mode, training=step,
    )  # fmt: skip


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
    loaded = load_model(options.spec, inputs=options.input, config=options.config, device=device)
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


def _add_claims_parser(commands: Any) -> None:
    claims = commands.add_parser(
        "claims", help="test claims about architectures (the seed's suite, or your FILE.py)"
    )
    claims.add_argument("files", nargs="*", metavar="FILE.py", help="claim files to run")
    claims.add_argument(
        "--suite", choices=["seed"], default=None,
        help="a built-in suite (default: seed when no FILE.py is given)",
    )  # fmt: skip
    claims.add_argument(
        "--examples", type=int, default=None, metavar="N",
        help="drawn models per family claim (default: the claim's own, else 25)",
    )  # fmt: skip
    claims.add_argument(
        "--seed", type=int, default=0, help="hypothesis and weight seed (default 0)"
    )
    claims.add_argument(
        "--device", default=None, help="where models are validated and identities measured "
        "(default: cuda when present, else cpu)",
    )  # fmt: skip
    claims.add_argument("--json", metavar="PATH", help="write the analyzer.claims/1 JSON")
    claims.add_argument("--report", metavar="DIR", help="write index.html and claims.json to DIR")
    claims.add_argument(
        "--strict", action="store_true", help="exit 1 when a verdict differs from its expect"
    )
    claims.set_defaults(run=_run_claims)


def _run_claims(options: argparse.Namespace) -> int:
    from analyzer.claims.loading import load_claims
    from analyzer.claims.runner import resolve_device, run_claims
    from analyzer.claims.seed import SUITES
    from analyzer.output import write_json_atomic
    from analyzer.progress import Progress
    from analyzer.render.claims import render_claims_text, write_claims_report

    _check_output_file("--json", options.json)
    if options.report is not None and Path(options.report).is_file():
        raise SpecError(f"--report {options.report!r} is a file; give a folder")
    if options.examples is not None and options.examples < 1:
        raise SpecError(f"--examples {options.examples}: give at least 1")
    if options.seed < 0:
        raise SpecError(f"--seed {options.seed}: give a non-negative int")
    device = resolve_device(options.device)
    claims = [c for path in options.files for c in load_claims(path)]
    suite = options.suite or (None if options.files else "seed")
    if suite is not None:
        claims = SUITES[suite]() + claims

    class Lines(Progress):
        """One line per claim started and per verdict, on stderr."""

        def __init__(self) -> None:
            self.number = 0

        def on_start(self, task: Any) -> None:
            if task.description != "claims":
                self.number += 1
                _progress(f"[{self.number}/{len(claims)}] {task.description} …")

        def note(self, message: str) -> None:
            _progress(f"  {message}")

    _progress(f"running {len(claims)} claim(s) on {device} …")
    report = run_claims(
        claims, examples=options.examples, seed=options.seed, device=device, progress=Lines()
    )
    print(render_claims_text(report))
    if options.json is not None:
        write_json_atomic(options.json, report.to_json())
        _progress(f"wrote {options.json}")
    if options.report is not None:
        folder = write_claims_report(report, options.report, title=_claims_title(suite, options))
        _progress(f"wrote {folder}/index.html")
    return 1 if options.strict and not report.as_expected else 0


def _claims_title(suite: str | None, options: argparse.Namespace) -> str:
    parts = ([f"the {suite} suite"] if suite else []) + [Path(f).name for f in options.files]
    return "Claims: " + ", ".join(parts)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
