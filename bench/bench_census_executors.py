"""Seconds per type of ``analyzer census`` with the local process pool and with the Ray
executor on a local cluster, on the same types and the same number of workers (ratio
printed); optionally with ``--validate``.

    .venv/bin/python bench/bench_census_executors.py                       # 6 types
    .venv/bin/python bench/bench_census_executors.py --types gpt2,bert,vit --validate
    .venv/bin/python bench/bench_census_executors.py --address auto        # a running cluster

The machine's load average is printed first: on a shared machine the figures are
provisional. Both runs start cold (worker processes import torch and transformers), as a
user's census does; the Ray figure includes starting the local cluster.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from analyzer.census import CensusOptions, run_census
from analyzer.census_ray import RayExecutor
from analyzer.census_validation import ValidationBudget

DEFAULT_TYPES = "gpt2,bert,vit,llama,t5,clip"


def timed(types: list[str], options: CensusOptions, executor=None) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        document = run_census(out, types, options, executor=executor)
        return time.perf_counter() - started, document


def verdicts(document: dict) -> dict[str, str]:
    return {
        t: (r.get("validation") or {}).get("verdict", r["category"])
        for t, r in document["models"].items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--types", default=DEFAULT_TYPES, help="comma-separated model types")
    parser.add_argument("--workers", type=int, default=2, help="workers (and Ray CPUs)")
    parser.add_argument("--validate", action="store_true", help="validate each type too")
    parser.add_argument("--address", help="a running Ray cluster (default: a local one)")
    options = parser.parse_args()
    types = [t for t in options.types.split(",") if t]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {len(types)} types")
    settings = CensusOptions(
        workers=options.workers, reports=False, timeout=600,
        validate=ValidationBudget(seconds=600) if options.validate else None,
    )  # fmt: skip
    local, first = timed(types, settings)
    print(f"local pool: {local:.1f} s ({local / len(types):.1f} s per type)")
    init = {} if options.address else {"num_cpus": options.workers}
    ray_seconds, second = timed(types, settings, RayExecutor(options.address, init=init))
    print(f"ray:        {ray_seconds:.1f} s ({ray_seconds / len(types):.1f} s per type)")
    print(f"ray / local: {ray_seconds / local:.2f}")
    same = verdicts(first) == verdicts(second)
    print(f"same results: {same}" + ("" if same else f" ({verdicts(first)} vs {verdicts(second)})"))


if __name__ == "__main__":
    main()
