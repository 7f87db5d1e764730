"""Speed of ``analyzer claims``: the seed suite S1–S8 with the default examples, against the
issue's budget (under 5 minutes on the CPU), per claim; and the runner's one-thread choice
against torch's default thread count on the same tiny-model work.

    .venv/bin/python bench/bench_claims.py                 # the CPU (and cuda when present)
    .venv/bin/python bench/bench_claims.py --examples 50

On the GPU the drawn models' validations and the identities run on the device; S5's trained
part runs the seed's full 20k steps there (a reduced 2k-step run on the CPU), so the two
timings measure somewhat different work: the table says which.
"""

from __future__ import annotations

import argparse
import time

import torch

from analyzer.claims.runner import run_claims
from analyzer.claims.seed import seed_suite
from analyzer.claims.seed.s5_icl import train_lsa_against_gd

BUDGET = 300.0  # seconds: the bound for the whole suite on the CPU


def suite(device: str, examples: int | None) -> None:
    report = run_claims(seed_suite(), device=device, examples=examples)
    for result in report.results:
        print(f"  {result.id}  {result.verdict:<18} {result.seconds:6.1f} s")
    ratio = report.seconds / BUDGET
    verdicts = "every verdict as expected" if report.as_expected else "VERDICTS DIFFER"
    print(f"  seed suite on {device}: {report.seconds:.1f} s, {ratio:.2f}x the 300 s budget; "
          f"{verdicts}")  # fmt: skip


def threads() -> None:
    """The same 500 Adam steps of S5's LSA on small batches, one thread vs torch's default."""
    default = torch.get_num_threads()
    timings = {}
    for count in (default, 1):
        torch.set_num_threads(count)
        started = time.perf_counter()
        train_lsa_against_gd("cpu", torch.Generator().manual_seed(0), steps=500, batch=256)
        timings[count] = time.perf_counter() - started
    torch.set_num_threads(default)
    print(f"  tiny-model training, {default} threads {timings[default]:.1f} s, 1 thread "
          f"{timings[1]:.1f} s: ratio {timings[default] / timings[1]:.1f}x")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=None, help="examples per family claim")
    options = parser.parse_args()
    print(f"seed suite, {options.examples or 'default'} examples per family")
    suite("cpu", options.examples)
    if torch.cuda.is_available():
        suite("cuda", options.examples)
    else:
        print("  cuda: no GPU here, not measured")
    threads()


if __name__ == "__main__":
    main()
