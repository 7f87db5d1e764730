"""``analyzer zoo``: analyse the reference models and print (or write) their verdicts."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from analyzer.cli.options import add_common_options, done


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "zoo", help="analyse the reference models and print their verdicts",
        description="Analyse every model of the reference zoo (small models of each "
        "primitive set) and print the verdicts computed now, flagging any that differ "
        "from the documented ones; optionally write every model's report and trace.",
    )  # fmt: skip
    add_common_options(parser)
    parser.add_argument(
        "--out", metavar="DIR", help="write every zoo model's report and an index page to DIR"
    )
    parser.add_argument("--traces", metavar="DIR", help="store every zoo model's trace in DIR")
    parser.set_defaults(run=run)


def run(options: argparse.Namespace) -> int:
    from analyzer.output import check_writable_folder
    from analyzer.render.zoo import analyse_zoo, write_zoo_reports, zoo_table

    for option, folder in (("--out", options.out), ("--traces", options.traces)):
        if folder is not None:
            check_writable_folder(folder, option)
    results = analyse_zoo(progress=options.progress)
    if not options.quiet:
        print(zoo_table(results))
    if options.traces is not None:
        from analyzer.frontend.storage import save_trace

        folder = Path(options.traces)
        folder.mkdir(parents=True, exist_ok=True)
        for name, result in results.items():
            save_trace(result.traced, folder / f"{name}.json")
        options.progress.note(f"wrote {len(results)} traces to {folder}")
    if options.out is not None:
        write_zoo_reports(options.out, results, progress=options.progress)
    done(options, f"wrote the zoo's reports to {options.out}" if options.out else "done")
    return 0
