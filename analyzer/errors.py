"""The one small error hierarchy of the tool.

The CLI turns an :class:`AnalyzerError` into one paragraph and its ``exit_code``;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class AnalyzerError(Exception):
    """Base class: a problem the user can act on."""

    exit_code = 1


class SpecError(AnalyzerError):
    """A bad model spec, ``--input``, ``--config`` or file argument (exit code 2)."""

    exit_code = 2


class TraceError(AnalyzerError):
    """The model's forward raised, or no frontend could trace it (exit code 3)."""

    exit_code = 3


class UntraceableError(TraceError):
    """No frontend could trace the model, which was not seen failing on its example inputs
    (exit code 3): ``validate`` can still measure the model alone, by its values."""


class ForwardError(TraceError):
    """The model itself raised when run on its example inputs (exit code 3): a graph
    traced from them would describe a computation that never happens."""


class MissingToolError(AnalyzerError):
    """A program the tool runs is not installed, such as graphviz's ``dot`` (exit code 4)."""

    exit_code = 4


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` naming the closest known name, or ``""``: for messages.

    >>> did_you_mean("lama", ["llama", "gpt2"])
    " (did you mean 'llama'?)"
    """
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
