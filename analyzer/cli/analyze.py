"""``analyzer analyze``: trace a model (or load a stored trace) and print its analysis."""

from __future__ import annotations

import argparse
from typing import Any

from analyzer.cli.options import (
    add_common_options,
    add_model_options,
    analysed,
    check_output_file,
    done,
)


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "analyze", aliases=["analyse"],
        help="trace a model (or load a stored trace) and print its analysis",
        description="Trace a model into an aten op graph, classify every op, find every "
        "input-by-input product and the polynomial degree; print a summary.",
    )  # fmt: skip
    add_common_options(parser)
    add_model_options(parser)
    parser.add_argument("--json", metavar="PATH", help="write the analyzer.analysis/1 JSON")
    parser.add_argument("--graphml", metavar="PATH", help="write the annotated graph as GraphML")
    parser.set_defaults(run=run)


def run(options: argparse.Namespace) -> int:
    from analyzer.output import write_json_atomic

    check_output_file("--json", options.json)
    check_output_file("--graphml", options.graphml)
    result = analysed(options)
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
    done(options, f"wrote {', '.join(written)}" if written else "done")
    return 0
