"""The progress display: plain lines in a pipe, a live tqdm bar on a terminal, nothing
under --quiet; library code reports through analyzer.progress and never prints."""

from __future__ import annotations

import io
import itertools

import pytest

from analyzer.console import ConsoleProgress


def clock(*times: float):
    values = itertools.chain(times, itertools.repeat(times[-1]))
    return lambda: next(values)


def test_plain_lines_with_counts_and_seconds() -> None:
    stream = io.StringIO()
    display = ConsoleProgress(stream, live=False, clock=clock(0.0, 4.0, 11.0, 12.5))
    display.interval = 10.0
    with display.task("degree", total=16) as task:
        task.advance(4)  # at 4 s: too soon for a line
        task.advance(4)  # at 11 s: a line says how far it got
        task.advance(8)
    assert stream.getvalue().splitlines() == [
        "degree …",
        "degree: 8/16 after 11.0 s",
        "degree: 16/16 in 12.5 s",
    ]
    assert display.timings == [("degree", 12.5)]


def test_a_note_postpones_the_how_far_line() -> None:
    """``claims`` notes each claim's verdict: a count line right after it would repeat it."""
    stream = io.StringIO()
    display = ConsoleProgress(stream, live=False, clock=clock(0.0, 14.0, 14.0, 20.0, 30.0, 30.0))
    with display.task("claims", total=3) as task:
        display.note("[1/3] a: holds (14.0 s)")  # at 14 s
        task.advance()  # at 14 s: the note just said it
        display.note("[2/3] b: holds (6.0 s)")  # at 20 s
        task.advance()  # at 30 s: 10 s after the note, a count line again
        task.advance()
    assert stream.getvalue().splitlines() == [
        "claims …",
        "[1/3] a: holds (14.0 s)",
        "[2/3] b: holds (6.0 s)",
        "claims: 2/3 after 30.0 s",
        "claims: 3/3 in 30.0 s",
    ]


def test_a_failed_task_says_so_and_is_not_timed() -> None:
    stream = io.StringIO()
    display = ConsoleProgress(stream, live=False, clock=clock(0.0, 2.0))
    with pytest.raises(ValueError), display.task("tracing"):
        raise ValueError("no")
    assert stream.getvalue().splitlines() == ["tracing …", "tracing: failed after 2.0 s"]
    assert display.timings == []


def test_a_task_started_while_handling_an_error_can_still_succeed() -> None:
    stream = io.StringIO()
    display = ConsoleProgress(stream, live=False, clock=clock(0.0, 1.0))
    try:
        raise KeyError("handled")
    except KeyError:
        with display.task("fallback"):
            pass
    assert stream.getvalue().splitlines()[-1] == "fallback: done in 1.0 s"


def test_quiet_shows_nothing_but_keeps_timings() -> None:
    stream = io.StringIO()
    display = ConsoleProgress(stream, quiet=True, clock=clock(0.0, 3.0))
    display.note("hello")
    with display.task("drawing", total=2) as task:
        task.advance(2)
    assert stream.getvalue() == "" and display.timings == [("drawing", 3.0)]


def test_a_terminal_gets_a_live_bar_that_leaves_one_line() -> None:
    stream = io.StringIO()
    display = ConsoleProgress(stream, live=True, clock=clock(0.0, 2.0))
    with display.task("samples", total=3) as task:
        for _ in range(3):
            task.advance()
    output = stream.getvalue()
    assert "\r" in output and "samples" in output  # tqdm redraws its line in place
    assert output.rstrip().endswith("samples: 3/3 in 2.0 s")


def test_the_display_follows_the_stream() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert ConsoleProgress(Terminal()).live is True
    assert ConsoleProgress(io.StringIO()).live is False
