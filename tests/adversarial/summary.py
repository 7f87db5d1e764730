"""Print, per case, what ``analyze`` and ``validate`` said against the truth, and the totals.

Run from the repository root::

    python -m tests.adversarial.summary              # every case
    python -m tests.adversarial.summary glu prod     # cases whose name contains a word
    python -m tests.adversarial.summary --oracle     # also re-measure each truth

Each case gets one line per finding: ``exact``, ``over-approximated (…)`` or
``FALSE CLAIM (…)`` for ``analyze`` (plus ``module changed`` when it changed the caller's
module), and what was wrong with ``validate`` (a crash, a refusal, agreeing with a false
claim, a mis-measured degree, a changed module).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from typing import TextIO

import torch

from tests.adversarial.catalogue import CLASSES, Case, all_cases
from tests.adversarial.judge import analyze_case, validate_case
from tests.adversarial.oracle import Oracle


def summarise(cases: Sequence[Case], out: TextIO, *, oracle: bool = False) -> Counter[str]:
    """Write the per-case lines and the totals to ``out``; return the totals."""
    totals: Counter[str] = Counter()
    for case in cases:
        analysis = analyze_case(case)
        validation = validate_case(case)
        status = analysis.status
        totals[status] += 1
        totals[f"{case.group}:{status}"] += 1
        detail = analysis.false_claims + analysis.broken if status == "FALSE CLAIM" else []
        if status == "over-approximated":
            detail = analysis.over
        elif status in ("crashed", "refused"):
            detail = [analysis.error or ""]
        out.write(f"{case.name:38s} {case.group:9s} {status}")
        out.write(f" ({'; '.join(detail)})\n" if detail else "\n")
        if analysis.changed:
            totals["analyze changed the module"] += 1
            out.write(f"{'':48s} analyze changed the module: {'; '.join(analysis.changed)}\n")
        problems = validation.problems(analysis)
        for kind in ("crash", "refused", "agrees with a false claim", "measured degree"):
            if any(p.startswith(kind) for p in problems):
                totals[f"validate {kind}"] += 1
        if validation.changed:
            totals["validate changed the module"] += 1
        if problems:
            out.write(f"{'':48s} validate: {'; '.join(problems)}\n")
        if oracle:
            module, args, kwargs = case.build()
            measured = Oracle(module, args, kwargs, sources=case.sources, step=case.step).measure()
            out.write(f"{'':48s} oracle: {measured}\n")
    _totals(cases, totals, out)
    return totals


def _totals(cases: Sequence[Case], totals: Counter[str], out: TextIO) -> None:
    statuses = ("exact", "over-approximated", "FALSE CLAIM", "refused", "crashed")
    out.write(f"\n{len(cases)} cases: ")
    out.write(", ".join(f"{s} {totals[s]}" for s in statuses) + "\n")
    for group, title in CLASSES.items():
        count = sum(1 for c in cases if c.group == group)
        if count:
            per = ", ".join(
                f"{s} {totals[f'{group}:{s}']}" for s in statuses if totals[f"{group}:{s}"]
            )
            out.write(f"  {title}: {count} cases: {per}\n")
    for key in (
        "analyze changed the module",
        "validate crash",
        "validate refused",
        "validate agrees with a false claim",
        "validate measured degree",
        "validate changed the module",
    ):
        label = "validate mis-measured the degree" if key == "validate measured degree" else key
        out.write(f"{label}: {totals[key]}\n")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """The command line: optional name filters, ``--oracle``."""
    parser = argparse.ArgumentParser(prog="python -m tests.adversarial.summary")
    parser.add_argument("words", nargs="*", help="only cases whose name contains one of these")
    parser.add_argument("--oracle", action="store_true", help="re-measure each case's truth")
    options = parser.parse_args(argv)
    cases = [
        c for name, c in sorted(all_cases().items())
        if not options.words or any(w in name for w in options.words)
    ]  # fmt: skip
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: the thread pool costs more than the work
    try:
        summarise(cases, out or sys.stdout, oracle=options.oracle)
    finally:
        torch.set_num_threads(threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
