"""``analyzer validate``: check the static claims by differentiating the real model."""

from __future__ import annotations

import argparse
from typing import Any

from analyzer.cli.options import (
    add_common_options,
    add_model_options,
    check_output_file,
    done,
    hf_sizes,
    is_stored_trace,
    training_step,
    warn_user,
)
from analyzer.errors import SpecError, TraceError


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "validate", help="check the static claims by differentiating the real model",
        description="Build the model with random weights, cast to float64, and check the "
        "static analysis's claims (dependence, degree, sites, cross-entry terms) with "
        "automatic differentiation.",
    )  # fmt: skip
    add_common_options(parser)
    add_model_options(
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
        "--executor", default="local", choices=["local", "ray"],
        help="with --blockwise: validate the blocks here (default) or as Ray tasks",
    )  # fmt: skip
    parser.add_argument(
        "--address", metavar="ADDR",
        help="the Ray cluster (default: RAY_ADDRESS, else a local cluster)",
    )  # fmt: skip
    parser.add_argument(
        "--all-blocks", action="store_true",
        help="with --blockwise: validate every block, not one per structure",
    )  # fmt: skip
    parser.add_argument(
        "--no-vmap", action="store_true", help="loop over samples in Python (for comparison)"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a measurement disagrees (for CI)"
    )
    parser.epilog = (
        "A model no frontend can trace is measured alone (its degree, from its values): "
        "the report says 'not compared' and the command exits 3."
    )
    parser.set_defaults(run=run)


def run(options: argparse.Namespace) -> int:
    from analyzer.empirical.validate import check_options, default_device, validate
    from analyzer.frontend.specs import load_model
    from analyzer.output import write_json_atomic
    from analyzer.render.validation import render_validation

    check_output_file("--json", options.json)
    if options.executor == "ray" and not options.blockwise:
        raise SpecError("--executor ray validates the blocks of a model: give --blockwise")
    if (options.address or options.all_blocks) and not options.blockwise:
        raise SpecError("--address and --all-blocks go with --blockwise")
    if is_stored_trace(options.spec):
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
            kwargs=options.kwarg, trust_pickle=options.trust_pickle,
            warn=warn_user,
            component=options.component, **hf_sizes(options),
        )  # fmt: skip
    for warning in loaded.warnings:
        progress.note(f"note: {warning}")
    if streamed:
        from analyzer.frontend.hf_probe import inputs_on

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
        blocks = "all" if options.all_blocks else "distinct"
        if options.executor == "ray":
            from analyzer.blockwise_ray import validate_blockwise_ray

            common["device"] = options.device or "cpu"  # the workers' device, not this one's
            result = validate_blockwise_ray(
                loaded.module, loaded.args, address=options.address, blocks=blocks, **common
            )
            text = result.text()
        else:
            result = validate_blockwise(loaded.module, loaded.args, blocks=blocks, **common)
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
    done(options, f"wrote {options.json}" if options.json else "done")
    if not options.blockwise and not result.compared:
        # measured, but no claim was confirmed: the exit code of a model that cannot be traced
        warn_user(
            f"{result.untraced.rstrip('.')}. No static claim was checked: the report is of "
            "the model alone (exit 3)"
        )
        return TraceError.exit_code
    return 1 if options.strict and not result.agree else 0
