"""List, count and scan with Temporal's filter language, through the official SDK.

The expectations were recorded against the reference server (see
CLEPSYDRA_TEST_SERVER=reference); where Clepsydra goes beyond it (ORDER BY) the test is
marked Clepsydra-only.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio import workflow
from temporalio.api.filter.v1 import (
    StartTimeFilter,
    StatusFilter,
    WorkflowExecutionFilter,
    WorkflowTypeFilter,
)
from temporalio.api.workflowservice.v1 import (
    CountWorkflowExecutionsRequest,
    ListClosedWorkflowExecutionsRequest,
    ListOpenWorkflowExecutionsRequest,
    ListWorkflowExecutionsRequest,
    ScanWorkflowExecutionsRequest,
)
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from tests.integration.visibility_support import (
    BOOL,
    DATETIME,
    DOUBLE,
    INT,
    KEYWORD,
    KEYWORD_LIST,
    TEXT,
    clepsydra_only,
    ensure_search_attributes,
    eventually,
    list_ids,
)

DAY0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@workflow.defn
class Tagging:
    """Tags itself through search attribute and memo upserts, step by step on signals."""

    def __init__(self) -> None:
        self.steps = 0

    @workflow.run
    async def run(self) -> None:
        workflow.upsert_search_attributes([KEYWORD.value_set("tagged"), KEYWORD_LIST.value_set(["x", "y"])])
        workflow.upsert_memo({"note": "first"})
        await workflow.wait_condition(lambda: self.steps >= 1)
        workflow.upsert_search_attributes([KEYWORD.value_unset(), INT.value_set(42)])
        await workflow.wait_condition(lambda: self.steps >= 2)

    @workflow.signal
    def step(self) -> None:
        self.steps += 1


# Five runs; wf1 and wf4 get terminated (wf4 last), the others keep running.
RUNS = [
    [
        (KEYWORD, "alpha"),
        (TEXT, "Hello big World"),
        (INT, 1),
        (DOUBLE, 1.5),
        (BOOL, True),
        (DATETIME, DAY0),
        (KEYWORD_LIST, ["a", "b"]),
    ],
    [
        (KEYWORD, "beta"),
        (TEXT, "hello there"),
        (INT, 2),
        (DOUBLE, -2.0),
        (BOOL, False),
        (DATETIME, DAY0 + timedelta(days=1)),
        (KEYWORD_LIST, ["b"]),
    ],
    [(KEYWORD, "alphabet"), (INT, 3)],
    [],
    [(KEYWORD, "Alpha"), (TEXT, "worldwide"), (INT, -5), (DOUBLE, 0.0), (KEYWORD_LIST, [])],
]


@pytest.fixture(scope="module")
async def dataset(client: Client) -> str:
    """The task queue of the five runs, once visibility shows all of them."""
    await ensure_search_attributes(client)
    task_queue = f"vis-{uuid.uuid4().hex[:8]}"
    for i, pairs in enumerate(RUNS):
        attributes = TypedSearchAttributes([SearchAttributePair(key, value) for key, value in pairs])  # type: ignore[misc]
        handle = await client.start_workflow(
            f"Type{i % 2}", id=f"wf{i}-{task_queue}", task_queue=task_queue, search_attributes=attributes
        )
        if i in (1, 4):
            await handle.terminate("done with it")

    async def settled() -> None:
        count = await client.count_workflows(f"TaskQueue = '{task_queue}' AND ExecutionStatus = 'Terminated'")
        assert count.count == 2

    await eventually(settled)
    return task_queue


async def matching(client: Client, task_queue: str, query: str) -> list[str]:
    ids = await list_ids(client, f"TaskQueue = '{task_queue}'" + (f" AND ({query})" if query else ""))
    return [i.split("-")[0] for i in ids]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["wf3", "wf2", "wf0", "wf4", "wf1"]),  # open runs newest first, then closed, last closed first
        ("VisKeyword = 'alpha'", ["wf0"]),
        ('VisKeyword = "alpha"', ["wf0"]),
        ("VisKeyword != 'alpha'", ["wf2", "wf4", "wf1"]),  # unset values match neither = nor !=
        ("VisKeyword IN ('alpha', 'beta')", ["wf0", "wf1"]),
        ("VisKeyword NOT IN ('alpha', 'beta')", ["wf2", "wf4"]),
        ("VisKeyword STARTS_WITH 'alph'", ["wf2", "wf0", "wf4"]),  # ASCII case-insensitive, as SQL LIKE
        ("VisKeyword NOT STARTS_WITH 'alph'", ["wf1"]),
        ("VisKeyword IS NULL", ["wf3"]),
        ("VisKeyword IS NOT NULL", ["wf2", "wf0", "wf4", "wf1"]),
        ("VisKeyword > 'alpha'", ["wf2", "wf1"]),
        ("VisKeyword BETWEEN 'a' AND 'b'", ["wf2", "wf0"]),
        ("VisKeyword NOT BETWEEN 'a' AND 'b'", ["wf4", "wf1"]),
        ("VisKeyword STARTS_WITH '%'", []),
        ("VisKeyword = 'it''s'", []),
        ("VisText = 'hello'", ["wf0", "wf1"]),
        ("VisText = 'HELLO'", ["wf0", "wf1"]),
        ("VisText = 'world hello'", ["wf0", "wf1"]),  # any of the words
        ("VisText = 'Hello-big'", ["wf0"]),  # the words of one term in a row
        ("VisText = 'Wörld'", ["wf0"]),  # diacritics folded
        ("VisText = 'wor'", []),  # whole words only
        ("VisText != 'hello'", ["wf3", "wf2", "wf4"]),
        ("NOT (VisText = 'hello')", ["wf3", "wf2", "wf4"]),
        ("VisText IS NULL", ["wf3", "wf2"]),
        ("VisInt = 1", ["wf0"]),
        ("VisInt > 1", ["wf2", "wf1"]),
        ("VisInt < 0", ["wf4"]),
        ("VisInt != 2", ["wf2", "wf0", "wf4"]),
        ("VisInt <> 2", ["wf2", "wf0", "wf4"]),
        ("VisInt IN (1, 3)", ["wf2", "wf0"]),
        ("VisInt BETWEEN 1 AND 2", ["wf0", "wf1"]),
        ("VisInt not between 1 and 2", ["wf2", "wf4"]),
        ("VisInt = 1e0", ["wf0"]),
        ("VisInt = -5", ["wf4"]),
        ("VisDouble > 0", ["wf0"]),
        ("VisDouble = 1.5", ["wf0"]),
        ("VisDouble = 0", ["wf4"]),
        ("VisBool = true", ["wf0"]),
        ("VisBool = FALSE", ["wf1"]),
        ("VisBool != true", ["wf1"]),
        ("VisDatetime > '2024-05-01T13:00:00Z'", ["wf1"]),
        ("VisDatetime < '2024-05-01T16:00:00+02:00'", ["wf0"]),
        ("VisDatetime BETWEEN '2024-05-01T00:00:00Z' AND '2024-05-03T00:00:00Z'", ["wf0", "wf1"]),
        ("VisDatetime > 1714600000000000000", ["wf1"]),  # nanoseconds since the epoch
        ("VisKeywordList = 'a'", ["wf0"]),  # contains
        ("VisKeywordList = 'b'", ["wf0", "wf1"]),
        ("VisKeywordList != 'a'", ["wf3", "wf2", "wf4", "wf1"]),
        ("VisKeywordList IN ('a', 'x')", ["wf0"]),
        ("VisKeywordList NOT IN ('a')", ["wf3", "wf2", "wf4", "wf1"]),
        ("VisKeywordList IS NULL", ["wf3", "wf2", "wf4"]),  # an empty list is no value
        ("ExecutionStatus = 'Running'", ["wf3", "wf2", "wf0"]),
        ("ExecutionStatus = 'Terminated'", ["wf4", "wf1"]),
        ("ExecutionStatus != 'Running'", ["wf4", "wf1"]),
        ("ExecutionStatus = 1", ["wf3", "wf2", "wf0"]),
        ("ExecutionStatus IN ('Running', 'Completed')", ["wf3", "wf2", "wf0"]),
        ("WorkflowType = 'Type0'", ["wf2", "wf0", "wf4"]),
        ("WorkflowType STARTS_WITH 'Type'", ["wf3", "wf2", "wf0", "wf4", "wf1"]),
        ("WorkflowId IS NULL", []),
        ("CloseTime IS NULL", ["wf3", "wf2", "wf0"]),
        ("CloseTime > '2000-01-01T00:00:00Z'", ["wf4", "wf1"]),
        ("StartTime > '2000-01-01T00:00:00Z'", ["wf3", "wf2", "wf0", "wf4", "wf1"]),
        ("ExecutionTime < '2100-01-01T00:00:00Z'", ["wf3", "wf2", "wf0", "wf4", "wf1"]),
        ("ExecutionDuration > 0", ["wf4", "wf1"]),  # known once closed
        ("ExecutionDuration < '1h'", ["wf4", "wf1"]),
        ("ExecutionDuration > '00:10:00'", []),
        ("HistoryLength >= 2", ["wf4", "wf1"]),  # known once closed
        ("HistoryLength = 0", []),
        ("StateTransitionCount > 0", ["wf4", "wf1"]),
        ("TemporalChangeVersion = 'x'", []),
        ("BuildIds IS NULL", ["wf3", "wf2", "wf0", "wf4", "wf1"]),
        ("NOT (VisInt = 1)", ["wf2", "wf4", "wf1"]),  # unset stays unknown under NOT
        ("NOT VisKeyword IS NULL", ["wf2", "wf0", "wf4", "wf1"]),
        ("VisInt = 1 or VisInt = 2 and VisKeyword = 'x'", ["wf0"]),  # AND binds tighter
        ("(VisInt = 1 or VisInt = 2) and VisKeyword = 'beta'", ["wf1"]),
        ("`VisInt` = 1", ["wf0"]),
    ],
)
async def test_list_filters_as_the_reference_does(
    client: Client, dataset: str, query: str, expected: list[str]
) -> None:
    assert await matching(client, dataset, query) == expected


@workflow.defn
class Child:
    @workflow.run
    async def run(self) -> str:
        return "child"


@workflow.defn
class Parent:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_child_workflow(Child.run, id=f"{workflow.info().workflow_id}-child")


async def test_children_are_found_by_parent_and_root(client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Parent, Child]):
        parent = await client.start_workflow(Parent.run, id=f"parent-{task_queue}", task_queue=task_queue)
        assert await parent.result() == "child"

    async def found() -> None:
        child = f"{parent.id}-child"
        assert await list_ids(client, f"ParentWorkflowId = '{parent.id}'") == [child]
        assert await list_ids(client, f"RootWorkflowId = '{parent.id}' AND ParentWorkflowId IS NULL") == [
            parent.id
        ]
        response = await client.workflow_service.list_workflow_executions(
            ListWorkflowExecutionsRequest(namespace="default", query=f"WorkflowId = '{child}'")
        )
        [info] = response.executions
        assert info.parent_execution.workflow_id == parent.id
        assert info.root_execution.workflow_id == parent.id

    await eventually(found)


async def test_upserts_are_listed_as_they_happen(client: Client, task_queue: str) -> None:
    await ensure_search_attributes(client)
    base = f"TaskQueue = '{task_queue}'"
    async with Worker(client, task_queue=task_queue, workflows=[Tagging]):
        handle = await client.start_workflow(Tagging.run, id=f"tagging-{task_queue}", task_queue=task_queue)

        async def tagged() -> None:
            assert await list_ids(client, f"{base} AND VisKeyword = 'tagged' AND VisKeywordList = 'y'") == [
                handle.id
            ]
            [execution] = [e async for e in client.list_workflows(base)]
            assert await execution.memo_value("note") == "first"

        await eventually(tagged)
        await handle.signal(Tagging.step)

        async def retagged() -> None:
            assert await list_ids(client, f"{base} AND VisKeyword IS NULL AND VisInt = 42") == [handle.id]

        await eventually(retagged)
        await handle.signal(Tagging.step)
        await handle.result()

        async def completed() -> None:
            assert await list_ids(client, f"{base} AND ExecutionStatus = 'Completed' AND VisInt = 42") == [
                handle.id
            ]

        await eventually(completed)


async def test_list_ignores_group_by(client: Client, dataset: str) -> None:
    ids = await list_ids(client, f"TaskQueue = '{dataset}' AND VisInt > 0 GROUP BY ExecutionStatus")
    assert [i.split("-")[0] for i in ids] == ["wf2", "wf0", "wf1"]


async def test_count_and_count_by_status(client: Client, dataset: str) -> None:
    total = await client.count_workflows(f"TaskQueue = '{dataset}'")
    assert (total.count, total.groups) == (5, [])
    grouped = await client.count_workflows(f"TaskQueue = '{dataset}' GROUP BY ExecutionStatus")
    assert grouped.count == 5
    assert [(g.group_values, g.count) for g in grouped.groups] == [(["Running"], 3), (["Terminated"], 2)]
    raw = await client.workflow_service.count_workflow_executions(
        CountWorkflowExecutionsRequest(
            namespace="default", query=f"TaskQueue = '{dataset}' GROUP BY ExecutionStatus"
        )
    )
    value = raw.groups[0].group_values[0]
    assert (value.metadata["encoding"], value.metadata["type"], value.data) == (
        b"json/plain",
        b"Keyword",
        b'"Running"',
    )


async def test_listed_runs_carry_what_the_reference_shows(client: Client, dataset: str) -> None:
    response = await client.workflow_service.list_workflow_executions(
        ListWorkflowExecutionsRequest(namespace="default", query=f"TaskQueue = '{dataset}'")
    )
    running, closed = response.executions[0], response.executions[4]
    assert running.execution.workflow_id.startswith("wf3")
    assert running.status == WorkflowExecutionStatus.RUNNING.value
    assert running.HasField("memo") and running.HasField("search_attributes")
    assert running.root_execution == running.execution
    assert running.task_queue == dataset
    # History length, size and duration are known to visibility once the run has closed.
    assert (running.history_length, running.HasField("execution_duration")) == (0, False)
    assert closed.status == WorkflowExecutionStatus.TERMINATED.value
    assert closed.history_length >= 2 and closed.history_size_bytes > 0 and closed.state_transition_count > 0
    assert closed.HasField("close_time") and closed.HasField("execution_duration")
    shown = response.executions[2].search_attributes.indexed_fields
    assert shown["VisKeyword"].data == b'"alpha"' and shown["VisKeywordList"].data == b'["a","b"]'


async def test_pages_cover_every_run_once(client: Client, dataset: str) -> None:
    everything = await list_ids(client, f"TaskQueue = '{dataset}'")
    assert await list_ids(client, f"TaskQueue = '{dataset}'", page_size=2) == everything
    pages, token = [], b""
    while True:
        response = await client.workflow_service.scan_workflow_executions(
            ScanWorkflowExecutionsRequest(
                namespace="default", query=f"TaskQueue = '{dataset}'", page_size=2, next_page_token=token
            )
        )
        pages.append([e.execution.workflow_id for e in response.executions])
        token = response.next_page_token
        if not token:
            break
    assert sorted(i for page in pages for i in page) == sorted(everything)
    assert all(len(page) <= 2 for page in pages)


async def test_open_and_closed_lists(client: Client, dataset: str) -> None:
    workflow_id = f"wf0-{dataset}"
    opened = await client.workflow_service.list_open_workflow_executions(
        ListOpenWorkflowExecutionsRequest(
            namespace="default", execution_filter=WorkflowExecutionFilter(workflow_id=workflow_id)
        )
    )
    assert [e.execution.workflow_id for e in opened.executions] == [workflow_id]
    by_type = await client.workflow_service.list_open_workflow_executions(
        ListOpenWorkflowExecutionsRequest(namespace="default", type_filter=WorkflowTypeFilter(name="Type1"))
    )
    assert f"wf3-{dataset}" in [e.execution.workflow_id for e in by_type.executions]
    closed = await client.workflow_service.list_closed_workflow_executions(
        ListClosedWorkflowExecutionsRequest(
            namespace="default",
            execution_filter=WorkflowExecutionFilter(workflow_id=f"wf1-{dataset}"),
        )
    )
    assert [e.status for e in closed.executions] == [WorkflowExecutionStatus.TERMINATED.value]
    with pytest.raises(RPCError) as error:
        await client.workflow_service.list_closed_workflow_executions(
            ListClosedWorkflowExecutionsRequest(
                namespace="default", status_filter=StatusFilter(status=WorkflowExecutionStatus.RUNNING.value)
            )
        )
    assert error.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert error.value.message == "StatusFilter must be specified and must be not Running."


async def test_closed_list_time_filter_is_on_close_time(client: Client, dataset: str) -> None:
    closed = await client.workflow_service.list_closed_workflow_executions(
        ListClosedWorkflowExecutionsRequest(
            namespace="default", execution_filter=WorkflowExecutionFilter(workflow_id=f"wf4-{dataset}")
        )
    )
    close_time = closed.executions[0].close_time.ToDatetime(UTC)
    window = StartTimeFilter()
    window.earliest_time.FromDatetime(close_time - timedelta(milliseconds=1))
    window.latest_time.FromDatetime(close_time + timedelta(milliseconds=1))
    found = await client.workflow_service.list_closed_workflow_executions(
        ListClosedWorkflowExecutionsRequest(
            namespace="default",
            start_time_filter=window,
            execution_filter=WorkflowExecutionFilter(workflow_id=f"wf4-{dataset}"),
        )
    )
    assert len(found.executions) == 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "VisKeyword LIKE 'a%'",
            "operator 'LIKE' not supported for Keyword type search attribute 'VisKeyword'",
        ),
        ("VisText STARTS_WITH 'he'", "operator 'STARTS_WITH' not supported for Text type search attribute"),
        ("VisText IN ('hello')", "operator 'IN' not supported for Text type search attribute 'VisText'"),
        ("VisText > 'a'", "operator '>' not supported for Text type search attribute 'VisText'"),
        ("VisText = ''", "no tokens found filtering on Text type search attribute VisText"),
        (
            "VisText BETWEEN 'a' AND 'b'",
            "cannot do range condition on search attribute 'VisText' of type Text",
        ),
        ("VisKeywordList STARTS_WITH 'a'", "operator 'STARTS_WITH' not supported for KeywordList type"),
        ("VisInt = '1'", 'invalid value type for search attribute VisInt of type Int: "1" (type: string)'),
        ("VisBool = 1", "invalid value type for search attribute VisBool of type Bool: 1 (type: int64)"),
        ("VisKeyword = true", "of type Keyword: true (type: bool)"),
        ("VisDatetime > '2024-05-01'", "unable to parse datetime '2024-05-01'"),
        ("ExecutionStatus = 'running'", "invalid ExecutionStatus value 'running'"),
        ("ExecutionStatus = 99", "invalid ExecutionStatus value 99"),
        (
            "ExecutionDuration > 'bogus'",
            "invalid duration value for search attribute ExecutionDuration: bogus",
        ),
        ("visint = 1", "invalid search attribute: visint"),
        ("Unknown = 1", "invalid search attribute: Unknown"),
        ("VisKeyword", "invalid expression: incomplete expression"),
        (
            "VisInt = VisInt",
            'column name on the right side of comparison expression (did you forget to quote "VisInt"?)',
        ),
        ("VisInt == 1", "malformed SQL query: syntax error at position"),
        ("VisInt = 1 AND", "malformed SQL query: syntax error at position"),
        ("VisInt = 1 LIMIT 2", "operation is not supported: 'LIMIT' clause"),
    ],
)
async def test_bad_queries_are_invalid_arguments(client: Client, query: str, message: str) -> None:
    await ensure_search_attributes(client)
    with pytest.raises(RPCError) as error:
        await client.workflow_service.list_workflow_executions(
            ListWorkflowExecutionsRequest(namespace="default", query=query)
        )
    assert error.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert error.value.message.startswith("invalid query: ")
    assert message in error.value.message


async def test_count_groups_only_by_status(client: Client) -> None:
    with pytest.raises(RPCError) as error:
        await client.count_workflows("GROUP BY WorkflowType")
    assert error.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert "'GROUP BY' clause is not supported for search attribute WorkflowType" in error.value.message


async def test_namespace_is_required(client: Client) -> None:
    with pytest.raises(RPCError) as error:
        await client.workflow_service.list_workflow_executions(ListWorkflowExecutionsRequest(query=""))
    assert (error.value.status, error.value.message) == (
        RPCStatusCode.INVALID_ARGUMENT,
        "Namespace is empty.",
    )


@clepsydra_only
async def test_order_by_beyond_the_reference(client: Client, dataset: str) -> None:
    base = f"TaskQueue = '{dataset}'"
    by_int = await list_ids(client, f"{base} ORDER BY VisInt DESC")
    assert [i.split("-")[0] for i in by_int] == ["wf2", "wf1", "wf0", "wf4", "wf3"]  # unset last
    by_start = await list_ids(client, f"{base} AND VisInt IS NOT NULL ORDER BY StartTime", page_size=2)
    assert [i.split("-")[0] for i in by_start] == ["wf0", "wf1", "wf2", "wf4"]


@clepsydra_only
async def test_page_tokens_belong_to_their_query(client: Client) -> None:
    with pytest.raises(RPCError) as error:
        await client.workflow_service.list_workflow_executions(
            ListWorkflowExecutionsRequest(namespace="default", page_size=1, next_page_token=b"garbage")
        )
    assert error.value.status == RPCStatusCode.INVALID_ARGUMENT
