"""Drive a workflow over HTTP/JSON while an SDK worker (on gRPC) runs it, and hold long polls
open without holding up other requests."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from tests.http.test_api import start, wf
from tests.http.workflows import Greeting

CLOSE_EVENT_PARAMS = {
    "waitNewEvent": "true",
    "historyEventFilterType": "HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT",
}


async def wait_for_close(client: httpx.AsyncClient, workflow_id: str, **params: str) -> dict:
    """The close event, long-polled as `temporal workflow result` does."""
    while True:
        response = await client.get(f"{wf(workflow_id)}/history", params=CLOSE_EVENT_PARAMS | params)
        assert response.status_code == 200, response.text
        events = response.json().get("history", {}).get("events", [])
        if events:
            return events[-1]


async def test_workflow_started_signalled_and_read_over_http(
    http_client: httpx.AsyncClient, sdk_client: Client
) -> None:
    task_queue = f"http-{uuid.uuid4()}"
    workflow_id = f"greeting-{uuid.uuid4()}"
    async with Worker(sdk_client, task_queue=task_queue, workflows=[Greeting]):
        await start(
            http_client, workflow_id, workflowType={"name": "HttpGreeting"}, taskQueue={"name": task_queue},
            input=["Hello"],
        )  # fmt: skip
        signal = await http_client.post(f"{wf(workflow_id)}/signal/name", json={"input": ["Ada"]})
        assert signal.status_code == 200, signal.text
        closed = await wait_for_close(http_client, workflow_id)

    assert closed["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"
    assert closed["workflowExecutionCompletedEventAttributes"]["result"] == ["Hello, Ada!"]
    full = await wait_for_close(http_client, workflow_id, noPayloadShorthand="true")
    (payload,) = full["workflowExecutionCompletedEventAttributes"]["result"]["payloads"]
    assert json.loads(base64.b64decode(payload["data"])) == "Hello, Ada!"
    # The SDK sees the same workflow, started over HTTP.
    assert await sdk_client.get_workflow_handle(workflow_id).result() == "Hello, Ada!"


async def test_long_poll_does_not_hold_up_other_requests(http_client: httpx.AsyncClient) -> None:
    workflow_id = f"long-poll-{uuid.uuid4()}"
    await start(http_client, workflow_id)
    poll = asyncio.create_task(wait_for_close(http_client, workflow_id))
    await asyncio.sleep(0)  # let the poll go out first
    for _ in range(3):  # served while the poll waits: the workflow is still running
        described = await http_client.get(wf(workflow_id))
        assert described.json()["workflowExecutionInfo"]["status"] == "WORKFLOW_EXECUTION_STATUS_RUNNING"
    assert not poll.done()
    terminate = await http_client.post(f"{wf(workflow_id)}/terminate", json={"reason": "enough"})
    assert terminate.status_code == 200
    closed = await poll
    assert closed["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED"
