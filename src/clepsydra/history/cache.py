"""The update path's cache of mutable state, with each run's newest committed events.

A process caches only the executions it owns: nobody else changes them without telling
it. A stale cached state is the one thing that could lose work (a timer checked against a
state older than the one that created it looks moot, and its row is deleted), so the
cache counts the times it was told that others may have changed what it holds, and a
state read from the store before such a time is not cached (`read_since`).

The cache is bounded by bytes, not by entries: an execution holding 2 MB payloads weighs
what it holds, so memory stays flat however many workflows are open and whatever they
carry. An entry weighs its state as serialized (which the update path has in hand: the
blob it read or just wrote; payloads dominate, and sit in memory as the same bytes), its
tail of events, and a fixed overhead for the Python objects of a small state.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

from temporalio.api.history.v1 import HistoryEvent

from clepsydra.engine.state import ExecutionKey, ExecutionState

DEFAULT_CACHE_MB = 128
# What an entry costs beyond its bytes: the objects of a small state (measured, see BENCHMARKS.md).
ENTRY_OVERHEAD_BYTES = 10 * 1024
# Most events of a run's history tail kept in memory (see Cached.tail).
TAIL_EVENTS = 256


@dataclass
class Cached:
    state: ExecutionState
    version: int
    # The size of the state as last read or written, serialized.
    state_bytes: int = 0
    # The newest committed events, contiguous up to the last one: what a sticky worker has not
    # seen yet and what a result poll wants, served without a trip to the store.
    tail: list[HistoryEvent] = field(default_factory=list)
    tail_bytes: int = 0

    @property
    def weight(self) -> int:
        return self.state_bytes + self.tail_bytes + ENTRY_OVERHEAD_BYTES

    def extend_tail(self, events: list[HistoryEvent]) -> None:
        """Append newly committed events; keep those a sticky worker may still need (after the
        last completed workflow task's start), at most TAIL_EVENTS of them, and always the last."""
        tail = self.tail
        if tail and tail[-1].event_id + 1 != events[0].event_id:
            tail.clear()  # a gap would hand out a wrong history: start again from these
            self.tail_bytes = 0
        tail.extend(events)
        self.tail_bytes += sum(e.ByteSize() for e in events)
        keep_from = self.state.previous_started_event_id + 1
        drop = max(len(tail) - TAIL_EVENTS, 0)
        while drop < len(tail) - 1 and tail[drop].event_id < keep_from:
            drop += 1
        self.tail_bytes -= sum(e.ByteSize() for e in tail[:drop])
        del tail[:drop]

    def events_from(self, first_event_id: int) -> list[HistoryEvent] | None:
        """The committed events from `first_event_id` on, if the tail reaches back that far."""
        if self.tail and self.tail[0].event_id <= first_event_id:
            return [e for e in self.tail if e.event_id >= first_event_id]
        return None


class StateCache:
    """Least recently used executions, weighing at most `limit` bytes in all."""

    def __init__(self, limit: int = DEFAULT_CACHE_MB * 1024 * 1024) -> None:
        self.limit = limit
        self._entries: OrderedDict[ExecutionKey, Cached] = OrderedDict()
        # What each entry weighed when it was put, and their sum.
        self._weights: dict[ExecutionKey, int] = {}
        self.bytes = 0
        self._invalidations = 0
        # Lookups, and those that found nothing (the server's metrics report them).
        self.requests = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: ExecutionKey) -> Cached | None:
        self.requests += 1
        cached = self._entries.get(key)
        if cached is None:
            self.misses += 1
        else:
            self._entries.move_to_end(key)
        return cached

    def put(self, key: ExecutionKey, cached: Cached) -> None:
        """Cache (or weigh again: it changed) an entry, then drop the least recently used
        ones until all fit; one that cannot fit even alone is not kept."""
        self.drop(key)
        weight = cached.weight
        self._entries[key] = cached
        self._weights[key] = weight
        self.bytes += weight
        while self.bytes > self.limit and self._entries:
            self.drop(next(iter(self._entries)))

    def drop(self, key: ExecutionKey) -> None:
        if self._entries.pop(key, None) is not None:
            self.bytes -= self._weights.pop(key)

    @property
    def epoch(self) -> int:
        """Changes whenever others may have changed cached executions (see `invalidate`)."""
        return self._invalidations

    def read_since(self, epoch: int) -> bool:
        """Whether a state read from the store when `epoch` was current may still be cached."""
        return epoch == self._invalidations

    def invalidate(self, keys: Collection[ExecutionKey]) -> None:
        """Others may have changed these executions: drop them, and refuse states read before."""
        self._invalidations += 1
        for key in keys:
            self.drop(key)

    def __iter__(self) -> Iterator[ExecutionKey]:
        return iter(list(self._entries))
