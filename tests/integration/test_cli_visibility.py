"""The official `temporal` CLI against the server: workflows, listing, namespaces, search
attributes and task queues, checked on the JSON (`-o json`) it prints, whose shape was
recorded against the reference server."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

from tests.integration import visibility_support as support
from tests.integration.visibility_support import ensure_search_attributes, eventually
from tests.server_process import ServerProcess


@workflow.defn
class Echo:
    """Returns its input in capitals once told to finish (or at once for "now")."""

    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self, text: str) -> str:
        await workflow.wait_condition(lambda: self.done or text == "now")
        return text.upper()

    @workflow.signal
    def finish(self) -> None:
        self.done = True

    @workflow.query
    def state(self) -> dict[str, bool]:
        return {"done": self.done}


@pytest.fixture(autouse=True)
def _cli() -> None:
    support.temporal_binary()  # skips when the CLI is not installed


async def cli(server: ServerProcess, *args: str) -> Any:
    """`temporal <args> -o json`, off the event loop (a worker may be running on it)."""
    return await asyncio.to_thread(support.temporal_json, server.target, *args)


async def cli_text(server: ServerProcess, *args: str, check: bool = True) -> str:
    out = await asyncio.to_thread(support.temporal, server.target, *args, check=check)
    return out.stdout + out.stderr


async def test_workflow_lifecycle_commands(server: ServerProcess, client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Echo]):
        wid = f"cli-{task_queue}"
        started = await cli(
            server,
            "workflow",
            "start",
            "--type",
            "Echo",
            "--task-queue",
            task_queue,
            "-w",
            wid,
            "-i",
            '"later"',
        )
        assert set(started) == {"workflowId", "runId", "type", "namespace", "taskQueue"}
        assert (started["workflowId"], started["type"], started["taskQueue"]) == (wid, "Echo", task_queue)

        described = await cli(server, "workflow", "describe", "-w", wid)
        info = described["workflowExecutionInfo"]
        assert info["execution"] == {"workflowId": wid, "runId": started["runId"]}
        assert info["status"] == "WORKFLOW_EXECUTION_STATUS_RUNNING"
        assert described["executionConfig"]["taskQueue"]["name"] == task_queue

        async def answers() -> None:
            assert await cli(server, "workflow", "query", "-w", wid, "--type", "state") == {
                "queryResult": [{"done": False}]
            }

        await eventually(answers)
        await cli_text(server, "workflow", "signal", "-w", wid, "--name", "finish")
        result = await cli(server, "workflow", "result", "-w", wid)
        assert (result["status"], result["result"]) == ("COMPLETED", "LATER")
        assert result["closeEvent"]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"

        shown = await cli(server, "workflow", "show", "-w", wid)
        types = [e["eventType"] for e in shown["events"]]
        assert types[0] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
        assert "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED" in types
        assert types[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"


async def test_workflow_execute(server: ServerProcess, client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Echo]):
        executed = await cli(
            server, "workflow", "execute", "--type", "Echo", "--task-queue", task_queue, "-i", '"now"'
        )
        assert (executed["status"], executed["result"], executed["type"]) == ("COMPLETED", "NOW", "Echo")


async def test_cancel_terminate_delete(server: ServerProcess, client: Client, task_queue: str) -> None:
    first, second = f"cancel-{task_queue}", f"terminate-{task_queue}"
    for wid in (first, second):
        await cli(server, "workflow", "start", "--type", "Idle", "--task-queue", task_queue, "-w", wid)
    assert "Canceled workflow" in await cli_text(server, "workflow", "cancel", "-w", first)
    assert "Workflow terminated" in await cli_text(
        server, "workflow", "terminate", "-w", second, "--reason", "enough"
    )
    terminated = await cli(server, "workflow", "describe", "-w", second)
    assert terminated["workflowExecutionInfo"]["status"] == "WORKFLOW_EXECUTION_STATUS_TERMINATED"

    await cli_text(server, "workflow", "delete", "-w", second, "--yes")

    async def gone() -> None:
        out = await cli_text(server, "workflow", "describe", "-w", second, check=False)
        assert "not found" in out

    await eventually(gone, timeout=60)  # the reference deletes closed runs some 30 s later


async def test_list_and_count(server: ServerProcess, client: Client, task_queue: str) -> None:
    await ensure_search_attributes(client)
    for i, color in enumerate(["red", "blue", "red"]):
        await cli(
            server,
            "workflow",
            "start",
            "--type",
            "Paint",
            "--task-queue",
            task_queue,
            "-w",
            f"paint{i}-{task_queue}",
            "--search-attribute",
            f'VisKeyword="{color}"',
            "--search-attribute",
            f"VisInt={i}",
        )
    await cli_text(server, "workflow", "terminate", "-w", f"paint0-{task_queue}")
    base = f"TaskQueue = '{task_queue}'"

    async def listed() -> None:
        runs = await cli(server, "workflow", "list", "--query", f"{base} AND VisKeyword = 'red'")
        assert [r["execution"]["workflowId"] for r in runs] == [
            f"paint2-{task_queue}",
            f"paint0-{task_queue}",
        ]
        running, closed = runs
        assert running["status"] == "WORKFLOW_EXECUTION_STATUS_RUNNING"
        assert {
            "execution",
            "type",
            "startTime",
            "status",
            "executionTime",
            "taskQueue",
            "rootExecution",
        } <= set(running)
        assert "historyLength" not in running and "closeTime" not in running
        assert closed["status"] == "WORKFLOW_EXECUTION_STATUS_TERMINATED"
        assert {"closeTime", "historyLength", "executionDuration", "historySizeBytes"} <= set(closed)
        assert closed["searchAttributes"]["indexedFields"]["VisKeyword"]["data"]  # payloads as protojson

    await eventually(listed)
    assert await cli(server, "workflow", "count", "--query", base) == {"count": "3"}
    grouped = await cli(server, "workflow", "count", "--query", f"{base} GROUP BY ExecutionStatus")
    assert grouped == {
        "count": "3",
        "groups": [{"groupValues": ["Running"], "count": "2"}, {"groupValues": ["Terminated"], "count": "1"}],
    }
    limited = await cli(server, "workflow", "list", "--query", base, "--limit", "2")
    assert len(limited) == 2
    table = await cli_text(server, "workflow", "list", "--query", f"{base} AND VisInt >= 1")
    assert f"paint1-{task_queue}" in table and f"paint0-{task_queue}" not in table

    bad = await cli_text(server, "workflow", "list", "--query", "VisInt = 'one'", check=False)
    assert "invalid query" in bad and "invalid value type for search attribute VisInt of type Int" in bad


async def test_namespace_commands(server: ServerProcess) -> None:
    name = f"cli-ns-{uuid.uuid4().hex[:8]}"
    created = await cli_text(
        server, "operator", "namespace", "create", "-n", name, "--retention", "48h", "--description", "hello"
    )
    assert f"Namespace {name} successfully registered." in created
    await cli_text(
        server, "operator", "namespace", "update", "-n", name, "--description", "d2", "--email", "x@y"
    )
    described = await cli(server, "operator", "namespace", "describe", "-n", name)
    info = described["namespaceInfo"]
    assert (info["name"], info["description"], info["ownerEmail"]) == (name, "d2", "x@y")
    assert info["state"] == "NAMESPACE_STATE_REGISTERED"
    assert described["config"]["workflowExecutionRetentionTtl"] == "172800s"
    assert described["config"]["historyArchivalState"] == "ARCHIVAL_STATE_DISABLED"
    assert described["replicationConfig"]["activeClusterName"] == "active"
    listed = await cli(server, "operator", "namespace", "list")
    assert name in [n["namespaceInfo"]["name"] for n in listed]

    again = await cli_text(server, "operator", "namespace", "create", "-n", name, check=False)
    assert f'Namespace "{name}" already exists' in again
    short = await cli_text(
        server, "operator", "namespace", "update", "-n", name, "--retention", "30m", check=False
    )
    assert "A valid retention period is not set on request." in short

    deleted = await cli_text(server, "operator", "namespace", "delete", "-n", name, "--yes")
    assert f"Namespace {name} has been deleted." in deleted
    missing = await cli_text(server, "operator", "namespace", "describe", "-n", name, check=False)
    assert f"Namespace {name} is not found." in missing


async def test_search_attribute_commands(server: ServerProcess) -> None:
    name = f"CliAttr{uuid.uuid4().hex[:6]}"
    added = await cli_text(
        server, "operator", "search-attribute", "create", "--name", name, "--type", "Keyword"
    )
    assert "Search attributes have been added" in added
    listed = await cli(server, "operator", "search-attribute", "list")
    assert listed["customAttributes"][name] == "INDEXED_VALUE_TYPE_KEYWORD"
    assert listed["systemAttributes"]["WorkflowType"] == "INDEXED_VALUE_TYPE_KEYWORD"
    removed = await cli_text(server, "operator", "search-attribute", "remove", "--name", name, "--yes")
    assert "Search attributes have been removed" in removed
    listed = await cli(server, "operator", "search-attribute", "list")
    assert name not in listed.get("customAttributes", {})
    reserved = await cli_text(
        server,
        "operator",
        "search-attribute",
        "create",
        "--name",
        "WorkflowId",
        "--type",
        "Keyword",
        check=False,
    )
    assert "Search attribute WorkflowId is reserved by system." in reserved


async def test_task_queue_commands(server: ServerProcess, client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Echo]):

        async def polled() -> None:
            described = await cli(server, "task-queue", "describe", "--task-queue", task_queue)
            assert set(described) == {"reachability", "pollers", "stats"}
            assert {p["taskQueueType"] for p in described["pollers"]} == {"workflow"}
            assert set(described["pollers"][0]) == {
                "buildId",
                "taskQueueType",
                "identity",
                "lastAccessTime",
                "ratePerSecond",
            }
            assert {s["taskQueueType"] for s in described["stats"]} == {"workflow", "activity"}
            assert "approximateBacklogCount" in described["stats"][0]

        await eventually(polled)
    partitions = await cli(server, "task-queue", "list-partition", "--task-queue", task_queue)
    assert partitions["workflowTaskQueuePartitions"][0]["key"] == task_queue
    assert set(partitions) == {"activityTaskQueuePartitions", "workflowTaskQueuePartitions"}


async def test_cluster_describe(server: ServerProcess) -> None:
    described = await cli(server, "operator", "cluster", "describe")
    assert described["clusterName"] == "active"
    # The database the server runs on (the PostgreSQL pass of this suite gives it a db_url).
    kind = "postgres" if getattr(server, "db_url", None) else "sqlite"
    assert (described["persistenceStore"], described["visibilityStore"]) == (kind, kind)


async def test_terminate_by_query_and_batch_commands(
    server: ServerProcess, client: Client, task_queue: str
) -> None:
    for i in range(2):
        await cli(
            server,
            "workflow",
            "start",
            "--type",
            "Idle",
            "--task-queue",
            task_queue,
            "-w",
            f"b{i}-{task_queue}",
        )
    query = f"TaskQueue = '{task_queue}'"

    async def both_listed() -> None:
        assert await cli(server, "workflow", "count", "--query", query) == {"count": "2"}

    await eventually(both_listed)
    started = await cli(server, "workflow", "terminate", "--query", query, "--reason", "bye", "--yes")
    job_id = started["batchJobId"]

    async def completed() -> dict[str, Any]:
        described = await cli(server, "batch", "describe", "--job-id", job_id)
        assert described["state"] == "BATCH_OPERATION_STATE_COMPLETED"
        return described

    described = await eventually(completed, timeout=30)
    assert described["operationType"] == "BATCH_OPERATION_TYPE_TERMINATE_WORKFLOW"
    assert (described["totalOperationCount"], described["completeOperationCount"]) == ("2", "2")
    assert (described["reason"], described["query"]) == ("bye", query)
    listed = await cli(server, "batch", "list")
    assert job_id in [job["jobId"] for job in listed]
    grouped = await cli(server, "workflow", "count", "--query", f"{query} GROUP BY ExecutionStatus")
    assert grouped["groups"] == [{"groupValues": ["Terminated"], "count": "2"}]
