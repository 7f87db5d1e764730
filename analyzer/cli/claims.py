"""``analyzer claims``: run claims about architectures (the seed's suite or claim files)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from analyzer.cli.options import add_common_options, check_output_file, done
from analyzer.errors import SpecError


def add_parser(commands: Any) -> None:
    claims = commands.add_parser(
        "claims", help="test claims about architectures (the seed's suite, or your FILE.py)"
    )
    add_common_options(claims)
    claims.add_argument("files", nargs="*", metavar="FILE.py", help="claim files to run")
    claims.add_argument(
        "--suite", choices=["seed"], default=None,
        help="a built-in suite (default: seed when no FILE.py is given)",
    )  # fmt: skip
    claims.add_argument(
        "--examples", type=int, default=None, metavar="N",
        help="drawn models per family claim (default: the claim's own, else 25)",
    )  # fmt: skip
    claims.add_argument(
        "--seed", type=int, default=0, help="hypothesis and weight seed (default 0)"
    )
    claims.add_argument(
        "--device", default=None, help="where models are validated and identities measured "
        "(default: cuda when present, else cpu)",
    )  # fmt: skip
    claims.add_argument("--json", metavar="PATH", help="write the analyzer.claims/1 JSON")
    claims.add_argument("--report", metavar="DIR", help="write index.html and claims.json to DIR")
    claims.add_argument(
        "--strict", action="store_true",
        help="exit 1 when a verdict (a part's or a caveat's included) differs from its expect",
    )  # fmt: skip
    claims.add_argument(
        "--no-confirm", dest="confirm", action="store_false",
        help="take family counterexamples as the static analysis gives them, without "
        "confirming them with validate (faster; verdicts read 'not checked')",
    )  # fmt: skip
    claims.add_argument(
        "--database", metavar="DIR", default=None,
        help="a folder where hypothesis keeps failing examples and replays them first "
        "(default: none kept)",
    )  # fmt: skip
    claims.add_argument(
        "--weights", metavar="FOLDER", default=None,
        help="a checkpoint folder (what save_pretrained writes) whose trained weights the "
        "measurements that need them use, on the cpu (S7's activation sparsity); without, "
        "they use random weights and say so",
    )  # fmt: skip
    claims.set_defaults(run=run)


def run(options: argparse.Namespace) -> int:
    from analyzer.claims.loading import load_claims
    from analyzer.claims.runner import resolve_device, run_claims
    from analyzer.claims.seed import SUITES
    from analyzer.output import write_json_atomic
    from analyzer.render.claims import render_claims_text, write_claims_report

    check_output_file("--json", options.json)
    if options.report is not None and Path(options.report).is_file():
        raise SpecError(f"--report {options.report!r} is a file; give a folder")
    if options.examples is not None and options.examples < 1:
        raise SpecError(f"--examples {options.examples}: give at least 1")
    if options.seed < 0:
        raise SpecError(f"--seed {options.seed}: give a non-negative int")
    device = resolve_device(options.device)
    weights = None
    if options.weights is not None:
        from analyzer.claims.weights import load_trained

        options.progress.note(f"loading the trained weights of {options.weights}")
        weights = load_trained(options.weights)
    claims = [c for path in options.files for c in load_claims(path)]
    suite = options.suite or (None if options.files else "seed")
    if suite is not None:
        claims = SUITES[suite]() + claims

    options.progress.note(f"running {len(claims)} claim(s) on {device}")
    report = run_claims(
        claims, examples=options.examples, seed=options.seed, device=device,
        progress=options.progress, confirm=options.confirm, database=options.database,
        weights=weights,
    )  # fmt: skip
    if not options.quiet:
        print(render_claims_text(report))
    written = []
    if options.json is not None:
        write_json_atomic(options.json, report.to_json())
        written.append(options.json)
    if options.report is not None:
        folder = write_claims_report(report, options.report, title=_claims_title(suite, options))
        written.append(f"{folder}/index.html")
    done(options, f"wrote {', '.join(written)}" if written else "done")
    return 1 if options.strict and not report.as_expected else 0


def _claims_title(suite: str | None, options: argparse.Namespace) -> str:
    parts = ([f"the {suite} suite"] if suite else []) + [Path(f).name for f in options.files]
    return "Claims: " + ", ".join(parts)
