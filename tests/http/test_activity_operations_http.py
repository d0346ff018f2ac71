"""Activities over the HTTP API, on the routes the web UI calls: its Pause button posts to the
`activities-deprecated` route, the newer forms name the workflow and the activity in the path;
its Standalone Activities page lists and describes activities started by clients."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from tests.http.conftest import HttpServer
from tests.http.test_api import NS, wf
from tests.http.workflows import WelcomeWorkflow, send_welcome_email, shout


async def _activity_state(http_client: httpx.AsyncClient, workflow_id: str) -> dict[str, Any]:
    described = await http_client.get(wf(workflow_id))
    assert described.status_code == 200, described.text
    pending = described.json().get("pendingActivities", [{"state": "none yet"}])
    return pending[0]


async def _wait_for_state(http_client: httpx.AsyncClient, workflow_id: str, state: str) -> dict[str, Any]:
    async with asyncio.timeout(20):
        while (pending := await _activity_state(http_client, workflow_id))["state"] != state:
            await asyncio.sleep(0.1)
    return pending


async def test_the_ui_pauses_and_unpauses_an_activity(
    http_server: HttpServer, http_client: httpx.AsyncClient
) -> None:
    client = await Client.connect(http_server.target)
    task_queue = f"http-activities-{uuid.uuid4()}"
    workflow_id = f"welcome-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=task_queue, workflows=[WelcomeWorkflow], activities=[send_welcome_email]
    ):
        handle = await client.start_workflow(WelcomeWorkflow.run, id=workflow_id, task_queue=task_queue)
        async with asyncio.timeout(20):
            while "lastFailure" not in await _activity_state(http_client, workflow_id):
                await asyncio.sleep(0.1)
        paused = await http_client.post(
            f"{NS}/activities-deprecated/pause",
            json={
                "execution": {"workflowId": workflow_id},
                "id": "email",
                "reason": "mail outage",
                "identity": "ui",
            },
        )
        assert paused.status_code == 200, paused.text
        pending = await _wait_for_state(http_client, workflow_id, "PENDING_ACTIVITY_STATE_PAUSED")
        assert pending["paused"] is True
        assert pending["pauseInfo"]["manual"] == {"identity": "ui", "reason": "mail outage"}

        unpaused = await http_client.post(f"{wf(workflow_id)}/activities/email/unpause", json={})
        assert unpaused.status_code == 200, unpaused.text
        await _wait_for_state(http_client, workflow_id, "PENDING_ACTIVITY_STATE_SCHEDULED")
        await handle.terminate()


async def test_a_standalone_activity_is_started_listed_and_described(
    http_server: HttpServer, http_client: httpx.AsyncClient
) -> None:
    client = await Client.connect(http_server.target)
    task_queue = f"http-standalone-{uuid.uuid4()}"
    activity_id = f"shout-{uuid.uuid4()}"
    path = f"{NS}/activities/{activity_id}"
    started = await http_client.post(
        path,
        json={
            "activityType": {"name": "shout"},
            "taskQueue": {"name": task_queue},
            "startToCloseTimeout": "10s",
            "input": {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "ImhleSI="}]},
        },
    )
    assert started.status_code == 200, started.text
    run_id = started.json()["runId"]
    async with Worker(client, task_queue=task_queue, activities=[shout]):
        outcome = await http_client.get(f"{path}/outcome", params={"runId": run_id})
        while "outcome" not in outcome.json():  # a long poll that may end before the activity
            outcome = await http_client.get(f"{path}/outcome", params={"runId": run_id})
    assert outcome.json()["outcome"]["result"] == ["HEY"]
    described = await http_client.get(path, params={"includeOutcome": "true"})
    assert described.status_code == 200, described.text
    assert described.json()["info"]["status"] == "ACTIVITY_EXECUTION_STATUS_COMPLETED"
    query = {"query": f"ActivityId = '{activity_id}'"}
    async with asyncio.timeout(20):  # the reference's list follows a little later
        while not (listed := (await http_client.get(f"{NS}/activities", params=query)).json()).get(
            "executions"
        ):
            await asyncio.sleep(0.2)
    [listed_one] = listed["executions"]
    assert (listed_one["activityId"], listed_one["runId"]) == (activity_id, run_id)
