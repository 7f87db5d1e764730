"""Shared fixtures: run the CLI in-process and capture its output and exit code; every test
starts from the same random state."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
import torch

from analyzer.cli import main


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]):
    """``run_cli(*argv) -> (exit_code, stdout, stderr)``."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", help="rewrite tests/golden from current output"
    )


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> Iterator[None]:
    """One intra-op thread for the whole suite: its models are tiny, and torch's thread
    pool costs several times the work itself (more so with a worker per core under
    ``pytest -n``)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _seeded() -> None:
    """Each test starts from seed 0 (torch and ``random``): a test's global draws — a
    model's initial weights, a ``torch.randn`` example — are the same whatever ran before
    it, so a failure replays. Property tests draw their own seeds through hypothesis
    (``tests/seeds.py``)."""
    torch.manual_seed(0)
    random.seed(0)
