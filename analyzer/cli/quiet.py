"""Keep torch's and transformers' own log lines off the user's terminal unless --debug."""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Iterator
from typing import Any

# Loggers whose warnings (symbolic-shape graph dumps, export notices) are torch's business,
# not the user's: raised to ERROR unless --debug. torch sets levels on some children itself.
QUIET_LOGGERS = (
    "torch", "torch._dynamo", "torch._export", "torch.export", "torch.fx",
    "torch.fx.experimental.symbolic_shapes", "torch._subclasses", "transformers",
)  # fmt: skip


@contextlib.contextmanager
def torch_quiet(debug: bool) -> Iterator[None]:
    """Keep torch's and transformers' own log lines and warnings off the user's terminal
    (graph dumps from symbolic shapes, deprecation notices) unless ``--debug``."""
    if debug:
        yield
        return
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    stderr = sys.stderr
    sys.stderr = _WithoutGraphDumps(stderr)  # type: ignore[assignment]
    with warnings.catch_warnings():
        for module in ("torch", "transformers", "huggingface_hub"):
            warnings.filterwarnings("ignore", module=rf"{module}(\.|$)")
        try:
            yield
        finally:
            sys.stderr = stderr
            for logger, level in zip(loggers, levels, strict=True):
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
