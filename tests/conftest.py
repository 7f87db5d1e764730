"""Shared fixtures: run the CLI in-process and capture its output and exit code; every test
starts from the same random state."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
import torch
from hypothesis import HealthCheck, settings

from analyzer.cli import main

# On a shared machine a draw can be slow for reasons that are not the strategy's (the first
# draw builds torch's kernels, other jobs take the cores): no health check on speed and no
# per-example deadline, in every property test and doctest the suite runs.
settings.register_profile(
    "analyzer-suite", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("analyzer-suite")


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]):
    """``run_cli(*argv) -> (exit_code, stdout, stderr)``."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


# Files whose tests read the same cached runs (``functools.cache`` in a shared module): under
# ``pytest -n`` (pytest-xdist, ``--dist loadgroup``) each group runs in one worker, so that
# the runs are made once; every other file is a group of its own (its module-scoped
# fixtures and caches are made once too).
SHARED_CACHES = {
    "tests/adversarial/test_analyze.py": "adversarial-judge",
    "tests/adversarial/test_validate.py": "adversarial-judge",
    "tests/adversarial/test_summary.py": "adversarial-judge",
}


def pytest_itemcollected(item: pytest.Item) -> None:
    """Group the tests by file (``SHARED_CACHES`` merges some) for ``--dist loadgroup``.

    The mark is put on as each test is collected: xdist's worker reads the marks in its own
    ``pytest_collection_modifyitems``, which runs before a conftest's (it registers later),
    so a mark added there would come too late and the groups would be ignored."""
    if not item.config.pluginmanager.hasplugin("xdist"):
        return
    root = item.config.rootpath
    path = item.path.relative_to(root).as_posix() if item.path.is_relative_to(root) else ""
    item.add_marker(pytest.mark.xdist_group(SHARED_CACHES.get(path, path)))


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


@pytest.fixture(autouse=True)
def _fresh_dynamo() -> Iterator[None]:
    """Each test starts with dynamo's caches empty: eager ``while_loop`` and ``cond`` compile
    their bodies with dynamo, and what one test's model leaves in its process-wide caches made
    a later test's export or eager ``while_loop`` fail ("Data-dependent branching")."""
    yield
    torch._dynamo.reset()
