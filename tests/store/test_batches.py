"""Batch operation rows, and the runs a batch job walks through."""

from __future__ import annotations

from typing import Any

from clepsydra.store.base import BatchRecord
from clepsydra.visibility.attributes import Schema
from clepsydra.visibility.compiler import compile_query
from tests.store.helpers import key, start, visibility


def job(job_id: str, start_time: int, running: bool = True) -> BatchRecord:
    return BatchRecord("ns", job_id, running, start_time, b"request", b"progress", None)


async def test_a_job_is_created_once_and_saves_its_progress(store: Any) -> None:
    assert await store.create_batch(job("j1", 100))
    assert not await store.create_batch(job("j1", 200))
    await store.save_batch_progress("ns", "j1", False, b"done", "cursor-1")
    assert await store.get_batch("ns", "j1") == BatchRecord(
        "ns", "j1", False, 100, b"request", b"done", "cursor-1"
    )
    assert await store.get_batch("ns", "nope") is None


async def test_jobs_are_listed_newest_first_and_running_ones_found(store: Any) -> None:
    for job_id, when, running in [("a", 100, False), ("b", 300, True), ("c", 200, True)]:
        await store.create_batch(job(job_id, when, running))
    assert [j.job_id for j in await store.list_batches("ns", 10, 0)] == ["b", "c", "a"]
    assert [j.job_id for j in await store.list_batches("ns", 1, 1)] == ["c"]
    assert sorted(j.job_id for j in await store.running_batches()) == ["b", "c"]


async def test_a_job_walks_matching_runs_by_start_time_from_its_cursor(store: Any) -> None:
    for i, type_ in enumerate("ABABA"):
        k = key(f"wf{i}", f"r{i}")
        await store.commit(start(k, visibility=visibility(k, start_seconds=10 - i, workflow_type=type_)))
    query = compile_query("WorkflowType = 'A'", Schema({}))
    first = await store.batch_targets("ns", query, None, 2)
    assert [k.run_id for k, _ in first] == ["r4", "r2"]
    rest = await store.batch_targets("ns", query, first[-1][1], 2)
    assert [k.run_id for k, _ in rest] == ["r0"]
