"""``analyzer explore``: open a model in Google Model Explorer with the analysis overlaid."""

from __future__ import annotations

import argparse
from typing import Any

from analyzer.cli.options import (
    add_common_options,
    add_model_options,
    analysed,
    is_stored_trace,
)
from analyzer.errors import SpecError


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "explore", help="open a model in Google Model Explorer with the analysis overlaid",
        description="Start Model Explorer (the ai-edge-model-explorer package) on localhost "
        "with the exported program and the analysis's node data (primitive class, site "
        "kind, dependence, degree) as overlays: a WebGL viewer for very large graphs.",
    )  # fmt: skip
    add_common_options(parser)
    add_model_options(parser, stored_trace=False)
    parser.add_argument(
        "--port", type=int, default=8080, help="port on localhost (default: %(default)s)"
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="start the server without opening a browser"
    )
    parser.set_defaults(run=run)


def run(options: argparse.Namespace) -> int:
    from analyzer.render.explorer import explorer_module, start_explorer

    if is_stored_trace(options.spec):
        raise SpecError("Model Explorer draws an exported program: give a model spec")
    explorer_module()  # fails early, saying how to install it
    result = analysed(options)
    import torch

    loaded = options.loaded
    with options.progress.task("exporting the program for Model Explorer"):
        program = torch.export.export(
            loaded.module, tuple(loaded.args), kwargs=dict(loaded.kwargs), strict=False
        )
        program.example_inputs = None  # its adapter would print weights: meta has none
    start_explorer(
        result, program, port=options.port, open_browser=not options.no_browser,
        announce=lambda url: options.progress.note(f"Model Explorer: {url} (ctrl-c stops it)"),
    )  # fmt: skip
    return 0
