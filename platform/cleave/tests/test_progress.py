"""Operator progress: plain lines every few seconds off a terminal, a redrawn line on one."""

from __future__ import annotations

import io

from cleave.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_a_line_every_interval_with_rate_and_eta_and_one_at_the_end() -> None:
    clock, out = Clock(), io.StringIO()
    with Progress("export messaging", total=1000, stream=out, every=5, clock=clock) as shown:
        for _ in range(10):
            clock.now += 1
            shown.advance(100)
    assert out.getvalue().splitlines() == [
        "export messaging: 500/1000 rows (50%), 100.0 rows/s, ETA 00:05",
        "export messaging: 1000/1000 rows (100%), 100.0 rows/s, ETA 00:00",
    ]


def test_steps_get_their_own_line_and_an_unknown_total_shows_a_count() -> None:
    clock, out = Clock(), io.StringIO()
    with Progress("split start", total=None, stream=out, unit="services", clock=clock) as shown:
        clock.now = 2
        shown.advance()
        shown.note("identity up on :8101")
    assert out.getvalue().splitlines() == [
        "split start: identity up on :8101",
        "split start: 1 services in 00:02",
    ]


def test_on_a_terminal_the_line_is_redrawn_in_place() -> None:
    out = Terminal()
    with Progress("rotate identity.User.email", total=3, stream=out) as shown:
        shown.advance(3)
    assert "\r" in out.getvalue()
    assert "3/3" in out.getvalue()
