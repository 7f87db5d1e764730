"""``analyzer cost``: multiply-adds as formulas in symbolic dimensions."""

from __future__ import annotations

import argparse
from typing import Any

from analyzer.cli.options import (
    add_common_options,
    add_model_options,
    check_output_file,
    done,
    is_stored_trace,
    provenance,
    warn_user,
)
from analyzer.errors import SpecError


def add_parser(commands: Any) -> None:
    cost = commands.add_parser(
        "cost", help="multiply-adds as formulas in symbolic dimensions (static vs dynamic)",
        description="Export with the --dim axes symbolic and give every node's multiply-adds "
        "as a formula, totalled per primitive class and site kind, with static contractions "
        "(a parameter on one side) apart from dynamic ones (input-by-input).",
    )  # fmt: skip
    add_common_options(cost)
    add_model_options(cost, stored_trace=False)
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
    cost.set_defaults(run=run)


def analysed_with_cost(options: argparse.Namespace, solve: bool) -> tuple[Any, Any]:
    """Export with the ``--dim`` axes symbolic, analyse, and give the cost formulas."""
    import torch

    from analyzer.analysis import analyze_traced
    from analyzer.frontend.specs import load_model
    from analyzer.symbolic.cost import cost_of_traced, trace_with_dims
    from analyzer.symbolic.dims import parse_dims

    specs = parse_dims(options.dim)
    if not specs:
        raise SpecError("give at least one --dim NAME=SYMBOL, e.g. --dim seq=N")
    if is_stored_trace(options.spec):
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
            kwargs=options.kwarg, trust_pickle=getattr(options, "trust_pickle", False),
            warn=warn_user,
            component=getattr(options, "component", None),
        )  # fmt: skip
    with progress.task(f"exporting {loaded.label} with symbolic {', '.join(options.dim)}"):
        traced, axes, sizes = trace_with_dims(
            loaded.module, loaded.args, specs, example_kwargs=loaded.kwargs, model=loaded.label,
            hf=options.spec.startswith("hf:"), progress=progress,
        )  # fmt: skip
    traced.metadata.update(provenance(options, loaded))
    with progress.task(f"analysing {len(traced.graph.nodes)} nodes"):
        result = analyze_traced(traced)
    with progress.task("building the formulas"):
        return result, cost_of_traced(result, axes, sizes, solve=solve, progress=progress)


def run(options: argparse.Namespace) -> int:
    from analyzer.output import write_json_atomic, write_text_atomic
    from analyzer.render.cost import cost_svg, cost_text

    check_output_file("--json", options.json)
    check_output_file("--svg", options.svg)
    if options.nodes < 0:
        raise SpecError(f"--nodes {options.nodes}: must be 0 or more")
    _, report = analysed_with_cost(options, solve=options.solve)
    if not options.quiet:
        print(cost_text(report, nodes=options.nodes))
    written = []
    if options.json is not None:
        write_json_atomic(options.json, report.to_json())
        written.append(options.json)
    if options.svg is not None:
        write_text_atomic(options.svg, cost_svg(report))
        written.append(options.svg)
    done(options, f"wrote {', '.join(written)}" if written else "done")
    return 0
