"""`--dynamic-config-value` changes what a user sees, on a server of the test's own: when the
worker is told to continue as new, the history and payload limits, eager start; keys it does
not know are accepted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from tests.integration.helpers import event_types
from tests.server_process import ServerProcess, on_postgres

# `server start` (how servers run on PostgreSQL in these tests) takes no --dynamic-config-value.
pytestmark = pytest.mark.skipif(on_postgres(), reason="--dynamic-config-value is start-dev's")

SETTINGS = {
    "limit.historyCount.suggestContinueAsNew": "15",
    "limit.historySize.suggestContinueAsNew": "100000000",
    "limit.historyCount.error": "60",
    "limit.blobSize.error": "1000",
    "limit.blobSize.warn": "500",
    "system.enableEagerWorkflowStart": "false",
    "some.unknownKey": '"whatever"',
}


@pytest.fixture(scope="module")
async def configured(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    work: Path = tmp_path_factory.mktemp("dynamic-config")
    flags = [arg for key, value in SETTINGS.items() for arg in ("--dynamic-config-value", f"{key}={value}")]
    server = ServerProcess(work / "server.db", work / "server.log", *flags)
    await server.start()
    yield await Client.connect(server.target)
    server.stop()


@workflow.defn(sandboxed=False)
class Sleeper:
    @workflow.run
    async def run(self, until_suggested: bool) -> int:
        naps = 0
        while not (until_suggested and workflow.info().is_continue_as_new_suggested()):
            await workflow.sleep(0.01)
            naps += 1
        return naps


async def test_continue_as_new_is_suggested_past_the_history_count(
    configured: Client, task_queue: str
) -> None:
    async with Worker(configured, task_queue=task_queue, workflows=[Sleeper]):
        handle = await configured.start_workflow(Sleeper.run, True, id=task_queue, task_queue=task_queue)
        naps = await handle.result()
    # Each nap adds five events (timer started and fired, a workflow task) to the first three.
    assert 2 <= naps <= 4
    assert len(await event_types(handle)) < 30


async def test_the_history_count_limit_terminates_the_workflow(configured: Client, task_queue: str) -> None:
    async with Worker(configured, task_queue=task_queue, workflows=[Sleeper]):
        handle = await configured.start_workflow(Sleeper.run, False, id=task_queue, task_queue=task_queue)
        with pytest.raises(Exception):  # noqa: B017 - the SDK's error for a terminated workflow
            await handle.result()
    assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED
    assert (await event_types(handle))[-1] == "WORKFLOW_EXECUTION_TERMINATED"


async def test_the_blob_size_limit_refuses_a_large_payload(configured: Client, task_queue: str) -> None:
    handle = await configured.start_workflow(Sleeper.run, False, id=task_queue, task_queue=task_queue)
    with pytest.raises(RPCError) as error:
        await handle.signal("anything", "x" * 2000)
    assert error.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert error.value.message == "Blob data size exceeds limit."
    await handle.terminate()


async def test_eager_start_can_be_switched_off(configured: Client, task_queue: str) -> None:
    async with Worker(configured, task_queue=task_queue, workflows=[Sleeper]):
        handle = await configured.start_workflow(
            Sleeper.run, True, id=task_queue, task_queue=task_queue, request_eager_start=True
        )
        assert getattr(handle, "__temporal_eagerly_started") is False
        await handle.result()
