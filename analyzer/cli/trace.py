"""``analyzer trace``: store a model's op graph as analyzer.trace/1 JSON."""

from __future__ import annotations

import argparse
from typing import Any

from analyzer.cli.options import (
    SPEC_HELP,
    add_common_options,
    add_model_options,
    check_output_file,
    done,
    is_stored_trace,
    traced_from_options,
)
from analyzer.errors import SpecError


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "trace", help="store a model's op graph as analyzer.trace/1 JSON",
        description="Trace a model and store its op graph (no weights, no pickle), so that "
        "`analyzer analyze FILE.json` re-analyses it without the model.",
    )  # fmt: skip
    add_common_options(parser)
    add_model_options(parser, stored_trace=False)
    parser.add_argument("--out", required=True, metavar="PATH", help="the trace file to write")
    parser.set_defaults(run=run)


def run(options: argparse.Namespace) -> int:
    from analyzer.frontend.storage import save_trace

    if is_stored_trace(options.spec):
        raise SpecError(f"{options.spec!r} is already a trace; give a model spec ({SPEC_HELP})")
    check_output_file("--out", options.out)
    traced = traced_from_options(options)
    save_trace(traced, options.out)
    done(options, f"wrote {options.out} ({len(traced.graph.nodes)} nodes)")
    return 0
