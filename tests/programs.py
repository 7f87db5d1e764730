"""Programs and optional packages some tests need: a test skips without them, unless
``ANALYZER_REQUIRE_PROGRAMS=1`` (set by ``.ci/run``, whose set-up installs them), where a
missing one fails the test instead of hiding it.

>>> need_program("sh").endswith("sh")
True
"""

from __future__ import annotations

import importlib
import os
import shutil
from types import ModuleType

import pytest

REQUIRED = os.environ.get("ANALYZER_REQUIRE_PROGRAMS") == "1"
"""Whether a missing program or package is a failure (CI) rather than a skip."""


def _missing(what: str) -> None:
    message = f"{what} is not installed (scripts/bootstrap.sh test installs it)"
    if REQUIRED:
        pytest.fail(message + ", and ANALYZER_REQUIRE_PROGRAMS=1 asks for it", pytrace=False)
    pytest.skip(message)


def need_program(*names: str) -> str:
    """The path of the first of ``names`` on ``PATH``; else skip (or fail, see above)."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    _missing(" or ".join(names))
    raise AssertionError("unreachable")


def has_program(name: str) -> bool:
    """Whether ``name`` is on ``PATH``, for a test whose last part needs it; a failure when
    it is missing and required."""
    if shutil.which(name):
        return True
    if REQUIRED:
        _missing(name)
    return False


def need_module(name: str) -> ModuleType:
    """``import name``; else skip (or fail), as :func:`pytest.importorskip` but for CI."""
    try:
        return importlib.import_module(name)
    except ImportError:
        _missing(f"the Python package {name!r}")
        raise AssertionError("unreachable") from None
