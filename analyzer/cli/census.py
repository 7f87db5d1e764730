"""``analyzer census``: analyse every transformers architecture in parallel."""

from __future__ import annotations

import argparse
from typing import Any

from analyzer.cli.options import add_common_options, done
from analyzer.errors import SpecError


def add_parser(commands: Any) -> None:
    census = commands.add_parser(
        "census", help="analyse every transformers architecture (or diffusers model class) in "
        "parallel",
        description="Build every AutoModel type of the installed transformers with a shrunk "
        "config on the meta device, analyse each in a worker process, and write census.json, "
        "census.csv and a sortable index.html (resumable).",
    )  # fmt: skip
    add_common_options(census)
    census.add_argument("--out", required=True, metavar="DIR", help="the census folder")
    census.add_argument(
        "--source", default="transformers", choices=["transformers", "diffusers", "all"],
        help="the architectures: every transformers AutoModel type (default), every "
        "diffusers model class, or both",
    )  # fmt: skip
    census.add_argument(
        "--types", metavar="A,B,…",
        help="only these model types or diffusers classes (default: all of --source)",
    )  # fmt: skip
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
    census.add_argument(
        "--validate", action="store_true",
        help="validate each analysed type on the real (shrunk) model, in its worker",
    )  # fmt: skip
    census.add_argument(
        "--validate-samples", type=int, default=4, metavar="N",
        help="samples per type's validation (default: %(default)s)",
    )  # fmt: skip
    census.add_argument(
        "--validate-timeout", type=float, default=120.0, metavar="S",
        help="seconds per type's validation, on top of --timeout (default: %(default)s)",
    )  # fmt: skip
    census.add_argument(
        "--validate-device", default="cpu", metavar="DEV",
        help="where each worker validates: cpu or cuda (default: %(default)s)",
    )  # fmt: skip
    census.add_argument(
        "--crossover", type=float, default=0.0, metavar="S", nargs="?", const=60.0,
        help="also solve for the sequence length where input-by-input contractions cost as "
        "much as static ones, S seconds per type (default when given: 60)",
    )  # fmt: skip
    census.add_argument(
        "--executor", default="local", choices=["local", "ray"],
        help="local worker processes (default), or one Ray task per type",
    )  # fmt: skip
    census.add_argument(
        "--address", metavar="ADDR",
        help="the Ray cluster (default: RAY_ADDRESS, else a local cluster)",
    )  # fmt: skip
    census.add_argument(
        "--gpus", type=float, default=0.0, metavar="G",
        help="GPUs per Ray task (default: %(default)s)",
    )  # fmt: skip
    census.set_defaults(run=run)


def run(options: argparse.Namespace) -> int:
    from analyzer.census import CensusOptions, run_census
    from analyzer.census_validation import ValidationBudget
    from analyzer.output import check_writable_folder

    if options.seq_len < 1:
        raise SpecError(f"--seq-len {options.seq_len}: must be at least 1")
    if options.memory <= 0:
        raise SpecError(f"--memory {options.memory}: must be positive (GB)")
    if options.workers < 1:
        raise SpecError(f"--workers {options.workers}: must be at least 1")
    if options.timeout <= 0:
        raise SpecError(f"--timeout {options.timeout}: must be positive (seconds)")
    if options.validate_samples < 1:
        raise SpecError(f"--validate-samples {options.validate_samples}: must be at least 1")
    if options.validate_timeout <= 0:
        raise SpecError(f"--validate-timeout {options.validate_timeout}: must be positive")
    if options.crossover < 0:
        raise SpecError(f"--crossover {options.crossover}: must not be negative (seconds)")
    if options.gpus < 0:
        raise SpecError(f"--gpus {options.gpus}: must not be negative")
    if options.address and options.executor != "ray":
        raise SpecError("--address names a Ray cluster: give --executor ray with it")
    check_writable_folder(options.out, "--out")
    executor = None
    if options.executor == "ray":
        from analyzer.census_ray import RayExecutor

        executor = RayExecutor(address=options.address, gpus=options.gpus)
    types = [t.strip() for t in options.types.split(",") if t.strip()] if options.types else None
    settings = CensusOptions(
        shrink=None if options.shrink == "none" else options.shrink, seq_len=options.seq_len,
        timeout=options.timeout, workers=options.workers, reports=not options.no_reports,
        memory_gb=options.memory, crossover=options.crossover,
        validate=ValidationBudget(
            samples=options.validate_samples, seconds=options.validate_timeout,
            device=options.validate_device,
        ) if options.validate else None,
    )  # fmt: skip
    extra: dict[str, Any] = {}
    if options.source != "transformers":  # diffusers classes: their enumeration and worker
        from analyzer.census_diffusers import analyse_any, source_types

        types, extra = source_types(options.source, types), {"analyse": analyse_any}
    document = run_census(
        options.out, types, settings, resume=options.resume, progress=options.progress,
        executor=executor, **extra,
    )  # fmt: skip
    summary = document["summary"]
    if not options.quiet:
        print(
            f"{summary['analysed']} of {summary['types']} types analysed, {summary['clean']} "
            f"with every op known: {100 * summary['clean_share_of_eligible']:.1f}% of the "
            f"{summary['eligible']} whose default config builds and whose packages are installed"
        )
        print("by category: " + ", ".join(f"{c} {n}" for c, n in summary["by_category"].items()))
        checked = summary.get("validation")
        if checked:
            print(
                f"validated {checked['validated']}: "
                + ", ".join(f"{v} {n}" for v, n in checked["by_verdict"].items())
                + f"; claims confirmed for {100 * checked['confirmed_share']:.1f}% "
                f"({checked['seconds']:.0f} s validating)"
            )
            if checked["disagrees"]:
                print("disagrees: " + ", ".join(checked["disagrees"]))
        if summary["unknown_ops"]:
            print("unknown ops: " + ", ".join(
                f"{op} ({len(found)})" for op, found in summary["unknown_ops"].items()
            ))  # fmt: skip
    done(options, f"wrote {options.out}/index.html, census.json and census.csv")
    return 0
