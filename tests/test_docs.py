"""The docs run: every ``python`` block of ``docs/*.md`` executes (a page's blocks in
order, in one namespace), every ``analyzer …`` command line in them parses, the shown
outputs of the commands marked to run are what the tool prints, and no file of the
project sends the reader to a document that is not in it."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.glob("*.md") if p.name != "benchmarks.md")
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<body>.*?)^```", re.M | re.S)


def blocks(page: Path, lang: str) -> list[str]:
    return [m["body"] for m in FENCE.finditer(page.read_text()) if m["lang"] == lang]


def command_lines(page: Path) -> list[str]:
    """``analyzer …`` lines of the page's console blocks (``$ analyzer …``), without the
    trailing comment."""
    lines = []
    for body in blocks(page, "console"):
        for line in body.splitlines():
            if line.startswith("$ analyzer"):
                lines.append(line[2:].split("  #")[0].strip())
    return lines


def test_the_docs_exist_and_are_linked() -> None:
    names = {p.name for p in PAGES}
    assert {"index.md", "concepts.md", "json.md", "claims.md", "cli.md"} <= names
    index = (DOCS / "index.md").read_text()
    for name in names - {"index.md"}:
        assert f"({name})" in index, name
    assert "docs/index.md" in (ROOT / "README.md").read_text()
    from analyzer.cli.main import _parser

    assert "docs/index.md" in _parser().format_help()


SLOW_PAGES = {"claims.md"}  # draws and shrinks models with hypothesis: about 20 s


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(p, marks=[pytest.mark.slow] if p.name in SLOW_PAGES else [])
        for p in PAGES
        if blocks(p, "python")
    ],
    ids=lambda p: p.name,
)
def test_every_python_example_runs(page: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for number, body in enumerate(blocks(page, "python")):
        code = compile(body, f"{page.name} (python block {number + 1})", "exec")
        exec(code, namespace)  # the docs' own examples


@pytest.mark.parametrize("page", [p for p in PAGES if command_lines(p)], ids=lambda p: p.name)
def test_every_command_line_parses(page: Path) -> None:
    from analyzer.cli.main import _parser

    parser = _parser()
    for line in command_lines(page):
        argv = shlex.split(line)[1:]
        if argv[:1] in (["--help"], ["--version"]) or "--help" in argv:
            continue
        try:
            parser.parse_args(argv)
        except SystemExit as exit_:  # argparse's way of saying the line is wrong
            pytest.fail(f"{page.name}: `{line}` does not parse (exit {exit_.code})")


def shown_runs(page: Path) -> list[tuple[str, list[str]]]:
    """Console blocks whose first line is ``$ analyzer …`` and that show its output: the
    command and the lines shown (each must be printed, in order)."""
    runs = []
    for body in blocks(page, "console"):
        lines = body.rstrip("\n").splitlines()
        if lines and lines[0].startswith("$ analyzer") and len(lines) > 1:
            if not any(line.startswith("$ ") for line in lines[1:]):
                runs.append((lines[0][2:].split("  #")[0].strip(), lines[1:]))
    return runs


@pytest.mark.parametrize(
    ("command", "shown"),
    [run for page in PAGES for run in shown_runs(page)],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_shown_output_is_what_the_tool_prints(command: str, shown: list[str]) -> None:
    argv = shlex.split(command)[1:]
    done = subprocess.run(
        [sys.executable, "-m", "analyzer", *argv], capture_output=True, text=True,
        timeout=600, cwd=ROOT,
    )  # fmt: skip
    printed = (done.stdout + done.stderr).splitlines()
    at = 0
    for line in shown:
        if line.strip() in ("…", "..."):
            continue
        while at < len(printed) and printed[at].rstrip() != line.rstrip():
            at += 1
        assert at < len(printed), f"`{command}` did not print {line!r}:\n{done.stdout}"
        at += 1


FOREIGN = re.compile(r"DESIGN(\.md|\s*§)|CLAIMS(\.md|\s+S\d)|§\s*\d")
SKIPPED_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".pytest_cache", "reports"}


def test_no_file_sends_the_reader_to_a_document_outside_the_project() -> None:
    """The brief the project was built from is not shipped with it: README, docs,
    --help, docstrings and comments explain in their own words (or point at docs/)."""
    found = []
    for path in ROOT.rglob("*"):
        if not path.is_file() or SKIPPED_DIRS & set(path.relative_to(ROOT).parts):
            continue
        if path.suffix not in (".py", ".md", ".toml", ".sh", ".txt", ".js", ".css", ".html"):
            continue
        if path == Path(__file__):
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if FOREIGN.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
