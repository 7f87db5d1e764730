"""How the command line shows progress: a live bar on a terminal, plain lines in a pipe.

Library code reports through :class:`analyzer.progress.Progress`; :class:`ConsoleProgress`
is the display the CLI hands it. On a terminal each task is a tqdm bar (tqdm, because
transformers and huggingface_hub already depend on it, so it costs users nothing) that
disappears when the task ends and leaves one line with the time it took. In a pipe or
a log file every task prints one line when it starts and one when it ends, with parts
done and seconds spent, and a long task prints how far it got after
:attr:`ConsoleProgress.interval` seconds without another line. ``quiet`` shows nothing.
Everything goes to stderr, so stdout stays the result.

>>> import io
>>> stream = io.StringIO()
>>> display = ConsoleProgress(stream, live=False, clock=iter([0.0, 1.0, 1.5]).__next__)
>>> with display.task("degree", total=16) as task:
...     task.advance(16)
>>> print(stream.getvalue(), end="")
degree …
degree: 16/16 in 1.5 s
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from analyzer.progress import Progress, Task


class ConsoleProgress(Progress):
    """Shows tasks and notes on ``stream`` (stderr by default).

    ``live`` chooses the display: ``True`` a tqdm bar, ``False`` plain lines, ``None``
    (default) a bar exactly when ``stream`` is a terminal. ``timings`` keeps
    ``(description, seconds)`` of every finished task, for the closing line.
    """

    interval = 10.0  # seconds between "how far" lines of one task in a pipe

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        quiet: bool = False,
        live: bool | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.live = _is_terminal(self.stream) if live is None else live
        self.clock = clock
        self.timings: list[tuple[str, float]] = []
        self._started: dict[int, tuple[float, Any]] = {}  # id(task) → (start, exception then)
        self._last_line: dict[int, float] = {}
        self._bars: dict[int, Any] = {}

    def note(self, message: str) -> None:
        if not self.quiet:
            self._line(message)
            # A note is news: the open tasks' "how far" lines wait a full interval again
            # (``claims`` notes each claim's verdict; a count line after it would repeat it).
            now = self.clock()
            for key in self._last_line:
                self._last_line[key] = now

    def on_start(self, task: Task) -> None:
        now = self.clock()
        self._started[id(task)] = (now, sys.exc_info()[1])
        self._last_line[id(task)] = now
        if self.quiet:
            return
        if self.live:
            self._bars[id(task)] = self._bar(task)
        else:
            self._line(f"{task.description} …")

    def on_advance(self, task: Task) -> None:
        if self.quiet:
            return
        bar = self._bars.get(id(task))
        if bar is not None:
            bar.update(task.done - bar.n)
            return
        now = self.clock()
        if now - self._last_line.get(id(task), now) >= self.interval:
            self._last_line[id(task)] = now
            start = self._started.get(id(task), (now, None))[0]
            self._line(f"{task.description}: {_count(task)} after {now - start:.1f} s")

    def on_finish(self, task: Task) -> None:
        now = self.clock()
        start, before = self._started.pop(id(task), (now, None))
        self._last_line.pop(id(task), None)
        seconds = now - start
        failed = sys.exc_info()[1] not in (None, before)
        if not failed:
            self.timings.append((task.description, seconds))
        bar = self._bars.pop(id(task), None)
        if bar is not None:
            bar.close()
        if self.quiet:
            return
        count = _count(task)
        if failed:
            self._line(f"{task.description}: failed after {seconds:.1f} s")
        else:
            self._line(
                f"{task.description}: {count + ' in ' if count else 'done in '}{seconds:.1f} s"
            )

    def _bar(self, task: Task) -> Any:
        from tqdm import tqdm

        # Numbers only when there is a total; without one, a description and a clock.
        layout = (
            "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]"
            if task.total
            else "{desc} … {elapsed}"
        )
        return tqdm(
            total=task.total, desc=task.description, file=self.stream, leave=False,
            bar_format=layout, position=len(self._bars), dynamic_ncols=True,
        )  # fmt: skip

    def _line(self, text: str) -> None:
        if self._bars:
            from tqdm import tqdm

            tqdm.write(text, file=self.stream)  # above the live bars, which redraw below
        else:
            print(text, file=self.stream, flush=True)


def _count(task: Task) -> str:
    if task.total:
        return f"{task.done}/{task.total}"
    return str(task.done) if task.done else ""


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or foreign stream: plain lines
        return False
