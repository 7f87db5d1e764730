"""The registry against PyTorch's OpInfo database: coverage and rules verified.

Every OpInfo of ``op_db`` that runs in float64 on the CPU, up to six samples each, is traced
with the tool's own ``trace()``, analysed, and checked against a float64 numeric oracle
(``tests/passes/opinfo_oracle.py``). Prints the aten ops exercised, how many the registry
knows (coverage), the numeric checks passed, the registry ops verified, the exceptions and
any violation.

    .venv/bin/python bench/bench_opinfo.py                 # the full sweep
    .venv/bin/python bench/bench_opinfo.py --samples 2 --ops mul pow cov
    .venv/bin/python bench/bench_opinfo.py --no-numeric    # coverage only (tracing)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.passes.opinfo_oracle import EXCEPTIONS, UNCOVERED, sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=6, help="samples per OpInfo (6)")
    parser.add_argument("--ops", nargs="*", help="only these OpInfo names")
    parser.add_argument("--no-numeric", action="store_true", help="trace only: coverage")
    options = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    print(f"load average {os.getloadavg()[0]:.1f} (a shared machine makes timings provisional)")
    started = time.perf_counter()
    report = sweep(options.ops, options.samples, numeric=not options.no_numeric)
    seconds = time.perf_counter() - started
    unknown = sorted(report.exercised - report.known)
    print(f"cases: {report.cases} samples in {seconds:.0f} s; skipped: {report.skipped}")
    print(f"aten ops exercised: {len(report.exercised)}; known to the registry: "
          f"{len(report.known)}; coverage: {100 * report.coverage:.1f}%")  # fmt: skip
    print(f"numeric checks passed: {report.checks}; registry ops verified (a check ran on "
          f"a sample using them and none failed): {len(report.verified_ops)}")  # fmt: skip
    print(f"unknown ops ({len(unknown)}):")
    for name in unknown:
        print(f"  {name}: {UNCOVERED.get(name, 'no reason listed')}")
    print(f"exceptions ({len(EXCEPTIONS)}):")
    for (name, check), reason in sorted(EXCEPTIONS.items()):
        print(f"  {name} [{check}]: {reason}")
    print(f"violations ({len(report.violations)}):")
    for violation in report.violations:
        print(f"  {violation}")


if __name__ == "__main__":
    main()
