"""``analyzer expand``: run a tiny instance on sympy symbols and print exact polynomials."""

from __future__ import annotations

import argparse
from typing import Any

from analyzer.cli.options import (
    add_common_options,
    add_model_options,
    check_output_file,
    done,
    is_stored_trace,
    traced_from_options,
)
from analyzer.errors import SpecError


def add_parser(commands: Any) -> None:
    expand = commands.add_parser(
        "expand", help="run a tiny instance on sympy symbols: exact polynomials and degree"
    )
    add_common_options(expand)
    add_model_options(
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
    expand.set_defaults(run=run)


def run(options: argparse.Namespace) -> int:
    from analyzer.analysis import analyze_traced
    from analyzer.output import write_json_atomic
    from analyzer.render.expand import expand_text
    from analyzer.symbolic.expand import expand_traced

    check_output_file("--json", options.json)
    if options.show < 0:
        raise SpecError(f"--show {options.show}: must be 0 or more")
    if options.max_inputs < 1 or options.max_terms < 1:
        raise SpecError("--max-inputs and --max-terms must be at least 1")
    if is_stored_trace(options.spec):
        raise SpecError("a stored trace has no weights to expand: give the model spec")
    if options.device == "meta":
        raise SpecError("--device meta holds no weights: expand needs cpu (the default)")
    if options.device is None:
        options.device = "cpu"
    result = analyze_traced(traced_from_options(options))
    expansion = expand_traced(
        result, max_inputs=options.max_inputs, max_terms=options.max_terms,
        progress=options.progress,
    )  # fmt: skip
    if not options.quiet:
        print(expand_text(expansion, show=options.show))
    if options.json is not None:
        write_json_atomic(options.json, expansion.to_json())
    done(options, f"wrote {options.json}" if options.json else "done")
    return 0
