"""Progress reports from long work, without printing: the library calls, the CLI shows.

Library code takes a :class:`Progress` (default :data:`SILENT`) and reports through it;
only the command line decides how a report looks (a live bar on a terminal, plain lines
in a pipe, nothing under ``--quiet``). Nothing below ``cli.py`` prints.

>>> log = RecordingProgress()
>>> with log.task("degree", total=8) as task:
...     task.advance(8)
>>> log.events
[('start', 'degree', 8), ('advance', 'degree', 8), ('finish', 'degree', 8)]
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


class Task:
    """One unit of long work: ``advance`` as parts finish; the time is the caller's."""

    def __init__(self, progress: Progress, description: str, total: int | None) -> None:
        self.progress, self.description, self.total = progress, description, total
        self.done = 0

    def advance(self, count: int = 1) -> None:
        self.done += count
        self.progress.on_advance(self)


class Progress:
    """The silent base: every hook does nothing. Subclass and override the ``on_*`` hooks."""

    def note(self, message: str) -> None:
        """A one-line message about what is happening now."""

    @contextlib.contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Task]:
        """A unit of work with an optional count of parts, finished on leaving the block
        (also when it raises, so that a display never stays half drawn)."""
        task = Task(self, description, total)
        self.on_start(task)
        try:
            yield task
        finally:
            self.on_finish(task)

    def on_start(self, task: Task) -> None:
        """Called when ``task`` begins."""

    def on_advance(self, task: Task) -> None:
        """Called after ``task.advance``."""

    def on_finish(self, task: Task) -> None:
        """Called when ``task`` ends."""


SILENT = Progress()
"""Reports nothing: the default of every library function that takes a ``progress``."""


class RecordingProgress(Progress):
    """Keeps every event in ``events``: for tests, and for callers that log."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def note(self, message: str) -> None:
        self.events.append(("note", message))

    def on_start(self, task: Task) -> None:
        self.events.append(("start", task.description, task.total))

    def on_advance(self, task: Task) -> None:
        self.events.append(("advance", task.description, task.done))

    def on_finish(self, task: Task) -> None:
        self.events.append(("finish", task.description, task.done))
