"""Pausing and unpausing a workflow's activity over the HTTP API, on the routes the web UI
calls: its Pause button posts to the `activities-deprecated` route, the newer UI and the
CLI's forms name the workflow and the activity in the path."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from tests.http.conftest import HttpServer
from tests.http.test_api import NS, wf
from tests.http.workflows import WelcomeWorkflow, send_welcome_email


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
