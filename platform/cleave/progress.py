"""Live progress for long operator commands (`encryption_keys rotate`, `context_data
export|import`, `split start`): on a terminal a line redrawn in place, with rate and ETA (tqdm);
anywhere else (a log, CI, a pipe) a plain line every few seconds and one at the end, so a log
shows progress without a wall of carriage returns."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Never, TextIO, cast

from tqdm import tqdm

PLAIN_EVERY_SECONDS = 5.0


def command_stream(wrapper: object) -> TextIO:
    """The stream under a management command's `self.stdout`/`self.stderr`: Django's wrapper
    ends every write with a newline, which would break a line redrawn in place."""
    return cast(TextIO, getattr(wrapper, "_out", wrapper))


class Progress:
    """`advance(n)` as work is done; `note(text)` to name the step just finished (a service that
    came up). Used as a context manager, it draws its last state on exit."""

    def __init__(
        self,
        label: str,
        *,
        total: int | None,
        stream: TextIO,
        unit: str = "rows",
        every: float = PLAIN_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label, self._total, self.unit, self.stream = label, total, unit, stream
        self.done = 0
        self._every, self._clock = every, clock
        self._started = self._last_line = clock()
        self._last_shown = -1
        self._bar: tqdm[Never] | None = None
        if _is_terminal(stream):
            self._bar = tqdm(
                total=total,
                desc=label,
                unit=f" {unit}",
                file=stream,
                leave=True,
                dynamic_ncols=True,
            )

    @property
    def total(self) -> int | None:
        return self._total

    @total.setter
    def total(self, total: int | None) -> None:
        """Set once known (e.g. counted after the work began)."""
        self._total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def advance(self, count: int = 1) -> None:
        self.done += count
        if self._bar is not None:
            self._bar.update(count)
        elif self._clock() - self._last_line >= self._every:
            self._line()

    def note(self, text: str) -> None:
        """A step worth its own line whatever the output (e.g. `messaging up on :8102`)."""
        if self._bar is not None:
            self._bar.write(f"{self.label}: {text}", file=self.stream)
        else:
            self.stream.write(f"{self.label}: {text}\n")
            self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._last_shown != self.done:
            self._line()

    def line(self) -> str:
        """The plain line for the progress so far."""
        elapsed = self._clock() - self._started
        if not self.total:
            return f"{self.label}: {self.done} {self.unit} in {tqdm.format_interval(elapsed)}"
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else None
        eta = tqdm.format_interval(left) if left is not None else "?"
        return (
            f"{self.label}: {self.done}/{self.total} {self.unit} "
            f"({100 * self.done // self.total}%), {rate:.1f} {self.unit}/s, ETA {eta}"
        )

    def _line(self) -> None:
        self._last_line, self._last_shown = self._clock(), self.done
        self.stream.write(self.line() + "\n")
        self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
