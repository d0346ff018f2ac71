"""Summaries and details (user metadata) of starts, timers, activities and children: kept in
the history events the reference puts them on, and shown by describe."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.converter import default
from temporalio.worker import Worker

from tests.integration.helpers import events_of_type
from tests.server_process import ServerProcess


@activity.defn
async def noop() -> None:
    return None


@workflow.defn
class Child:
    @workflow.run
    async def run(self) -> str:
        return "child"


@workflow.defn
class Annotated:
    @workflow.run
    async def run(self) -> str:
        workflow.set_current_details("working on it")
        await workflow.sleep(timedelta(milliseconds=10), summary="a short nap")
        await workflow.execute_activity(
            noop, start_to_close_timeout=timedelta(seconds=10), summary="does nothing"
        )
        await workflow.execute_child_workflow(
            Child.run,
            id=f"{workflow.info().workflow_id}-child",
            static_summary="the child",
            static_details="the child, in detail",
        )
        return "done"


def summary(event: HistoryEvent) -> str | None:
    return default().payload_converter.from_payload(event.user_metadata.summary, str)


async def test_summaries_and_details_are_kept_and_shown(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Annotated, Child], activities=[noop]):
        handle = await client.start_workflow(
            Annotated.run,
            id=workflow_id,
            task_queue=task_queue,
            static_summary="the parent",
            static_details="the parent, in **detail**",
        )
        assert await handle.result() == "done"
        metadata = await handle.query("__temporal_workflow_metadata")
    assert metadata.current_details == "working on it"

    (started,) = await events_of_type(handle, "WORKFLOW_EXECUTION_STARTED")
    assert summary(started) == "the parent"
    (timer,) = await events_of_type(handle, "TIMER_STARTED")
    assert summary(timer) == "a short nap"
    (scheduled,) = await events_of_type(handle, "ACTIVITY_TASK_SCHEDULED")
    assert summary(scheduled) == "does nothing"
    (initiated,) = await events_of_type(handle, "START_CHILD_WORKFLOW_EXECUTION_INITIATED")
    assert summary(initiated) == "the child"

    description = await handle.describe()
    assert await description.static_summary() == "the parent"
    assert await description.static_details() == "the parent, in **detail**"
    child = client.get_workflow_handle(f"{workflow_id}-child")
    child_description = await child.describe()
    assert await child_description.static_summary() == "the child"
    assert await child_description.static_details() == "the child, in detail"
    (child_started,) = await events_of_type(child, "WORKFLOW_EXECUTION_STARTED")
    assert summary(child_started) == "the child"


def test_the_official_cli_shows_a_start_summary_and_details(server: ServerProcess, workflow_id: str) -> None:
    temporal = [str(Path(sys.executable).parent / "temporal"), "--address", server.target]
    subprocess.run(
        [*temporal, "workflow", "start", "--type", "Anything", "--task-queue", f"{workflow_id}-unpolled",
         "--workflow-id", workflow_id, "--static-summary", "the summary", "--static-details", "the details"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    described = subprocess.run(
        [*temporal, "workflow", "describe", "--workflow-id", workflow_id],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout  # fmt: skip
    assert re.search(r'StaticSummary\s+"the summary"', described)
    assert re.search(r'StaticDetails\s+"the details"', described)
    subprocess.run([*temporal, "workflow", "terminate", "--workflow-id", workflow_id], check=True, timeout=30)
