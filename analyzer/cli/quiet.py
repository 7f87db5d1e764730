"""Keep torch's and transformers' own log lines off the user's terminal unless --debug."""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

# Loggers whose warnings (symbolic-shape graph dumps, export notices) are torch's business,
# not the user's: raised to ERROR unless --debug. torch sets levels on some children itself.
QUIET_LOGGERS = (
    "torch", "torch._dynamo", "torch._export", "torch.export", "torch.fx",
    "torch.fx.experimental.symbolic_shapes", "torch._subclasses", "transformers",
)  # fmt: skip


SILENT = logging.CRITICAL + 1  # above every level torch logs at (its tracebacks are ERROR)


def _torch_loggers() -> list[logging.Logger]:
    """The roots of :data:`QUIET_LOGGERS` and every existing logger under them that sets a
    level of its own: torch gives some children (``torch._subclasses.fake_tensor``)
    their own stderr handler and stops propagation, so raising the root is not enough.

    >>> any(logger.name == "torch" for logger in _torch_loggers())
    True
    """
    roots = {name.split(".")[0] for name in QUIET_LOGGERS}
    named = [
        logger
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
        and name.split(".")[0] in roots
        and (logger.level != logging.NOTSET or logger.handlers)
    ]
    return list(
        {id(logger): logger for logger in [*map(logging.getLogger, QUIET_LOGGERS), *named]}.values()
    )


@contextlib.contextmanager
def torch_quiet(debug: bool) -> Iterator[Callable[[], None]]:
    """Keep torch's and transformers' own log lines and warnings off the user's terminal
    (graph dumps from symbolic shapes, fake-tensor tracebacks, deprecation notices) unless
    ``--debug``. Yields a function to call again once torch is imported: importing torch
    resets its loggers' levels and adds children with handlers of their own."""
    if debug:
        yield lambda: None
        return
    saved: dict[int, tuple[logging.Logger, int]] = {}

    def silence() -> None:
        for logger in _torch_loggers():  # a failed fake-tensor run logs ERROR + traceback
            saved.setdefault(id(logger), (logger, logger.level))
            logger.setLevel(SILENT)

    silence()
    stderr = sys.stderr
    sys.stderr = _WithoutGraphDumps(stderr)  # type: ignore[assignment]
    with warnings.catch_warnings():
        for module in ("torch", "transformers", "huggingface_hub"):
            warnings.filterwarnings("ignore", module=rf"{module}(\.|$)")
        try:
            yield silence
        finally:
            sys.stderr = stderr
            for logger, level in saved.values():
                logger.setLevel(level)


class _WithoutGraphDumps:
    """stderr without the partial fx graphs that torch.export prints (with ``print``,
    not a logger) when it fails: the frontend that failed is named in the warnings."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._dropped = False

    def write(self, text: str) -> int:
        dump = text.lstrip().startswith("def forward(") or (
            "torch.ops.aten." in text and "# File:" in text
        )
        if dump or (self._dropped and text == "\n"):  # print's own newline after a dump
            self._dropped = dump
            return len(text)
        self._dropped = False
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
