"""The ``analyzer`` entry point: parse the command line, run one command, and turn
errors into exit codes.

Each subcommand is a module of this package with two functions, ``add_parser``
(its options) and ``run`` (what it does), listed in :data:`COMMANDS`. Options every command
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
import os
import sys
import textwrap
import time
from collections.abc import Sequence

import analyzer.cli.analyze as analyze
import analyzer.cli.census as census
import analyzer.cli.claims as claims
import analyzer.cli.cost as cost
import analyzer.cli.expand as expand
import analyzer.cli.explore as explore
import analyzer.cli.report as report
import analyzer.cli.trace as trace
import analyzer.cli.validate as validate
import analyzer.cli.zoo as zoo
from analyzer.cli.options import check_common
from analyzer.cli.quiet import torch_quiet
from analyzer.errors import AnalyzerError, MissingToolError

CLOSED_PIPE = 141  # what a shell reports for a program ended by SIGPIPE (128 + 13)
INTERNAL_ERROR = 5  # an exception that is not an AnalyzerError: a bug, or an unsupported case
PACKAGES = {  # modules the tool imports -> the package pip installs them from (exit 4 if absent)
    "hypothesis": "hypothesis", "transformers": "transformers", "sympy": "sympy",
    "networkx": "networkx", "tqdm": "tqdm", "model_explorer": "ai-edge-model-explorer",
    "playwright": "playwright", "diffusers": "diffusers", "safetensors": "safetensors",
    "ray": "ray[default]",
}  # fmt: skip

COMMANDS = [analyze, trace, report, validate, zoo, explore, claims, cost, expand, census]


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
        with torch_quiet(options.debug) as silence:
            if "torch" not in sys.modules:  # seconds on a cold start: say so
                with options.progress.task("loading torch"):
                    import torch
            silence()  # importing torch set its loggers' levels afresh
            if not options.debug:  # vmap's note that an op runs unbatched is torch's concern
                import torch

                torch._C._functorch._set_vmap_fallback_warning_enabled(False)
            check_common(options)
            code = int(options.run(options) or 0)
            sys.stdout.flush()  # a reader that left (`| head`) shows here, not at exit
            return code
    except BrokenPipeError:
        return _closed_pipe()
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


def _closed_pipe() -> int:
    """The reader of stdout left (``analyzer zoo | head -1``): stop quietly, as a Unix tool
    killed by SIGPIPE does, and point stdout at /dev/null so that Python's own flush at exit
    finds nowhere to fail."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return CLOSED_PIPE


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


def _parser() -> argparse.ArgumentParser:
    import analyzer

    parser = argparse.ArgumentParser(
        prog="analyzer",
        description="Tell what kind of circuit a PyTorch model is, with evidence: its "
        "primitive set, every input-by-input product, its polynomial degree.",
        epilog="Exit codes: 0 success, 1 `validate --strict` disagreement, 2 bad input, "
        "3 the model could not be traced, 4 a program the tool needs is missing, "
        "5 internal error. `analyzer COMMAND --help` shows a command's options. What every "
        "word of the output and every JSON field means: docs/index.md in the project's "
        "source (concepts.md, cli.md, json.md, claims.md).",
    )
    parser.add_argument("--version", action="version", version=f"analyzer {analyzer.__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks on errors, and torch's log messages"
    )
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="print no progress and no summary"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(commands)
    return parser
