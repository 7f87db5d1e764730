"""``analyzer report``: write a model's report folder (HTML, SVG/DOT, Markdown, JSON)."""

from __future__ import annotations

import argparse
from typing import Any

from analyzer.cli.cost import analysed_with_cost
from analyzer.cli.options import add_common_options, add_model_options, analysed, done
from analyzer.errors import SpecError


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "report", help="write index.html, graph.svg/.dot, report.md and analysis.json",
        description="Analyse a model and write a report folder: one self-contained HTML "
        "page with the graph, the SVG and DOT of the graph, Markdown and the JSON.",
    )  # fmt: skip
    add_common_options(parser)
    add_model_options(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="the report folder")
    parser.add_argument(
        "--level", default="auto", choices=["auto", "ops", "modules"],
        help="draw every op, or one node per module (default: auto = ops when there are at "
        "most 300 and their drawing reads at its width on a 1400-pixel page, else modules)",
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
    parser.set_defaults(run=run)


def run(options: argparse.Namespace) -> int:
    from analyzer.output import check_writable_folder
    from analyzer.render.report import write_report

    if options.depth < 1:
        raise SpecError(f"--depth {options.depth}: must be at least 1")
    check_writable_folder(options.out, "--out")
    cost = None
    if options.dim:  # one export with the dimensions symbolic serves both
        result, cost = analysed_with_cost(options, solve=True)
    else:
        result = analysed(options)
    if not options.quiet:
        from analyzer.render.summary import render_summary

        print(render_summary(result))
    folder = write_report(
        result, options.out, level=options.level, depth=options.depth,
        model_explorer=options.model_explorer, progress=options.progress, cost=cost,
    )  # fmt: skip
    done(options, f"wrote {folder / 'index.html'}")
    return 0
