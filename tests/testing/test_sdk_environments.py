"""The SDK's own test environments, run unchanged against Clepsydra's executables: nothing downloaded."""

from __future__ import annotations

import shutil
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.testing.workflows import GreetingWorkflow, SleepWorkflow, greet

# Generous: the suite may be loading both cores while the server process starts.
STARTUP = timedelta(seconds=30)


def executable(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (pip install -e .)")
    return path


async def test_start_local_runs_the_clepsydra_command() -> None:
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=executable("clepsydra"),
        dev_server_startup_timeout=STARTUP,
        namespace="testing",
        search_attributes=[SearchAttributeKey.for_keyword("CustomerId")],
        dev_server_extra_args=["--dynamic-config-value", "limit.maxIDLength=255", "--ui-port", "0"],
    ) as env:
        assert not env.supports_time_skipping
        async with Worker(env.client, task_queue="tq", workflows=[GreetingWorkflow], activities=[greet]):
            greeting = await env.client.execute_workflow(
                GreetingWorkflow.run, "Ada", id=f"wf-{uuid.uuid4()}", task_queue="tq"
            )
        assert greeting == "Hello, Ada!"
        listed = await env.client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="testing")
        )
        assert listed.custom_attributes["CustomerId"] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD


async def test_start_time_skipping_runs_clepsydra_test_server() -> None:
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=executable("clepsydra-test-server"),
        test_server_startup_timeout=STARTUP,
    ) as env:
        assert env.supports_time_skipping
        before = await env.get_current_time()
        async with Worker(env.client, task_queue="tq", workflows=[SleepWorkflow]):
            slept = await env.client.execute_workflow(
                SleepWorkflow.run,
                timedelta(days=30).total_seconds(),
                id=f"wf-{uuid.uuid4()}",
                task_queue="tq",
            )
        assert slept >= timedelta(days=30).total_seconds()
        await env.sleep(timedelta(hours=5))
        assert await env.get_current_time() - before >= timedelta(days=30, hours=5)
