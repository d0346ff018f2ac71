"""The in-process server and the plugin's real-time fixtures, driven by the official SDK over gRPC."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from clepsydra.testing import ClepsydraEnvironment, InProcessServer, start_local
from tests.testing.workflows import AssertingWorkflow, GreetingWorkflow, greet


async def test_client_fixture_runs_a_workflow(clepsydra_client: Client, clepsydra_task_queue: str) -> None:
    async with Worker(
        clepsydra_client, task_queue=clepsydra_task_queue, workflows=[GreetingWorkflow], activities=[greet]
    ):
        greeting = await clepsydra_client.execute_workflow(
            GreetingWorkflow.run, "Grace", id=f"wf-{uuid.uuid4()}", task_queue=clepsydra_task_queue
        )
    assert greeting == "Hello, Grace!"


async def test_env_fixture_fails_workflows_on_assert(
    clepsydra_env: ClepsydraEnvironment, clepsydra_task_queue: str
) -> None:
    assert not clepsydra_env.supports_time_skipping
    async with Worker(clepsydra_env.client, task_queue=clepsydra_task_queue, workflows=[AssertingWorkflow]):
        with pytest.raises(WorkflowFailureError) as failure:
            await clepsydra_env.client.execute_workflow(
                AssertingWorkflow.run, -1, id=f"wf-{uuid.uuid4()}", task_queue=clepsydra_task_queue
            )
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "AssertionError"
    assert "value must be positive" in cause.message


async def test_start_local_serves_its_namespace_and_stops_with_the_environment() -> None:
    region = SearchAttributeKey.for_keyword_list("Regions")
    async with await start_local(namespace="payments", search_attributes=[region]) as env:
        assert env.client.namespace == "payments"
        listed = await env.client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="payments")
        )
        assert listed.custom_attributes["Regions"] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST
        async with Worker(env.client, task_queue="tq", workflows=[GreetingWorkflow], activities=[greet]):
            greeting = await env.client.execute_workflow(
                GreetingWorkflow.run, "Alan", id=f"wf-{uuid.uuid4()}", task_queue="tq"
            )
        assert greeting == "Hello, Alan!"
    with pytest.raises(RuntimeError, match="not started"):
        env.server.target  # noqa: B018 - the property raises once the server is stopped


async def test_real_time_environment_sleeps_for_real() -> None:
    async with await start_local() as env:
        before = await env.get_current_time()
        await env.sleep(timedelta(milliseconds=10))
        assert await env.get_current_time() > before


def test_in_process_server_from_synchronous_code() -> None:
    with InProcessServer(namespaces=["extra"]) as server:
        host, port = server.target.rsplit(":", 1)
        assert host == "127.0.0.1"
        assert int(port) > 0
