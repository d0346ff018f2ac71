"""Task-queue tasks, timers and transfers: written with a change, deleted with the change
they trigger (or alone), and loaded back in the order they were written."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from clepsydra.store.base import ExecutionWrite
from tests.store.helpers import T0, key, queue_task, start, timer, transfer

K = key()


async def test_queue_tasks_load_in_the_order_they_were_written(store: Any) -> None:
    other = key("wf2")
    await store.commit(start(K, queue_tasks=[queue_task(K, "q1", "tq-a", kind=1)]))
    await store.commit(start(other, queue_tasks=[queue_task(other, "q1", "tq-b", kind=2)]))
    await store.commit(ExecutionWrite(K, b"s", 1, queue_tasks=[queue_task(K, "q2"), queue_task(K, "q3")]))
    loaded = await store.load_queue_tasks()
    assert [(t.key.workflow_id, t.task_key, t.task_queue, t.kind) for t in loaded] == [
        ("wf", "q1", "tq-a", 1),
        ("wf2", "q1", "tq-b", 2),
        ("wf", "q2", "tq", 1),
        ("wf", "q3", "tq", 1),
    ]
    assert loaded[0].data == b"data-q1"


async def test_writing_a_task_again_replaces_it_and_moves_it_last(store: Any) -> None:
    await store.commit(start(K, queue_tasks=[queue_task(K, "q1"), queue_task(K, "q2")]))
    again = queue_task(K, "q1", "tq-other", kind=3)
    await store.commit(ExecutionWrite(K, b"s", 1, queue_tasks=[again]))
    assert [(t.task_key, t.task_queue, t.kind) for t in await store.load_queue_tasks()] == [
        ("q2", "tq", 1),
        ("q1", "tq-other", 3),
    ]


async def test_the_task_a_change_acts_on_is_deleted_with_it(store: Any) -> None:
    await store.commit(
        start(
            K,
            queue_tasks=[queue_task(K, "q1"), queue_task(K, "q2")],
            timers=[timer(K, "t1"), timer(K, "t2")],
            transfers=[transfer(K, "x1"), transfer(K, "x2")],
        )
    )
    await store.commit(ExecutionWrite(K, b"s", 1, done_queue_task="q1"))
    await store.commit(ExecutionWrite(K, b"s", 2, done_timer="t2"))
    await store.commit(ExecutionWrite(K, b"s", 3, done_transfer="x1"))
    assert [t.task_key for t in await store.load_queue_tasks()] == ["q2"]
    assert [t.task_key for t in await store.load_timers()] == ["t1"]
    assert [t.task_key for t in await store.load_transfers()] == ["x2"]


async def test_tasks_are_deleted_alone_and_deleting_twice_is_harmless(store: Any) -> None:
    await store.commit(
        start(K, queue_tasks=[queue_task(K, "q1")], timers=[timer(K, "t1")], transfers=[transfer(K, "x1")])
    )
    for _ in range(2):
        await store.delete_queue_task(K, "q1")
        await store.delete_timer(K, "t1")
        await store.delete_transfer(K, "x1")
    assert await store.load_queue_tasks() == []
    assert await store.load_timers() == []
    assert await store.load_transfers() == []
    assert await store.get_execution(K) == (b"s1", 1)


async def test_timers_keep_their_due_time(store: Any) -> None:
    await store.commit(start(K, timers=[timer(K, "t1", seconds=1.5), timer(K, "t2", seconds=3600)]))
    loaded = sorted(await store.load_timers(), key=lambda t: t.task_key)
    assert [(t.task_key, t.fire_time, t.data) for t in loaded] == [
        ("t1", timer(K, "t1", 1.5).fire_time, b"timer-t1"),
        ("t2", timer(K, "t2", 3600).fire_time, b"timer-t2"),
    ]
    assert loaded[0].fire_time.tzinfo is not None and loaded[0].fire_time > T0


async def test_a_timer_written_again_gets_the_new_due_time(store: Any) -> None:
    await store.commit(start(K, timers=[timer(K, "t1", seconds=1)]))
    await store.commit(ExecutionWrite(K, b"s", 1, timers=[timer(K, "t1", seconds=9)]))
    assert [t.fire_time for t in await store.load_timers()] == [timer(K, "t1", 9).fire_time]


async def test_closing_a_run_drops_its_queue_tasks_and_timers_but_not_its_transfers(store: Any) -> None:
    other = key("wf2")
    await store.commit(start(other, queue_tasks=[queue_task(other, "q")], timers=[timer(other, "t")]))
    await store.commit(
        start(K, queue_tasks=[queue_task(K, "q1")], timers=[timer(K, "t1")], transfers=[transfer(K, "x1")])
    )
    closing = ExecutionWrite(
        K, b"closed", 1, closed=True, transfers=[transfer(K, "x2")], timers=[timer(K, "retention")]
    )
    await store.commit(closing)
    assert [(t.key.workflow_id, t.task_key) for t in await store.load_queue_tasks()] == [("wf2", "q")]
    # The closing write's own timers are written after the run's old ones are dropped.
    assert sorted((t.key.workflow_id, t.task_key) for t in await store.load_timers()) == [
        ("wf", "retention"),
        ("wf2", "t"),
    ]
    assert [t.task_key for t in await store.load_transfers()] == ["x1", "x2"]


async def test_transfers_load_in_the_order_they_were_written(store: Any) -> None:
    await store.commit(start(K, transfers=[transfer(K, "x2"), transfer(K, "x1")]))
    await store.commit(ExecutionWrite(K, b"s", 1, transfers=[transfer(K, "x0")]))
    loaded = await store.load_transfers()
    assert [t.task_key for t in loaded] == ["x2", "x1", "x0"]
    assert loaded[0].data == b"transfer-x2" and loaded[0].key == K


async def test_the_pending_tasks_of_one_execution_load_together(store: Any) -> None:
    other = key("wf2")
    await store.commit(start(other, queue_tasks=[queue_task(other, "q")], timers=[timer(other, "t")]))
    await store.commit(
        start(K, queue_tasks=[queue_task(K, "q1")], timers=[timer(K, "t1", 5)], transfers=[transfer(K, "x1")])
    )
    await store.commit(ExecutionWrite(K, b"s", 1, transfers=[transfer(K, "x2")], done_queue_task="q1"))
    queue_tasks, timers, transfers = await store.load_tasks_of(K)
    assert queue_tasks == []
    assert [(t.task_key, t.fire_time, t.data) for t in timers] == [
        ("t1", timer(K, "t1", 5).fire_time, b"timer-t1")
    ]
    assert [t.task_key for t in transfers] == ["x1", "x2"]


async def test_timers_load_by_due_time(store: Any) -> None:
    for seconds in (1, 2, 3):
        k = key(f"wf-{seconds}")
        await store.commit(start(k, timers=[timer(k, "t", seconds)]))
    due = await store.load_timers(after=T0 + timedelta(seconds=1), until=T0 + timedelta(seconds=3))
    assert sorted(t.key.workflow_id for t in due) == ["wf-2", "wf-3"]
