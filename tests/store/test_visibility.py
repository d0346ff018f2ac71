"""Visibility rows, list and count queries, custom search attributes, and deleting runs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload, SearchAttributes

from clepsydra.store.base import ExecutionWrite
from clepsydra.visibility.attributes import AttrType, Schema, TooMany
from clepsydra.visibility.compiler import compile_query
from tests.store.helpers import T0, key, queue_task, start, timer, transfer, visibility

NS = "ns"


def attributes(**values: object) -> bytes:
    fields = {
        name: Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())
        for name, value in values.items()
    }
    return SearchAttributes(indexed_fields=fields).SerializeToString()


async def schema(store: Any) -> Schema:
    return Schema({column: name for name, column in (await store.custom_search_attributes(NS)).items()})


async def listed(store: Any, query: str = "", page_size: int = 100) -> list[str]:
    """Run ids of every page of the query, in order."""
    compiled = compile_query(query, await schema(store))
    seen: list[str] = []
    after: Any = None
    while True:
        page = await store.list_visibility(NS, compiled, page_size, after)
        seen += [r.key.run_id for r in page]
        if len(page) < page_size:
            return seen
        after = len(seen) if compiled.order_by else store.keyset(page[-1])


async def count(store: Any, query: str = "") -> list[tuple[int | None, int]]:
    result: list[tuple[int | None, int]] = await store.count_visibility(
        NS, compile_query(query, await schema(store), counting=True)
    )
    return result


async def add_runs(store: Any) -> None:
    """r1..r3 open (started at 10, 20, 30 s), r4 and r5 closed (at 40 and 50 s)."""
    for i, (status, close) in enumerate([(1, None), (1, None), (1, None), (2, 50), (3, 40)], start=1):
        k = key(f"wf{i}", f"r{i}")
        record = visibility(
            k, status=status, start_seconds=10 * i, close_seconds=close, workflow_type="AB"[i % 2]
        )
        await store.commit(start(k, visibility=record))


async def test_a_visibility_row_reads_back_as_written(store: Any) -> None:
    k = key()
    memo, blob = b"\x0a\x03abc", attributes(BatcherUser="me")
    record = visibility(k, status=2, close_seconds=90, memo=memo, search_attributes=blob, parent=("p", "pr"))
    await store.commit(start(k, visibility=record))
    [row] = await store.list_visibility(NS, compile_query("", await schema(store)), 10, None)
    assert row == record


async def test_the_default_order_is_open_runs_by_start_then_closed_runs_by_close(store: Any) -> None:
    await add_runs(store)
    assert await listed(store) == ["r3", "r2", "r1", "r4", "r5"]
    for page_size in (1, 2, 3):
        assert await listed(store, page_size=page_size) == ["r3", "r2", "r1", "r4", "r5"]


async def test_filters_order_by_and_counts(store: Any) -> None:
    await add_runs(store)
    assert await listed(store, "ExecutionStatus = 'Running' AND WorkflowType = 'B'") == ["r3", "r1"]
    assert await listed(store, "WorkflowId STARTS_WITH 'WF' AND StartTime > '2024-05-01T12:00:25Z'") == [
        "r3",
        "r4",
        "r5",
    ]
    assert await listed(store, "ORDER BY CloseTime ASC", page_size=2) == ["r1", "r2", "r3", "r5", "r4"]
    assert await listed(store, "ORDER BY CloseTime DESC") == ["r4", "r5", "r1", "r2", "r3"]
    assert await count(store) == [(None, 5)]
    assert await count(store, "WorkflowType = 'A'") == [(None, 2)]
    assert await count(store, "GROUP BY ExecutionStatus") == [(1, 3), (2, 1), (3, 1)]


async def test_a_closing_write_replaces_the_row(store: Any) -> None:
    k = key()
    await store.commit(start(k, visibility=visibility(k, search_attributes=attributes(BatcherUser="a"))))
    await store.commit(ExecutionWrite(k, b"s", 1, visibility=visibility(k, status=2, close_seconds=5)))
    assert await listed(store, "ExecutionStatus = 'Completed'") == ["run-1"]
    assert await listed(store, "BatcherUser = 'a'") == []  # the new row has no attributes


async def test_runs_with_a_division_are_listed_only_when_asked_for(store: Any) -> None:
    plain, divided = key("a", "ra"), key("b", "rb")
    await store.commit(start(plain, visibility=visibility(plain)))
    blob = attributes(TemporalNamespaceDivision="TemporalScheduler")
    await store.commit(start(divided, visibility=visibility(divided, search_attributes=blob)))
    assert await listed(store) == ["ra"]
    assert await listed(store, "TemporalNamespaceDivision = 'TemporalScheduler'") == ["rb"]


async def test_custom_search_attributes_get_typed_columns(store: Any) -> None:
    await store.add_custom_search_attributes(
        NS, {"Customer": AttrType.KEYWORD, "Amount": AttrType.INT, "Notes": AttrType.TEXT}
    )
    await store.add_custom_search_attributes(NS, {"Customer": AttrType.INT, "Tags": AttrType.KEYWORD_LIST})
    assert await store.custom_search_attributes(NS) == {
        "Customer": "Keyword01",
        "Amount": "Int01",
        "Notes": "Text01",
        "Tags": "KeywordList01",
    }
    k1, k2 = key("a", "r1"), key("b", "r2")
    blob1 = attributes(Customer="acme", Amount=10, Notes="Big order, rush", Tags=["x", "y"])
    await store.commit(start(k1, visibility=visibility(k1, search_attributes=blob1)))
    blob2 = attributes(Customer="zeta", Amount="not a number", Tags=[])
    await store.commit(start(k2, visibility=visibility(k2, start_seconds=5, search_attributes=blob2)))
    assert await listed(store, "Customer = 'acme' AND Amount >= 10") == ["r1"]
    assert await listed(store, "Notes = 'rush'") == ["r1"]
    assert await listed(store, "Tags IN ('y', 'z')") == ["r1"]
    assert await listed(store, "Amount IS NULL AND Tags IS NULL") == ["r2"]  # invalid and empty: unset
    assert await listed(store, "ORDER BY Customer DESC") == ["r2", "r1"]


async def test_a_column_freed_by_a_removed_attribute_is_cleared_before_reuse(store: Any) -> None:
    await store.add_custom_search_attributes(NS, {"Old": AttrType.KEYWORD})
    k = key()
    await store.commit(start(k, visibility=visibility(k, search_attributes=attributes(Old="v"))))
    await store.remove_custom_search_attributes(NS, ["Old"])
    assert await store.custom_search_attributes(NS) == {}
    await store.add_custom_search_attributes(NS, {"New": AttrType.KEYWORD})
    assert await store.custom_search_attributes(NS) == {"New": "Keyword01"}
    assert await listed(store, "New IS NOT NULL") == []


async def test_a_type_has_a_fixed_number_of_columns(store: Any) -> None:
    await store.add_custom_search_attributes(NS, {f"B{i}": AttrType.BOOL for i in range(3)})
    with pytest.raises(TooMany):
        await store.add_custom_search_attributes(NS, {"B3": AttrType.BOOL, "K": AttrType.KEYWORD})
    assert sorted(await store.custom_search_attributes(NS)) == ["B0", "B1", "B2"]  # K was not added
    await store.refresh_visibility_statistics()


async def test_deleting_a_run_deletes_all_of_it(store: Any) -> None:
    k, other = key("wf", "r1"), key("wf2", "r2")
    for run in (k, other):
        await store.commit(
            start(
                run,
                history_batch=(1, b"h"),
                visibility=visibility(run),
                queue_tasks=[queue_task(run, "q")],
                timers=[timer(run, "t")],
                transfers=[transfer(run, "x")],
            )
        )
    assert await store.delete_run(k)
    assert not await store.delete_run(k)
    assert await store.get_execution(k) is None
    assert await store.get_current_execution("ns", "wf") is None
    assert await store.read_history(k, 1) == []
    assert await listed(store) == ["r2"]
    for loaded in (await store.load_queue_tasks(), await store.load_timers(), await store.load_transfers()):
        assert [t.key for t in loaded] == [other]
    assert await store.runs_of_namespace(NS, 10) == [other]


async def test_runs_closed_before_a_time_oldest_first(store: Any) -> None:
    await add_runs(store)
    assert await store.runs_closed_before(NS, T0.replace(second=45), 10) == [key("wf5", "r5")]
    assert await store.runs_closed_before(NS, T0.replace(second=59), 10) == [
        key("wf5", "r5"),
        key("wf4", "r4"),
    ]
    assert await store.runs_closed_before(NS, T0.replace(second=59), 1) == [key("wf5", "r5")]
    assert await store.runs_closed_before("other", T0.replace(second=59), 10) == []
