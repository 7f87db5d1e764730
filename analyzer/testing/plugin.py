"""The pytest plugin (entry point ``pytest11``): claims as tests, and the device option.

* ``--analyzer-device DEVICE`` (default: cuda when present) is where claims validate
  models and measure identities; the ``analyzer_device`` fixture gives it to your tests.
  ``--analyzer-examples N`` and ``--analyzer-seed S`` set the claims' examples and seed.
* Claim files — ``claims_*.py`` or ``*_claims.py``, or any file named on the command line —
  are collected: every claim they define is one test (marked ``claim``), which passes when
  its verdict is what it expects. Claims named ``test_*`` in ordinary test files are
  collected too. A claim's parts and caveats run under it.

Without the entry point installed, load it with ``pytest -p analyzer.testing.plugin``.
This module imports no torch until a claim runs, so loading it costs nothing.
"""

from __future__ import annotations

import contextlib
import fnmatch
import logging
from collections.abc import Iterator
from typing import Any

import pytest

CLAIM_FILES = ("claims_*.py", "*_claims.py")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("analyzer", "analyzer: claims about architectures")
    group.addoption(
        "--analyzer-device", default=None, metavar="DEVICE",
        help="where claims validate models and measure identities (default: cuda if present)",
    )  # fmt: skip
    group.addoption(
        "--analyzer-examples", type=int, default=None, metavar="N",
        help="drawn models per family claim (default: the claim's own, else 25)",
    )  # fmt: skip
    group.addoption("--analyzer-seed", type=int, default=0, metavar="S", help="claims' seed")
    group.addoption(
        "--analyzer-no-confirm", action="store_true", default=False,
        help="take family counterexamples as the static analysis gives them, unconfirmed",
    )  # fmt: skip
    group.addoption(
        "--analyzer-database", default=None, metavar="DIR",
        help="a folder where hypothesis keeps failing examples (default: none kept)",
    )  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "claim: a claim collected by analyzer's pytest plugin")


@pytest.fixture
def analyzer_device(request: pytest.FixtureRequest) -> str:
    """The device ``--analyzer-device`` names (checked), else cuda when present, else cpu."""
    from analyzer.claims.runner import resolve_device

    return resolve_device(request.config.getoption("analyzer_device"))


def _is_claim_file(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in CLAIM_FILES)


def pytest_collect_file(file_path: Any, parent: pytest.Collector) -> pytest.Module | None:
    if file_path.suffix != ".py" or not _is_claim_file(file_path.name):
        return None
    python_files = parent.config.getini("python_files")
    if parent.session.isinitpath(file_path) or any(
        fnmatch.fnmatch(file_path.name, p) for p in python_files
    ):
        return None  # pytest's own python plugin collects it already
    return pytest.Module.from_parent(parent, path=file_path)


def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: Any) -> Any:
    from analyzer.claims.core import Claim

    if not isinstance(obj, Claim):
        return None
    # a claim is callable (for hypothesis' decorators): [] keeps pytest from collecting the
    # ones not collected here as test functions
    if not isinstance(collector, pytest.Module):
        return []
    module = collector.obj
    if obj.module != module.__name__:
        return []  # imported from elsewhere: it runs where it is defined
    if not (_is_claim_file(collector.path.name) or collector.funcnamefilter(name)):
        return []
    from analyzer.claims.loading import claims_in

    if obj not in claims_in(module):
        return []  # a part or caveat: it runs under its claim
    return ClaimItem.from_parent(collector, name=name, claim=obj)


@contextlib.contextmanager
def quiet_torch_logs() -> Iterator[None]:
    """torch's structured-trace logger (``torch.__trace``) logs at DEBUG on every export,
    and pytest's log capture would show each line under a failing claim: it and torch's
    other loggers are raised to ERROR while a claim runs."""
    names = ("torch", "torch.__trace", "torch._dynamo", "torch._export", "torch.export",
             "torch.fx", "torch.fx.experimental.symbolic_shapes", "torch._subclasses")  # fmt: skip
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class ClaimFailed(Exception):
    """A claim's verdict differs from what it expects."""


class ClaimItem(pytest.Item):
    """One claim run as one test."""

    def __init__(self, *, claim: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.claim = claim
        self.add_marker("claim")

    def runtest(self) -> None:
        from analyzer.claims.runner import run_claim
        from analyzer.testing.assertions import failure_message

        config = self.config
        with quiet_torch_logs():
            result = run_claim(
                self.claim,
                examples=config.getoption("analyzer_examples"),
                seed=config.getoption("analyzer_seed"),
                device=config.getoption("analyzer_device"),
                confirm=not config.getoption("analyzer_no_confirm"),
                database=config.getoption("analyzer_database"),
            )
        self.user_properties.append(("verdict", result.verdict))
        if not result.as_expected:
            raise ClaimFailed(failure_message(result))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ClaimFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"claim {self.claim.id}: {self.claim.statement}"
