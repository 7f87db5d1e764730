"""Options and steps that several commands share: the model spec and how to build,
feed and trace it, the training-step flags, output checks, and the closing line."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from typing import Any

from analyzer.errors import SpecError, TraceError


def warn_user(text: str) -> None:
    """A warning the user must see even with ``--quiet`` (loading a pickle runs its code)."""
    print(f"analyzer: warning: {text}", file=sys.stderr)


def check_common(options: argparse.Namespace) -> None:
    """Checks every subcommand shares, before any slow work: the device exists here."""
    if getattr(options, "device", None) is not None:
        from analyzer.frontend.specs import check_device

        check_device(options.device)


# --- options shared by subcommands ------------------------------------------------


def add_common_options(parser: argparse.ArgumentParser) -> None:
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


SPEC_HELP = (
    "zoo:NAME, hf:MODEL_TYPE, diffusers:CLASS, a checkpoint FOLDER (config.json, or "
    "model_index.json with --component; safetensors weights), a saved program FILE.pt2, "
    "FILE.py:NAME or package.module:NAME"
)


def add_model_options(
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
        help="override a config field of an hf: or diffusers: model or a checkpoint folder, "
        "e.g. num_hidden_layers=2; repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--component", metavar="NAME", default=None,
        help="for a diffusers pipeline folder (model_index.json): the component to analyse, "
        "e.g. vae or text_encoder (default: the main one: unet, transformer, prior, decoder, "
        "then vae)",
    )  # fmt: skip
    parser.add_argument(
        "--trust-pickle", action="store_true",
        help="load a module pickled by torch.save (FILE.pt): this runs code the file names",
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
    add_training_options(parser)


def add_training_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training step (docs/concepts.md)")
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


def check_output_file(option: str, path: str | None) -> None:
    """Fail before the slow work, not after it, when an output file cannot be written."""
    from analyzer.output import check_writable

    if path is not None:
        check_writable(path, option)


def is_stored_trace(spec: str) -> bool:
    return spec.endswith(".json")


def provenance(options: argparse.Namespace, loaded: Any) -> dict[str, Any]:
    """What a reader needs to reproduce the run: the spec and every override, the seed,
    the device, the requested frontend, the versions and the command line itself."""
    from analyzer.frontend.specs import parse_config, versions

    record: dict[str, Any] = {"spec": options.spec}
    if getattr(options, "component", None):
        record["component"] = options.component
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


def traced_from_options(options: argparse.Namespace) -> Any:
    """Load a stored trace, or build and trace the model a spec names."""
    progress = options.progress
    if is_stored_trace(options.spec):
        from analyzer.frontend.storage import load_trace

        if (options.input or options.config or options.kwarg or options.training
                or options.mode or options.component):  # fmt: skip
            raise SpecError(
                "--input, --kwarg, --config, --component, --training and --mode do not apply "
                "to a stored trace: it is already traced"
            )
        with progress.task(f"loading trace {options.spec}"):
            return load_trace(options.spec)
    import torch

    from analyzer.frontend.specs import load_model
    from analyzer.frontend.tracing import trace

    torch.manual_seed(options.seed)  # random weights and example inputs: reproducible
    step = training_step(options)
    with progress.task(f"building {options.spec}"):
        loaded = load_model(
            options.spec, inputs=options.input, config=options.config, device=options.device,
            kwargs=options.kwarg, trust_pickle=options.trust_pickle,
            warn=warn_user,
            component=options.component, **hf_sizes(options),
            # the export below runs the forward as the input probe would: a failure probes
            probe=step is not None or options.frontend not in ("auto", "export"),
        )  # fmt: skip
    for warning in loaded.warnings:
        progress.note(f"note: {warning}")
    what = "a training step of " if step else ""

    def traced_model(loaded: Any) -> Any:
        frontend = "export" if loaded.unprobed else options.frontend
        with progress.task(f"tracing {what}{loaded.label} (frontend {frontend})"):
            return trace(
                loaded.module, loaded.args, frontend=frontend, model=loaded.label,
                example_kwargs=loaded.kwargs, mode=options.mode, training=step,
            )  # fmt: skip

    while True:
        try:
            traced = traced_model(loaded)
            break
        except TraceError as error:  # hf: unprobed inputs get probed ones; meta gets the cpu
            again = loaded.retry(error) if loaded.retry else None
            if again is None:
                raise
            said = [w for w in again.warnings if w not in loaded.warnings]
            loaded = again
            said = said or ["export failed on the first synthesised inputs; probed them"]
            progress.note(f"note: {'; '.join(said)}; tracing again")
    traced.warnings[:0] = loaded.warnings
    traced.metadata.update(provenance(options, loaded))
    options.loaded = loaded  # for commands that need the module itself (explore)
    return traced


def hf_sizes(options: argparse.Namespace) -> dict[str, Any]:
    """--seq-len, --batch and --image-size as given (load_model refuses them for models it
    does not build: a factory, a saved program)."""
    return {"seq_len": options.seq_len, "batch": options.batch, "image_size": options.image_size}


def analysed(options: argparse.Namespace) -> Any:
    from analyzer.analysis import analyze_traced

    traced = traced_from_options(options)
    with options.progress.task(f"analysing {len(traced.graph.nodes)} nodes"):
        return analyze_traced(traced)


def done(options: argparse.Namespace, what: str) -> None:
    """The closing line: what was written and the whole command's time, with the steps
    that took it (not only the last step's)."""
    total = time.perf_counter() - options.started
    steps = ", ".join(
        f"{description.split(' ')[0]} {seconds:.1f} s"
        for description, seconds in options.progress.timings
        if seconds >= 0.05
    )
    options.progress.note(f"{what} in {total:.1f} s" + (f" ({steps})" if steps else ""))
