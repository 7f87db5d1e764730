"""Speed of ``analyzer census``: two worker processes against one (what a user running the
types one after another in one process gets, imports paid once), and the whole census
against its target of 30 minutes on a 2-core machine.

    .venv/bin/python bench/bench_census.py                # a sample of 60 types, 2 vs 1 worker
    .venv/bin/python bench/bench_census.py --sample 120
    .venv/bin/python bench/bench_census.py --full --out reports/census   # every type

The machine's load average is printed first: on a shared machine the figures are
provisional (other processes take the cores the workers need).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from analyzer.census import CensusOptions, census_types, run_census

TARGET_MINUTES = 30.0


def timed(out: str, types: list[str] | None, workers: int) -> tuple[float, dict]:
    started = time.perf_counter()
    document = run_census(out, types, CensusOptions(workers=workers, reports=False))
    return time.perf_counter() - started, document


def figures(document: dict) -> str:
    summary = document["summary"]
    return (
        f"{summary['analysed']}/{summary['types']} analysed, {summary['clean']} with every op "
        f"known ({100 * summary['clean_share_of_eligible']:.1f}% of {summary['eligible']} "
        f"eligible); {summary['by_category']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=60, help="types in the sample (spread)")
    parser.add_argument("--full", action="store_true", help="run every AutoModel type")
    parser.add_argument("--out", help="keep the census here (default: a temporary folder)")
    options = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    every = census_types()
    if options.full:
        out = options.out or tempfile.mkdtemp(prefix="census-")
        seconds, document = timed(out, None, 2)
        minutes = seconds / 60
        share = minutes / TARGET_MINUTES
        print(f"full census: {len(every)} types in {minutes:.1f} min with 2 workers "
              f"({share:.2f}x the {TARGET_MINUTES:.0f}-minute target)")  # fmt: skip
        print(figures(document))
        print(f"written to {out}")
        return
    step = max(1, len(every) // options.sample)
    sample = every[::step][: options.sample]
    with tempfile.TemporaryDirectory() as two, tempfile.TemporaryDirectory() as one:
        parallel, document = timed(two, sample, 2)
        serial, _ = timed(one, sample, 1)
    projected = parallel / len(sample) * len(every) / 60
    print(f"{len(sample)} types: 2 workers {parallel:.0f} s, 1 worker {serial:.0f} s: "
          f"{serial / parallel:.2f}x faster in parallel")  # fmt: skip
    share = projected / TARGET_MINUTES
    print(f"projected full census ({len(every)} types): {projected:.1f} min "
          f"({share:.2f}x the {TARGET_MINUTES:.0f}-minute target)")  # fmt: skip
    print(figures(document))


if __name__ == "__main__":
    main()
