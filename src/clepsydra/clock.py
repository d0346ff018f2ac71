"""The one source of time for the server; tests and time skipping substitute their own.

`SkippingClock` is the clock of a time-skipping test server, with the semantics of
Temporal's Java test server: virtual time runs at wall-clock speed, and while no
one holds a lock on it and nothing is busy (no workflow or activity task
outstanding), the timer queue may make it jump to the next due timer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def skip_to(self, when: datetime) -> bool:
        """Jump forward to `when` if time may be skipped right now; True if it did."""
        ...

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever skipping may have become possible."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def skip_to(self, when: datetime) -> bool:
        return False

    def on_change(self, callback: Callable[[], None]) -> None:
        pass


class UnbalancedUnlock(Exception):
    """An unlock without a matching lock."""


class SkippingClock:
    """Wall-clock time plus an offset that grows each time the clock skips ahead.

    Skipping needs no lock held and every `busy` predicate false. A new clock
    holds one lock when `locked` (the Java test server's default, and what the
    SDK expects: it unlocks only while awaiting a workflow result).
    """

    def __init__(self, *, locked: bool = True, start: datetime | None = None) -> None:
        self._offset = start - datetime.now(UTC) if start is not None else timedelta(0)
        self._locks = 1 if locked else 0
        self._busy: list[Callable[[], bool]] = []
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    @property
    def locked(self) -> bool:
        return self._locks > 0

    def lock(self) -> None:
        self._locks += 1

    def unlock(self) -> None:
        if self._locks == 0:
            raise UnbalancedUnlock("Unbalanced lock and unlock calls: time skipping is not locked")
        self._locks -= 1
        if self._locks == 0:
            self.changed()

    def add_busy(self, predicate: Callable[[], bool]) -> None:
        """Time may not skip while `predicate()` is true; call `changed()` when it turns false."""
        self._busy.append(predicate)

    def may_skip(self) -> bool:
        return self._locks == 0 and not any(busy() for busy in self._busy)

    def skip_to(self, when: datetime) -> bool:
        now = self.now()
        if when <= now or not self.may_skip():
            return False
        self._offset += when - now
        return True

    def on_change(self, callback: Callable[[], None]) -> None:
        self._listeners.append(callback)

    def changed(self) -> None:
        """Something that blocked skipping may have gone away: let the timer queue look again."""
        for callback in self._listeners:
            callback()
