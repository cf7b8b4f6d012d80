"""An injected clock: tests move time forward instead of sleeping."""

from __future__ import annotations

import datetime as dt

EPOCH = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


class FakeClock:
    """Monotonic seconds and a matching UTC wall clock, advanced by hand."""

    def __init__(self, start: dt.datetime = EPOCH) -> None:
        self._start = start
        self.seconds = 1000.0

    def monotonic(self) -> float:
        return self.seconds

    def now(self) -> dt.datetime:
        return self._start + dt.timedelta(seconds=self.seconds - 1000.0)

    def advance(self, seconds: float) -> None:
        self.seconds += seconds
