"""The ``analyzer`` command: a thin layer over the Python API.

Each subcommand is a pair of functions, ``_add_<name>_parser`` (its options) and
``_run_<name>`` (what it does), registered in :data:`COMMANDS`. Options every command
shares (``--debug``, ``--quiet``) and those of commands that load a model (the spec,
``--input``, ``--kwarg``, ``--config``, ``--frontend``, ``--device``, ``--seed``) are
added by helpers, so a new subcommand gets them by calling one function.

Errors the user can act on (:class:`~analyzer.errors.AnalyzerError`) print as one
paragraph with their exit code (2: bad input, 3: the model could not be traced,
4: a program the tool needs is missing); anything else is an internal error (exit 5),
also one paragraph. ``--debug`` (before or after the subcommand) shows the traceback.
Progress goes to stderr through :class:`analyzer.console.ConsoleProgress`, which run
functions find as ``options.progress``; results go to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shlex
import sys
import textwrap
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from analyzer.errors import AnalyzerError, MissingToolError, SpecError, TraceError

INTERNAL_ERROR = 5  # an exception that is not an AnalyzerError: a bug, or an unsupported case
PACKAGES = {  # modules the tool imports -> the package pip installs them from (exit 4 if absent)
    "hypothesis": "hypothesis", "transformers": "transformers", "sympy": "sympy",
    "networkx": "networkx", "tqdm": "tqdm", "model_explorer": "ai-edge-model-explorer",
    "playwright": "playwright",
}  # fmt: skip
# Loggers whose warnings (symbolic-shape graph dumps, export notices) are torch's business,
# not the user's: raised to ERROR unless --debug. torch sets levels on some children itself.
QUIET_LOGGERS = (
    "torch", "torch._dynamo", "torch._export", "torch.export", "torch.fx",
    "torch.fx.experimental.symbolic_shapes", "torch._subclasses", "transformers",
)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if not arguments:
        parser.print_help()
        return 0
    options = parser.parse_args(arguments)
    options.argv = arguments
    options.started = time.perf_counter()
    from analyzer.console import ConsoleProgress

    options.progress = ConsoleProgress(quiet=options.quiet)
    try:
        with _torch_quiet(options.debug):
            if "torch" not in sys.modules:  # seconds on a cold start: say so
                with options.progress.task("loading torch"):
                    import torch
            if not options.debug:  # vmap's note that an op runs unbatched is torch's concern
                import torch

                torch._C._functorch._set_vmap_fallback_warning_enabled(False)
            _check_common(options)
            return int(options.run(options) or 0)
    except AnalyzerError as error:
        if options.debug:
            raise
        _fail(str(error))
        return error.exit_code
    except KeyboardInterrupt:
        print("analyzer: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug or an unsupported case: one paragraph, no traceback
        if options.debug:
            raise
        package = PACKAGES.get((getattr(error, "name", None) or "").split(".")[0])
        if isinstance(error, ModuleNotFoundError) and package:
            _fail(
                f"`analyzer {options.command}` needs the Python package {package!r}, which "
                f"is not installed here: pip install '{package}' (or set up with "
                "`bash scripts/bootstrap.sh run`)"
            )
            return MissingToolError.exit_code
        _fail(
            f"internal error in `analyzer {options.command}`: {type(error).__name__}: "
            f"{_first_line(error)}. This is a bug in analyzer or a case it does not support "
            "yet; rerun with --debug for the traceback and report it"
        )
        return INTERNAL_ERROR


def _fail(message: str) -> None:
    print(
        textwrap.fill(  # paths and names stay whole, the first one on the prefix's line
            message,
            width=100,
            initial_indent="analyzer: error: ",
            break_long_words=False,
            break_on_hyphens=False,
        ),
        file=sys.stderr,
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "(no message)"


@contextlib.contextmanager
def _torch_quiet(debug: bool) -> Iterator[None]:
    """Keep torch's and transformers' own log lines and warnings off the user's terminal
    (graph dumps from symbolic shapes, deprecation notices) unless ``--debug``."""
    if debug:
        yield
        return
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    stderr = sys.stderr
    sys.stderr = _WithoutGraphDumps(stderr)  # type: ignore[assignment]
    with warnings.catch_warnings():
        for module in ("torch", "transformers", "huggingface_hub"):
            warnings.filterwarnings("ignore", module=rf"{module}(\.|$)")
        try:
            yield
        finally:
            sys.stderr = stderr
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


class _WithoutGraphDumps:
    """stderr without the partial fx graphs that torch.export prints (with ``print``,
    not a logger) when it fails: the frontend that failed is named in the warnings."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._dropped = False

    def write(self, text: str) -> int:
        dump = text.lstrip().startswith("def forward(") or (
            "torch.ops.aten." in text and "# File:" in text
        )
        if dump or (self._dropped and text == "\n"):  # print's own newline after a dump
            self._dropped = dump
            return len(text)
        self._dropped = False
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _check_common(options: argparse.Namespace) -> None:
    """Checks every subcommand shares, before any slow work: the device exists here."""
    if getattr(options, "device", None) is not None:
        from analyzer.frontend.specs import check_device

        check_device(options.device)


# --- options shared by subcommands ------------------------------------------------


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: given after the subcommand it sets the flag, absent it keeps the value
    # given before the subcommand.
    parser.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS,
        help="show tracebacks on errors, and torch's own log messages",
    )  # fmt: skip
    parser.add_argument(
        "--quiet", "-q", action="store_true", default=argparse.SUPPRESS,
        help="print no progress and no summary, only errors",
    )  # fmt: skip


SPEC_HELP = "zoo:NAME, hf:MODEL_TYPE, FILE.py:NAME or package.module:NAME"


def _add_model_options(
    parser: argparse.ArgumentParser,
    *,
    stored_trace: bool = True,
    device_help: str = "device to build and trace on (default: meta for zoo: and hf:, "
    "where your factory puts it otherwise)",
) -> None:
    """The spec and the options that say how to build, feed and trace the model."""
    parser.add_argument(
        "spec", help=SPEC_HELP + (", or a stored trace FILE.json" if stored_trace else "")
    )
    parser.add_argument(
        "--input", action="append", default=[], metavar="DTYPE[dims]",
        help="a positional example input, e.g. 'float32[2,16,64]' or 'int64[1,16]<50000' "
        "(token ids below 50000); repeatable (default: the factory's own inputs)",
    )  # fmt: skip
    parser.add_argument(
        "--kwarg", action="append", default=[], metavar="NAME=DTYPE[dims]",
        help="a keyword example input, e.g. attention_mask='int64[1,16]'; repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--config", action="append", default=[], metavar="KEY=VALUE",
        help="override a field of an hf: model's config, e.g. num_hidden_layers=2; repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--frontend", default="auto", choices=["auto", "export", "fx", "real"],
        help="how to trace (default: auto = export, then fx, then real)",
    )  # fmt: skip
    parser.add_argument("--device", default=None, help=device_help)
    parser.add_argument(
        "--seed", type=int, default=0,
        help="seed for random weights and example inputs (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--mode", choices=["train", "eval"], default=None,
        help="analyse the model in train() or eval() mode (default: as the spec builds it)",
    )  # fmt: skip
    sizes = parser.add_argument_group(
        "hf: inputs (built from the config; --input NAME=SPEC or --kwarg replaces one by name)"
    )
    sizes.add_argument(
        "--seq-len", type=int, metavar="N", help="tokens or time steps (default: 16)"
    )
    sizes.add_argument("--batch", type=int, metavar="N", help="batch size (default: 1)")
    sizes.add_argument(
        "--image-size", type=int, metavar="N", help="image side (default: the config's)"
    )
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


def _check_output_file(option: str, path: str | None) -> None:
    """Fail before the slow work, not after it, when an output file cannot be written."""
    from analyzer.output import check_writable

    if path is not None:
        check_writable(path, option)


def _is_stored_trace(spec: str) -> bool:
    return spec.endswith(".json")


def _provenance(options: argparse.Namespace, loaded: Any) -> dict[str, Any]:
    """What a reader needs to reproduce the run: the spec and every override, the seed,
    the device, the requested frontend, the versions and the command line itself."""
    from analyzer.frontend.specs import parse_config, versions

    record: dict[str, Any] = {"spec": options.spec}
    if options.config:
        record["config"] = parse_config(options.config)
    if options.input:
        record["input_specs"] = list(options.input)
    if options.kwarg:
        record["kwarg_specs"] = list(options.kwarg)
    record.update(seed=options.seed, device=options.device or "default",
                  frontend_requested=options.frontend, versions=versions(),
                  command=shlex.join(["analyzer", *options.argv]))  # fmt: skip
    if loaded is not None:
        counts = loaded.parameter_counts()
        if counts:
            record["parameters"] = counts.pop("")
            record["parameters_by_module"] = counts
    return record


def _traced(options: argparse.Namespace) -> Any:
    """Load a stored trace, or build and trace the model a spec names."""
    progress = options.progress
    if _is_stored_trace(options.spec):
        from analyzer.frontend.storage import load_trace

        if options.input or options.config or options.kwarg or options.training or options.mode:
            raise SpecError(
                "--input, --kwarg, --config, --training and --mode do not apply to a stored "
                "trace: it is already traced"
            )
        with progress.task(f"loading trace {options.spec}"):
            return load_trace(options.spec)
    import torch

    from analyzer.frontend.specs import load_model
    from analyzer.frontend.tracing import trace

    torch.manual_seed(options.seed)  # random weights and example inputs: reproducible
    with progress.task(f"building {options.spec}"):
        loaded = load_model(
            options.spec, inputs=options.input, config=options.config, device=options.device,
            kwargs=options.kwarg, **_hf_sizes(options),
        )  # fmt: skip
    for warning in loaded.warnings:
        progress.note(f"note: {warning}")
    step = training_step(options)
    what = "a training step of " if step else ""

    def traced_model(loaded: Any) -> Any:
        with progress.task(f"tracing {what}{loaded.label} (frontend {options.frontend})"):
            return trace(
                loaded.module, loaded.args, frontend=options.frontend, model=loaded.label,
                example_kwargs=loaded.kwargs, mode=options.mode, training=step,
            )  # fmt: skip

    try:
        traced = traced_model(loaded)
    except TraceError as error:  # hf: models traced on meta get one more try on the cpu
        again = loaded.retry(error) if loaded.retry else None
        if again is None:
            raise
        loaded = again
        progress.note(f"note: {loaded.warnings[-1]}; tracing again")
        traced = traced_model(loaded)
    traced.warnings[:0] = loaded.warnings
    traced.metadata.update(_provenance(options, loaded))
    options.loaded = loaded  # for commands that need the module itself (explore)
    return traced


def _hf_sizes(options: argparse.Namespace) -> dict[str, Any]:
    """--seq-len, --batch and --image-size as given (load_model refuses them off hf:)."""
    return {"seq_len": options.seq_len, "batch": options.batch, "image_size": options.image_size}


def _analysed(options: argparse.Namespace) -> Any:
    from analyzer.analysis import analyze_traced

    traced = _traced(options)
    with options.progress.task(f"analysing {len(traced.graph.nodes)} nodes"):
        return analyze_traced(traced)


def _done(options: argparse.Namespace, what: str) -> None:
    """The closing line: what was written and the whole command's time, with the steps
    that took it (not only the last step's)."""
    total = time.perf_counter() - options.started
    steps = ", ".join(
        f"{description.split(' ')[0]} {seconds:.1f} s"
        for description, seconds in options.progress.timings
        if seconds >= 0.05
    )
    options.progress.note(f"{what} in {total:.1f} s" + (f" ({steps})" if steps else ""))


# --- analyze ---------------------------------------------------------------------


def _add_analyze_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "analyze", aliases=["analyse"],
        help="trace a model (or load a stored trace) and print its analysis",
        description="Trace a model into an aten op graph, classify every op, find every "
        "input-by-input product and the polynomial degree; print a summary.",
    )  # fmt: skip
    _add_common_options(parser)
    _add_model_options(parser)
    parser.add_argument("--json", metavar="PATH", help="write the analyzer.analysis/1 JSON")
    parser.add_argument("--graphml", metavar="PATH", help="write the annotated graph as GraphML")
    parser.set_defaults(run=_run_analyze)


def _run_analyze(options: argparse.Namespace) -> int:
    from analyzer.output import write_json_atomic

    _check_output_file("--json", options.json)
    _check_output_file("--graphml", options.graphml)
    result = _analysed(options)
    if not options.quiet:
        from analyzer.render.summary import render_summary

        print(render_summary(result))
    written = []
    if options.json is not None:
        write_json_atomic(options.json, result.to_json())
        written.append(options.json)
    if options.graphml is not None:
        from analyzer.render.annotated import write_graphml

        write_graphml(result, options.graphml)
        written.append(options.graphml)
    _done(options, f"wrote {', '.join(written)}" if written else "done")
    return 0


# --- trace -----------------------------------------------------------------------


def _add_trace_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "trace", help="store a model's op graph as analyzer.trace/1 JSON",
        description="Trace a model and store its op graph (no weights, no pickle), so that "
        "`analyzer analyze FILE.json` re-analyses it without the model.",
    )  # fmt: skip
    _add_common_options(parser)
    _add_model_options(parser, stored_trace=False)
    parser.add_argument("--out", required=True, metavar="PATH", help="the trace file to write")
    parser.set_defaults(run=_run_trace)


def _run_trace(options: argparse.Namespace) -> int:
    from analyzer.frontend.storage import save_trace

    if _is_stored_trace(options.spec):
        raise SpecError(f"{options.spec!r} is already a trace; give a model spec ({SPEC_HELP})")
    _check_output_file("--out", options.out)
    traced = _traced(options)
    save_trace(traced, options.out)
    _done(options, f"wrote {options.out} ({len(traced.graph.nodes)} nodes)")
    return 0


# --- report ----------------------------------------------------------------------


def _add_report_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "report", help="write index.html, graph.svg/.dot, report.md and analysis.json",
        description="Analyse a model and write a report folder: one self-contained HTML "
        "page with the graph, the SVG and DOT of the graph, Markdown and the JSON.",
    )  # fmt: skip
    _add_common_options(parser)
    _add_model_options(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="the report folder")
    parser.add_argument(
        "--level", default="auto", choices=["auto", "ops", "modules"],
        help="draw every op, or one node per module (default: auto = ops up to 300 drawn "
        "ops, modules above)",
    )  # fmt: skip
    parser.add_argument(
        "--depth", type=int, default=3, metavar="N",
        help="module view: cut module paths after N components (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--model-explorer", action="store_true",
        help="also write Google Model Explorer node-data overlays (model-explorer/*.json)",
    )  # fmt: skip
    parser.add_argument(
        "--dim", action="append", default=[], metavar="NAME=SYMBOL",
        help="add a cost section with formulas in this dimension (see `analyzer cost`)",
    )  # fmt: skip
    parser.set_defaults(run=_run_report)


def _run_report(options: argparse.Namespace) -> int:
    from analyzer.output import check_writable_folder
    from analyzer.render.report import write_report

    if options.depth < 1:
        raise SpecError(f"--depth {options.depth}: must be at least 1")
    check_writable_folder(options.out, "--out")
    cost = None
    if options.dim:  # one export with the dimensions symbolic serves both
        result, cost = _analysed_with_cost(options, solve=True)
    else:
        result = _analysed(options)
    if not options.quiet:
        from analyzer.render.summary import render_summary

        print(render_summary(result))
    folder = write_report(
        result, options.out, level=options.level, depth=options.depth,
        model_explorer=options.model_explorer, progress=options.progress, cost=cost,
    )  # fmt: skip
    _done(options, f"wrote {folder / 'index.html'}")
    return 0


# --- validate (the empirical backend's command) -------------------------------------


def _add_validate_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "validate", help="check the static claims by differentiating the real model",
        description="Build the model with random weights, cast to float64, and check the "
        "static analysis's claims (dependence, degree, sites, cross-entry terms) with "
        "automatic differentiation.",
    )  # fmt: skip
    _add_common_options(parser)
    _add_model_options(
        parser, stored_trace=False,
        device_help="device to run and differentiate on (default: cuda when present, else cpu)",
    )  # fmt: skip
    parser.add_argument("--json", metavar="PATH", help="write the analyzer.validation/1 JSON")
    parser.add_argument(
        "--samples", type=int, default=16,
        help="random tangents / lines / pairs of directions (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--max-degree", type=int, default=4, metavar="K",
        help="highest degree measured; above it the model reads as inf (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--pairs", type=int, default=None,
        help="direction pairs for dependence, sites and cross-entry terms (default: --samples)",
    )  # fmt: skip
    parser.add_argument(
        "--memory", type=float, default=None, metavar="GIB",
        help="bound peak memory by splitting samples into chunks (default: half of free memory)",
    )  # fmt: skip
    parser.add_argument(
        "--blockwise", action="store_true",
        help="validate each distinct repeated block (layers.N) on its own real input",
    )  # fmt: skip
    parser.add_argument(
        "--no-vmap", action="store_true", help="loop over samples in Python (for comparison)"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a measurement disagrees (for CI)"
    )
    parser.set_defaults(run=_run_validate)


def _run_validate(options: argparse.Namespace) -> int:
    from analyzer.empirical.validate import check_options, default_device, validate
    from analyzer.frontend.specs import load_model
    from analyzer.output import write_json_atomic
    from analyzer.render.validation import render_validation

    _check_output_file("--json", options.json)
    if _is_stored_trace(options.spec):
        raise SpecError("a stored trace has no weights to differentiate: validate the model spec")
    device = options.device or default_device()
    if device == "meta":
        raise SpecError("--device meta cannot run the model: use cpu or cuda")
    check_options(options.samples, options.max_degree, options.memory, device, options.pairs)
    import torch

    progress = options.progress
    torch.manual_seed(options.seed)  # the random weights and inputs: reproducible runs
    # block-wise, an hf: model is built on meta and streamed: one block's weights at a time
    streamed = options.blockwise and options.spec.startswith("hf:")
    build_on = "meta" if streamed else device
    with progress.task(f"building {options.spec} on {build_on}"):
        loaded = load_model(
            options.spec, inputs=options.input, config=options.config, device=build_on,
            kwargs=options.kwarg, **_hf_sizes(options),
        )  # fmt: skip
    for warning in loaded.warnings:
        progress.note(f"note: {warning}")
    if streamed:
        from analyzer.frontend.hf import inputs_on

        loaded.kwargs = inputs_on(loaded.module, loaded.kwargs, device)
    step = training_step(options)
    common = {
        "example_kwargs": loaded.kwargs, "model": loaded.label, "device": device,
        "samples": options.samples, "max_degree": options.max_degree, "seed": options.seed,
        "pairs": options.pairs, "batched": not options.no_vmap, "frontend": options.frontend,
        "mode": options.mode, "memory": options.memory, "progress": progress,
    }  # fmt: skip
    if options.blockwise:
        from analyzer.empirical.blockwise import validate_blockwise
        from analyzer.render.validation import render_blockwise

        if step is not None:
            raise SpecError("--blockwise and --training do not combine: give one of them")
        progress.note(f"validating the repeated blocks of {loaded.label} (float64)")
        result = validate_blockwise(loaded.module, loaded.args, **common)
        text = render_blockwise(result)
    else:
        what = "a training step of " if step else ""
        progress.note(f"validating {what}{loaded.label} (float64, {options.samples} samples)")
        result = validate(loaded.module, loaded.args, training=step, **common)
        text = render_validation(result)
    if not options.quiet:
        print(text)
    if options.json is not None:
        write_json_atomic(options.json, result.to_json())
    _done(options, f"wrote {options.json}" if options.json else "done")
    return 1 if options.strict and not result.agree else 0


# --- zoo -------------------------------------------------------------------------


def _add_zoo_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "zoo", help="analyse the reference models and print their verdicts",
        description="Analyse every model of the reference zoo (small models of each "
        "primitive set) and print the verdicts computed now, flagging any that differ "
        "from the documented ones; optionally write every model's report and trace.",
    )  # fmt: skip
    _add_common_options(parser)
    parser.add_argument(
        "--out", metavar="DIR", help="write every zoo model's report and an index page to DIR"
    )
    parser.add_argument("--traces", metavar="DIR", help="store every zoo model's trace in DIR")
    parser.set_defaults(run=_run_zoo)


def _run_zoo(options: argparse.Namespace) -> int:
    from analyzer.output import check_writable_folder
    from analyzer.render.zoo import analyse_zoo, write_zoo_reports, zoo_table

    for option, folder in (("--out", options.out), ("--traces", options.traces)):
        if folder is not None:
            check_writable_folder(folder, option)
    results = analyse_zoo(progress=options.progress)
    if not options.quiet:
        print(zoo_table(results))
    if options.traces is not None:
        from analyzer.frontend.storage import save_trace

        folder = Path(options.traces)
        folder.mkdir(parents=True, exist_ok=True)
        for name, result in results.items():
            save_trace(result.traced, folder / f"{name}.json")
        options.progress.note(f"wrote {len(results)} traces to {folder}")
    if options.out is not None:
        write_zoo_reports(options.out, results, progress=options.progress)
    _done(options, f"wrote the zoo's reports to {options.out}" if options.out else "done")
    return 0


def _add_claims_parser(commands: Any) -> None:
    claims = commands.add_parser(
        "claims", help="test claims about architectures (the seed's suite, or your FILE.py)"
    )
    _add_common_options(claims)
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

    options.progress.note(f"running {len(claims)} claim(s) on {device}")
    report = run_claims(
        claims, examples=options.examples, seed=options.seed, device=device,
        progress=options.progress,
    )  # fmt: skip
    if not options.quiet:
        print(render_claims_text(report))
    written = []
    if options.json is not None:
        write_json_atomic(options.json, report.to_json())
        written.append(options.json)
    if options.report is not None:
        folder = write_claims_report(report, options.report, title=_claims_title(suite, options))
        written.append(f"{folder}/index.html")
    _done(options, f"wrote {', '.join(written)}" if written else "done")
    return 1 if options.strict and not report.as_expected else 0


def _claims_title(suite: str | None, options: argparse.Namespace) -> str:
    parts = ([f"the {suite} suite"] if suite else []) + [Path(f).name for f in options.files]
    return "Claims: " + ", ".join(parts)


# --- explore ---------------------------------------------------------------------


def _add_explore_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "explore", help="open a model in Google Model Explorer with the analysis overlaid",
        description="Start Model Explorer (the ai-edge-model-explorer package) on localhost "
        "with the exported program and the analysis's node data (primitive class, site "
        "kind, dependence, degree) as overlays: a WebGL viewer for very large graphs.",
    )  # fmt: skip
    _add_common_options(parser)
    _add_model_options(parser, stored_trace=False)
    parser.add_argument(
        "--port", type=int, default=8080, help="port on localhost (default: %(default)s)"
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="start the server without opening a browser"
    )
    parser.set_defaults(run=_run_explore)


def _run_explore(options: argparse.Namespace) -> int:
    from analyzer.render.explorer import explorer_module, start_explorer

    if _is_stored_trace(options.spec):
        raise SpecError("Model Explorer draws an exported program: give a model spec")
    explorer_module()  # fails early, saying how to install it
    result = _analysed(options)
    import torch

    loaded = options.loaded
    with options.progress.task("exporting the program for Model Explorer"):
        program = torch.export.export(
            loaded.module, tuple(loaded.args), kwargs=dict(loaded.kwargs), strict=False
        )
        program.example_inputs = None  # its adapter would print weights: meta has none
    options.progress.note(f"Model Explorer: http://localhost:{options.port} (ctrl-c stops it)")
    start_explorer(result, program, port=options.port, open_browser=not options.no_browser)
    return 0


# --- cost and expand (the symbolic layer) -----------------------------------------


def _add_cost_parser(commands: Any) -> None:
    cost = commands.add_parser(
        "cost", help="multiply-adds as formulas in symbolic dimensions (static vs dynamic)",
        description="Export with the --dim axes symbolic and give every node's multiply-adds "
        "as a formula, totalled per primitive class and site kind, with static contractions "
        "(a parameter on one side) apart from dynamic ones (input-by-input).",
    )  # fmt: skip
    _add_common_options(cost)
    _add_model_options(cost, stored_trace=False)
    cost.add_argument(
        "--dim", action="append", default=[], metavar="NAME=SYMBOL",
        help="a symbolic dimension: seq=N, batch=B, INPUT:AXIS=N (x:1=N), optionally with a "
        "range, seq=N:1..1024; repeatable",
    )  # fmt: skip
    cost.add_argument(
        "--solve", action="store_true",
        help="solve for each dimension where dynamic contractions equal static ones",
    )  # fmt: skip
    cost.add_argument("--json", metavar="PATH", help="write the analyzer.cost/1 JSON")
    cost.add_argument("--svg", metavar="PATH", help="write the static vs dynamic plot")
    cost.add_argument(
        "--nodes", type=int, default=0, metavar="K",
        help="also list the K most expensive nodes (default: %(default)s)",
    )  # fmt: skip
    cost.set_defaults(run=_run_cost)


def _analysed_with_cost(options: argparse.Namespace, solve: bool) -> tuple[Any, Any]:
    """Export with the ``--dim`` axes symbolic, analyse, and give the cost formulas."""
    import torch

    from analyzer.analysis import analyze_traced
    from analyzer.frontend.specs import load_model
    from analyzer.symbolic.cost import cost_of_traced, trace_with_dims
    from analyzer.symbolic.dims import parse_dims

    specs = parse_dims(options.dim)
    if not specs:
        raise SpecError("give at least one --dim NAME=SYMBOL, e.g. --dim seq=N")
    if _is_stored_trace(options.spec):
        raise SpecError(
            "a stored trace has fixed shapes: give the model spec, which is exported with "
            "the --dim axes symbolic"
        )
    if options.frontend not in ("auto", "export"):
        raise SpecError(f"--frontend {options.frontend}: symbolic dimensions need export")
    if getattr(options, "training", False):
        raise SpecError("--dim and --training do not combine: cost formulas are of the forward")
    progress = options.progress
    torch.manual_seed(options.seed)
    with progress.task(f"building {options.spec}"):
        loaded = load_model(
            options.spec, inputs=options.input, config=options.config, device=options.device,
            kwargs=options.kwarg,
        )  # fmt: skip
    with progress.task(f"exporting {loaded.label} with symbolic {', '.join(options.dim)}"):
        traced, axes, sizes = trace_with_dims(
            loaded.module, loaded.args, specs, example_kwargs=loaded.kwargs, model=loaded.label,
            hf=options.spec.startswith("hf:"), progress=progress,
        )  # fmt: skip
    traced.metadata.update(_provenance(options, loaded))
    with progress.task(f"analysing {len(traced.graph.nodes)} nodes"):
        result = analyze_traced(traced)
    with progress.task("building the formulas"):
        return result, cost_of_traced(result, axes, sizes, solve=solve, progress=progress)


def _run_cost(options: argparse.Namespace) -> int:
    from analyzer.output import write_json_atomic, write_text_atomic
    from analyzer.render.cost import cost_svg, cost_text

    _check_output_file("--json", options.json)
    _check_output_file("--svg", options.svg)
    if options.nodes < 0:
        raise SpecError(f"--nodes {options.nodes}: must be 0 or more")
    _, report = _analysed_with_cost(options, solve=options.solve)
    if not options.quiet:
        print(cost_text(report, nodes=options.nodes))
    written = []
    if options.json is not None:
        write_json_atomic(options.json, report.to_json())
        written.append(options.json)
    if options.svg is not None:
        write_text_atomic(options.svg, cost_svg(report))
        written.append(options.svg)
    _done(options, f"wrote {', '.join(written)}" if written else "done")
    return 0


def _add_expand_parser(commands: Any) -> None:
    expand = commands.add_parser(
        "expand", help="run a tiny instance on sympy symbols: exact polynomials and degree"
    )
    _add_common_options(expand)
    _add_model_options(
        expand, stored_trace=False,
        device_help="device to build on (default cpu: expand needs the weights)",
    )  # fmt: skip
    expand.add_argument("--json", metavar="PATH", help="write the analyzer.expand/1 JSON")
    expand.add_argument(
        "--show", type=int, default=4, metavar="K",
        help="print the first K output entries (default: %(default)s)",
    )  # fmt: skip
    expand.add_argument(
        "--max-inputs", type=int, default=256, metavar="N",
        help="refuse more than N input entries (symbols; default: %(default)s)",
    )  # fmt: skip
    expand.add_argument(
        "--max-terms", type=int, default=2_000_000, metavar="N",
        help="refuse an op that would multiply out more than N terms (default: %(default)s)",
    )  # fmt: skip
    expand.set_defaults(run=_run_expand)


def _run_expand(options: argparse.Namespace) -> int:
    from analyzer.analysis import analyze_traced
    from analyzer.output import write_json_atomic
    from analyzer.render.expand import expand_text
    from analyzer.symbolic.expand import expand_traced

    _check_output_file("--json", options.json)
    if options.show < 0:
        raise SpecError(f"--show {options.show}: must be 0 or more")
    if options.max_inputs < 1 or options.max_terms < 1:
        raise SpecError("--max-inputs and --max-terms must be at least 1")
    if _is_stored_trace(options.spec):
        raise SpecError("a stored trace has no weights to expand: give the model spec")
    if options.device == "meta":
        raise SpecError("--device meta holds no weights: expand needs cpu (the default)")
    if options.device is None:
        options.device = "cpu"
    result = analyze_traced(_traced(options))
    expansion = expand_traced(
        result, max_inputs=options.max_inputs, max_terms=options.max_terms,
        progress=options.progress,
    )  # fmt: skip
    if not options.quiet:
        print(expand_text(expansion, show=options.show))
    if options.json is not None:
        write_json_atomic(options.json, expansion.to_json())
    _done(options, f"wrote {options.json}" if options.json else "done")
    return 0


# --- census ------------------------------------------------------------------------


def _add_census_parser(commands: Any) -> None:
    census = commands.add_parser(
        "census", help="analyse every transformers architecture (AutoModel type) in parallel",
        description="Build every AutoModel type of the installed transformers with a shrunk "
        "config on the meta device, analyse each in a worker process, and write census.json, "
        "census.csv and a sortable index.html (resumable).",
    )  # fmt: skip
    _add_common_options(census)
    census.add_argument("--out", required=True, metavar="DIR", help="the census folder")
    census.add_argument(
        "--types", metavar="A,B,…", help="only these model types (default: every AutoModel type)"
    )
    census.add_argument(
        "--workers", type=int, default=2, help="worker processes (default: %(default)s)"
    )
    census.add_argument(
        "--timeout", type=float, default=180.0, metavar="S",
        help="seconds per model before its worker is replaced (default: %(default)s)",
    )  # fmt: skip
    census.add_argument(
        "--resume", action="store_true", help="keep the stored results of types already done"
    )
    census.add_argument(
        "--shrink", default="widths", choices=["widths", "layers", "none"],
        help="cut layers and widths (default), layers only, or analyse default configs",
    )  # fmt: skip
    census.add_argument(
        "--seq-len", type=int, default=16, metavar="N", help="tokens (default: %(default)s)"
    )
    census.add_argument(
        "--no-reports", action="store_true", help="no report page per model (faster)"
    )
    census.add_argument(
        "--memory", type=float, default=8.0, metavar="GB",
        help="address-space limit of each worker (default: %(default)s)",
    )  # fmt: skip
    census.set_defaults(run=_run_census)


def _run_census(options: argparse.Namespace) -> int:
    from analyzer.census import CensusOptions, run_census
    from analyzer.output import check_writable_folder

    if options.seq_len < 1:
        raise SpecError(f"--seq-len {options.seq_len}: must be at least 1")
    if options.memory <= 0:
        raise SpecError(f"--memory {options.memory}: must be positive (GB)")
    if options.workers < 1:
        raise SpecError(f"--workers {options.workers}: must be at least 1")
    if options.timeout <= 0:
        raise SpecError(f"--timeout {options.timeout}: must be positive (seconds)")
    check_writable_folder(options.out, "--out")
    types = [t.strip() for t in options.types.split(",") if t.strip()] if options.types else None
    settings = CensusOptions(
        shrink=None if options.shrink == "none" else options.shrink, seq_len=options.seq_len,
        timeout=options.timeout, workers=options.workers, reports=not options.no_reports,
        memory_gb=options.memory,
    )  # fmt: skip
    document = run_census(
        options.out, types, settings, resume=options.resume, progress=options.progress
    )
    summary = document["summary"]
    if not options.quiet:
        print(
            f"{summary['analysed']} of {summary['types']} types analysed, {summary['clean']} "
            f"with every op known: {100 * summary['clean_share_of_eligible']:.1f}% of the "
            f"{summary['eligible']} whose default config builds and whose packages are installed"
        )
        print("by category: " + ", ".join(f"{c} {n}" for c, n in summary["by_category"].items()))
        if summary["unknown_ops"]:
            print("unknown ops: " + ", ".join(
                f"{op} ({len(found)})" for op, found in summary["unknown_ops"].items()
            ))  # fmt: skip
    _done(options, f"wrote {options.out}/index.html, census.json and census.csv")
    return 0


# --- the parser ------------------------------------------------------------------

COMMANDS: list[Callable[[Any], None]] = [
    _add_analyze_parser,
    _add_trace_parser,
    _add_report_parser,
    _add_validate_parser,
    _add_zoo_parser,
    _add_explore_parser,
    _add_claims_parser,
    _add_cost_parser,
    _add_expand_parser,
    _add_census_parser,
]


def _parser() -> argparse.ArgumentParser:
    import analyzer

    parser = argparse.ArgumentParser(
        prog="analyzer",
        description="Tell what kind of circuit a PyTorch model is, with evidence: its "
        "primitive set, every input-by-input product, its polynomial degree.",
        epilog="Exit codes: 0 success, 1 `validate --strict` disagreement, 2 bad input, "
        "3 the model could not be traced, 4 a program the tool needs is missing, "
        "5 internal error. `analyzer COMMAND --help` shows a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"analyzer {analyzer.__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks on errors, and torch's log messages"
    )
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="print no progress and no summary"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(commands)
    return parser


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
