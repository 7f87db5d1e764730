"""The seed suite's mutation score: each mutation of analyzer.claims.mutations applied in
turn, and whether every claim, part or caveat it targets stops being as expected.

    python bench/bench_claims_mutations.py [--examples N]

Prints one line per (mutation, target) with caught / missed and the verdict, then the
score caught / total. Exit 1 when a mutation slips through.
"""

from __future__ import annotations

import argparse
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10, help="drawn models per family")
    options = parser.parse_args()
    import logging

    from analyzer.claims.mutations import MUTATIONS, caught

    logging.getLogger("torch").setLevel(logging.ERROR)
    started = time.perf_counter()
    total = found = 0
    for mutation in MUTATIONS:
        for target in mutation.targets:
            total += 1
            hit, verdict = caught(mutation, target, examples=options.examples)
            found += hit
            mark = "caught" if hit else "MISSED"
            print(f"{mark:6}  {target:22}  {mutation.name}: {verdict[:150]}", flush=True)
    print(f"mutation score: {found}/{total} caught ({time.perf_counter() - started:.0f} s)")
    return 0 if found == total else 1


if __name__ == "__main__":
    sys.exit(main())
