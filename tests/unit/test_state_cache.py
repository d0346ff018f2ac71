"""The cache of executions is bounded by bytes: an entry weighs its serialized state, its
tail of events and a fixed overhead, and the least recently used go first."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.history.v1 import HistoryEvent, WorkflowExecutionStartedEventAttributes

from clepsydra.engine.state import ExecutionKey, ExecutionState
from clepsydra.history.cache import ENTRY_OVERHEAD_BYTES, Cached, StateCache

MB = 1024 * 1024


def key(n: int) -> ExecutionKey:
    return ExecutionKey("ns", f"w{n}", "r")


def entry(state_bytes: int) -> Cached:
    state = ExecutionState(
        "ns", "ns", "w", "r", "r", WorkflowExecutionStartedEventAttributes(), datetime.now(UTC), "request"
    )
    return Cached(state, 1, state_bytes)


def test_the_least_recently_used_go_when_the_bytes_run_out() -> None:
    cache = StateCache(limit=10 * MB)
    for n in range(4):
        cache.put(key(n), entry(3 * MB))
    assert [k.workflow_id for k in cache] == ["w1", "w2", "w3"]
    assert cache.bytes == 3 * (3 * MB + ENTRY_OVERHEAD_BYTES)
    cache.get(key(1))
    cache.put(key(4), entry(3 * MB))
    assert [k.workflow_id for k in cache] == ["w3", "w1", "w4"]


def test_an_entry_is_weighed_again_when_put_again() -> None:
    cache = StateCache(limit=10 * MB)
    small = entry(1000)
    cache.put(key(0), small)
    cache.put(key(1), entry(1000))
    small.state_bytes = 9 * MB  # it grew with its last change
    cache.put(key(0), small)
    assert [k.workflow_id for k in cache] == ["w1", "w0"]
    cache.put(key(2), entry(1 * MB))
    assert [k.workflow_id for k in cache] == ["w2"] or cache.bytes <= cache.limit
    assert cache.bytes <= cache.limit


def test_an_entry_larger_than_the_cache_is_not_kept() -> None:
    cache = StateCache(limit=1 * MB)
    cache.put(key(0), entry(2 * MB))
    assert len(cache) == 0 and cache.bytes == 0


def test_the_tail_of_events_counts() -> None:
    cached = entry(0)
    big = Payloads(payloads=[Payload(data=b"x" * MB)])
    started = HistoryEvent(
        event_id=1,
        workflow_execution_started_event_attributes=WorkflowExecutionStartedEventAttributes(input=big),
    )
    cached.extend_tail([started])
    assert cached.tail_bytes == started.ByteSize() > MB
    cached.extend_tail([HistoryEvent(event_id=5)])  # a gap: the tail starts again
    assert cached.tail_bytes == HistoryEvent(event_id=5).ByteSize()


def test_dropped_and_invalidated_entries_give_their_bytes_back() -> None:
    cache = StateCache(limit=10 * MB)
    cache.put(key(0), entry(MB))
    cache.put(key(1), entry(MB))
    cache.drop(key(0))
    cache.invalidate([key(1)])
    assert len(cache) == 0 and cache.bytes == 0
