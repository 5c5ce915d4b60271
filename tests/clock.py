"""The tests' clock: frozen at a fixed instant for every test, never the real one.

The `clock` fixture (tests/conftest.py, autouse) sets time-machine travelling to
DEFAULT, or to the instant a test is parametrised with:

    @pytest.mark.parametrize("clock", INSTANTS, indirect=True)
    def test_x(clock, ...):
        clock.start      # the instant the clock was set to (aware, UTC)
        now()            # now on that clock (it ticks on from clock.start)
        clock.move_to(instant, tick=False)   # another instant; stopped there

Everything in the test process reads that clock: the test, the app's views and CLI
commands (``marketplace.models.utcnow``), a live server's thread. Not on it:
``time.monotonic`` (timeouts, waits), and other processes: localstripe keeps the real
clock, which is why DEFAULT lies before any date the tests run on (Stripe refuses a
webhook signature that is too old, never one from the future).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

PARIS_TZ = "Europe/Paris"  # the site's BABEL_DEFAULT_TIMEZONE
PARIS = ZoneInfo(PARIS_TZ)


def paris(year: int, month: int, day: int, hour: int = 0, minute: int = 0, *,
          fold: int = 0) -> datetime:
    """The UTC instant of a wall-clock time in Paris (``fold=1``: the second of the
    two 02:30 of the night summer time ends)."""
    return datetime(year, month, day, hour, minute, fold=fold, tzinfo=PARIS).astimezone(UTC)


# An ordinary Tuesday morning, weeks from a clock change, a month's or a year's end.
DEFAULT = paris(2026, 11, 17, 10, 0)

# The instants the time-sensitive tests run at, besides DEFAULT.
MONDAY_EVENING = paris(2026, 12, 7, 21, 5)          # this Monday's 09:00 is past
BEFORE_SPRING_FORWARD = paris(2027, 3, 28, 1, 30)   # 00:30 UTC; at 02:00 clocks jump to 03:00
AFTER_SPRING_FORWARD = paris(2027, 3, 28, 3, 30)    # 01:30 UTC, the same Sunday, summer time
FIRST_AUTUMN_0230 = paris(2026, 10, 25, 2, 30)      # 00:30 UTC, still summer time
SECOND_AUTUMN_0230 = paris(2026, 10, 25, 2, 30, fold=1)  # 01:30 UTC, winter time
NEW_YEARS_EVE = paris(2026, 12, 31, 23, 30)         # 22:30 UTC
NEW_YEAR_IN_PARIS = paris(2027, 1, 1, 0, 30)        # 2027 in Paris, still 2026 in UTC

INSTANTS = [
    pytest.param(DEFAULT, id="tuesday-morning"),
    pytest.param(MONDAY_EVENING, id="monday-evening"),
    pytest.param(BEFORE_SPRING_FORWARD, id="before-spring-forward"),
    pytest.param(AFTER_SPRING_FORWARD, id="after-spring-forward"),
    pytest.param(FIRST_AUTUMN_0230, id="autumn-0230-summer-time"),
    pytest.param(SECOND_AUTUMN_0230, id="autumn-0230-winter-time"),
    pytest.param(NEW_YEARS_EVE, id="new-years-eve"),
    pytest.param(NEW_YEAR_IN_PARIS, id="new-year-in-paris-only"),
]


@dataclass
class Clock:
    """The running test's clock."""

    start: datetime
    traveller: time_machine.Traveller

    def now(self) -> datetime:
        return datetime.now(UTC)

    def move_to(self, instant: datetime, *, tick: bool = True) -> None:
        """Jump to INSTANT (aware); ``tick=False`` stops the clock there."""
        if instant.tzinfo is None:
            raise ValueError("the clock's instant must be timezone-aware")
        self.start = instant.astimezone(UTC)
        self.traveller.move_to(self.start, tick=tick)


_running: list[Clock] = []


def now() -> datetime:
    """Now on the running test's frozen clock; an error outside a test (a module or
    session fixture that would read the real clock)."""
    if not _running:
        raise RuntimeError("no frozen clock: call now() within a test (the clock fixture)")
    return _running[-1].now()


@contextmanager
def frozen(start: datetime):
    """time-machine at START (aware), ticking on from there: the Clock."""
    if start.tzinfo is None:
        raise ValueError("the clock's instant must be timezone-aware")
    start = start.astimezone(UTC)
    with time_machine.travel(start, tick=True) as traveller:
        running = Clock(start, traveller)
        _running.append(running)
        try:
            yield running
        finally:
            _running.remove(running)
