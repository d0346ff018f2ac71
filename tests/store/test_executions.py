"""Executions, current runs and history: what one conditional write changes, and what a
failed one leaves alone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from clepsydra.errors import ConditionFailed
from clepsydra.store.base import CurrentExecution, CurrentWrite, ExecutionWrite
from tests.store.helpers import key, queue_task, start, timer, transfer, visibility

K = key()


async def test_a_write_applies_only_to_the_version_it_was_computed_from(store: Any) -> None:
    await store.commit(start(K, b"v1"))
    await store.commit(ExecutionWrite(K, b"v2", 1))
    with pytest.raises(ConditionFailed):
        await store.commit(ExecutionWrite(K, b"stale", 1))
    assert await store.get_execution(K) == (b"v2", 2)


async def test_an_execution_is_created_once(store: Any) -> None:
    await store.commit(ExecutionWrite(K, b"first", 0))
    with pytest.raises(ConditionFailed):
        await store.commit(ExecutionWrite(K, b"second", 0))
    assert await store.get_execution(K) == (b"first", 1)


async def test_updating_an_execution_that_does_not_exist_fails(store: Any) -> None:
    with pytest.raises(ConditionFailed):
        await store.commit(ExecutionWrite(K, b"ghost", 3))
    assert await store.get_execution(K) is None


async def test_a_failed_write_leaves_nothing_behind(store: Any) -> None:
    await store.commit(start(K, b"v1", history_batch=(1, b"batch-1")))
    stale = ExecutionWrite(
        K,
        b"stale",
        7,
        history_batch=(3, b"batch-3"),
        queue_tasks=[queue_task(K, "q1")],
        timers=[timer(K, "t1")],
        transfers=[transfer(K, "x1")],
        visibility=visibility(K),
    )
    with pytest.raises(ConditionFailed):
        await store.commit(stale)
    assert await store.read_history(K, 1) == [(1, b"batch-1")]
    assert await store.load_queue_tasks() == []
    assert await store.load_timers() == []
    assert await store.load_transfers() == []
    assert await store.runs_of_namespace("ns", 10) == [K]


async def test_a_history_batch_is_written_once(store: Any) -> None:
    await store.commit(start(K, history_batch=(1, b"batch-1")))
    with pytest.raises(ConditionFailed):
        await store.commit(ExecutionWrite(K, b"again", 1, history_batch=(1, b"other")))
    assert await store.get_execution(K) == (b"s1", 1)
    assert await store.read_history(K, 1) == [(1, b"batch-1")]


async def test_history_is_read_from_the_batch_holding_the_first_event_wanted(store: Any) -> None:
    await store.commit(start(K, history_batch=(1, b"1-3")))
    await store.commit(ExecutionWrite(K, b"s", 1, history_batch=(4, b"4-6")))
    await store.commit(ExecutionWrite(K, b"s", 2, history_batch=(7, b"7")))
    assert [first for first, _ in await store.read_history(K, 1)] == [1, 4, 7]
    assert [first for first, _ in await store.read_history(K, 5)] == [4, 7]
    assert [first for first, _ in await store.read_history(K, 4)] == [4, 7]
    assert [first for first, _ in await store.read_history(K, 9)] == [7]
    assert await store.read_history(key(run_id="other"), 1) == []


async def test_missing_executions_read_as_none(store: Any) -> None:
    assert await store.get_execution(K) is None
    assert await store.get_current_execution("ns", "wf") is None


async def test_the_current_run_moves_only_from_the_run_it_names(store: Any) -> None:
    await store.commit(start(K))
    assert await store.get_current_execution("ns", "wf") == CurrentExecution(
        "run-1", "run-1", 1, "request-run-1"
    )
    second = key(run_id="run-2")
    with pytest.raises(ConditionFailed):  # a run is current already
        await store.commit(start(second))
    wrong = CurrentWrite("run-2", "run-1", 1, "r2", previous_run_id="run-0")
    with pytest.raises(ConditionFailed):
        await store.commit(ExecutionWrite(second, b"s", 0, current=wrong))
    assert await store.get_execution(second) is None  # the execution row went with the failed write

    right = CurrentWrite("run-2", "run-1", 1, "r2", previous_run_id="run-1")
    await store.commit(ExecutionWrite(second, b"s", 0, current=right))
    assert await store.get_current_execution("ns", "wf") == CurrentExecution("run-2", "run-1", 1, "r2")


async def test_closing_updates_the_current_runs_status(store: Any) -> None:
    await store.commit(start(K))
    closing = CurrentWrite("run-1", "run-1", 2, "request-run-1", previous_run_id="run-1")
    await store.commit(ExecutionWrite(K, b"closed", 1, current=closing, closed=True))
    current = await store.get_current_execution("ns", "wf")
    assert current is not None and current.status == 2


async def test_a_successor_is_created_in_the_same_write_as_its_predecessor_closes(store: Any) -> None:
    await store.commit(start(K, queue_tasks=[queue_task(K, "q-old")], timers=[timer(K, "t-old")]))
    nxt = key(run_id="run-2")
    successor = ExecutionWrite(
        nxt,
        b"new",
        0,
        history_batch=(1, b"new-1"),
        current=CurrentWrite("run-2", "run-1", 1, "r2", previous_run_id="run-1"),
        queue_tasks=[queue_task(nxt, "q-new")],
        timers=[timer(nxt, "t-new")],
    )
    await store.commit(
        ExecutionWrite(K, b"closed", 1, history_batch=(2, b"old-2"), closed=True, successor=successor)
    )
    assert await store.get_execution(K) == (b"closed", 2)
    assert await store.get_execution(nxt) == (b"new", 1)
    assert (await store.get_current_execution("ns", "wf")).run_id == "run-2"  # type: ignore[union-attr]
    assert [(t.key.run_id, t.task_key) for t in await store.load_queue_tasks()] == [("run-2", "q-new")]
    assert [(t.key.run_id, t.task_key) for t in await store.load_timers()] == [("run-2", "t-new")]


async def test_a_successor_that_cannot_be_created_undoes_the_whole_write(store: Any) -> None:
    await store.commit(start(K))
    nxt = key(run_id="run-2")
    await store.commit(ExecutionWrite(nxt, b"squatter", 0))
    successor = ExecutionWrite(
        nxt, b"new", 0, current=CurrentWrite("run-2", "run-1", 1, "r2", previous_run_id="run-1")
    )
    with pytest.raises(ConditionFailed):
        await store.commit(ExecutionWrite(K, b"closed", 1, closed=True, successor=successor))
    assert await store.get_execution(K) == (b"s1", 1)
    assert await store.get_execution(nxt) == (b"squatter", 1)
    assert (await store.get_current_execution("ns", "wf")).run_id == "run-1"  # type: ignore[union-attr]


async def test_concurrent_writes_fail_alone(store: Any) -> None:
    keys = [key(f"wf{i}") for i in range(20)]
    writes = [store.commit(ExecutionWrite(k, b"s", 0)) for k in keys]
    writes.append(store.commit(ExecutionWrite(keys[0], b"duplicate", 0)))
    outcomes = await asyncio.gather(*writes, return_exceptions=True)
    assert outcomes[:20] == [None] * 20
    assert isinstance(outcomes[20], ConditionFailed)
    for k in keys:
        assert await store.get_execution(k) == (b"s", 1)


async def test_of_concurrent_updates_from_one_version_exactly_one_wins(store: Any) -> None:
    await store.commit(start(K))
    outcomes = await asyncio.gather(
        *(store.commit(ExecutionWrite(K, f"v{i}".encode(), 1)) for i in range(8)), return_exceptions=True
    )
    assert sum(outcome is None for outcome in outcomes) == 1
    assert all(isinstance(o, ConditionFailed) for o in outcomes if o is not None)
    state, version = await store.get_execution(K)
    assert version == 2 and state == f"v{outcomes.index(None)}".encode()
