"""Bad requests get the reference's gRPC status codes, and the server goes on serving."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.api.common.v1 import WorkflowExecution, WorkflowType
from temporalio.api.errordetails.v1 import (
    NamespaceNotFoundFailure,
    NotFoundFailure,
    WorkflowExecutionAlreadyStartedFailure,
)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    DescribeWorkflowExecutionRequest,
    GetWorkflowExecutionHistoryRequest,
    RequestCancelWorkflowExecutionRequest,
    RespondActivityTaskCompletedByIdRequest,
    RespondActivityTaskCompletedRequest,
    RespondWorkflowTaskCompletedRequest,
    SignalWorkflowExecutionRequest,
    StartWorkflowExecutionRequest,
    TerminateWorkflowExecutionRequest,
)
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from tests.integration.helpers import assert_still_serves

UNKNOWN_NAMESPACE = "no-such-namespace"
UNKNOWN_WORKFLOW_ID = "no-such-workflow"


@workflow.defn
class WaitForeverWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


# The activity runs in the test's own event loop and hands its task token to the test.
noop_task_tokens: dict[str, bytes] = {}


@activity.defn
async def noop() -> str:
    info = activity.info()
    noop_task_tokens[info.workflow_id] = info.task_token
    return "ok"


@workflow.defn
class NoopActivityWorkflow:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(noop, start_to_close_timeout=timedelta(seconds=10))


async def expect_rpc_error(call: Awaitable[object], status: RPCStatusCode, message: str) -> RPCError:
    with pytest.raises(RPCError) as exc_info:
        await call
    err = exc_info.value
    assert err.status == status, f"{err.status.name}: {err.message}"
    assert message in err.message
    return err


def detail_types(err: RPCError) -> list[str]:
    return [d.type_url.rsplit("/", 1)[-1] for d in err.grpc_status.details]


def start_request(namespace: str, **fields: object) -> StartWorkflowExecutionRequest:
    """A StartWorkflowExecution with everything set, except what `fields` overrides."""
    defaults: dict[str, object] = {
        "workflow_id": f"errors-{uuid.uuid4()}",
        "workflow_type": WorkflowType(name="SomeWorkflow"),
        "task_queue": TaskQueue(name=f"errors-tq-{uuid.uuid4()}"),
        "request_id": str(uuid.uuid4()),
    }
    defaults.update(fields)
    return StartWorkflowExecutionRequest(namespace=namespace, **defaults)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "make_call",
    [
        lambda ws: ws.describe_namespace(DescribeNamespaceRequest(namespace=UNKNOWN_NAMESPACE)),
        lambda ws: ws.start_workflow_execution(start_request(UNKNOWN_NAMESPACE)),
        lambda ws: ws.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=UNKNOWN_NAMESPACE,
                execution=WorkflowExecution(workflow_id=UNKNOWN_WORKFLOW_ID),
            )
        ),
        lambda ws: ws.signal_workflow_execution(
            SignalWorkflowExecutionRequest(
                namespace=UNKNOWN_NAMESPACE,
                workflow_execution=WorkflowExecution(workflow_id=UNKNOWN_WORKFLOW_ID),
                signal_name="s",
            )
        ),
    ],
    ids=["describe_namespace", "start", "describe_workflow", "signal"],
)
async def test_unknown_namespace(client: Client, make_call: Callable[..., Awaitable[object]]) -> None:
    err = await expect_rpc_error(
        make_call(client.workflow_service),
        RPCStatusCode.NOT_FOUND,
        f"Namespace {UNKNOWN_NAMESPACE} is not found.",
    )
    assert detail_types(err) == [NamespaceNotFoundFailure.DESCRIPTOR.full_name]
    await assert_still_serves(client)


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ({"workflow_id": ""}, "WorkflowId is not set on request."),
        ({"task_queue": None}, "taskQueue is not set"),
        ({"workflow_type": None}, "WorkflowType is not set on request."),
    ],
    ids=["workflow_id", "task_queue", "workflow_type"],
)
async def test_start_missing_field(client: Client, missing: dict[str, object], message: str) -> None:
    request = start_request(client.namespace, **missing)
    await expect_rpc_error(
        client.workflow_service.start_workflow_execution(request),
        RPCStatusCode.INVALID_ARGUMENT,
        message,
    )
    await assert_still_serves(client)


async def test_start_missing_namespace(client: Client) -> None:
    await expect_rpc_error(
        client.workflow_service.start_workflow_execution(start_request("")),
        RPCStatusCode.INVALID_ARGUMENT,
        "Namespace is empty.",
    )
    await assert_still_serves(client)


async def test_start_running_workflow_id(client: Client, task_queue: str, workflow_id: str) -> None:
    # No worker is needed: the first run just stays running.
    first = await client.start_workflow(WaitForeverWorkflow.run, id=workflow_id, task_queue=task_queue)
    try:
        with pytest.raises(WorkflowAlreadyStartedError) as exc_info:
            await client.start_workflow(WaitForeverWorkflow.run, id=workflow_id, task_queue=task_queue)
        assert exc_info.value.workflow_id == workflow_id
        assert exc_info.value.workflow_type == "WaitForeverWorkflow"
        assert exc_info.value.run_id == first.result_run_id

        # Over raw gRPC: ALREADY_EXISTS with the details that the SDKs turn into that error.
        err = await expect_rpc_error(
            client.workflow_service.start_workflow_execution(
                start_request(
                    client.namespace,
                    workflow_id=workflow_id,
                    workflow_type=WorkflowType(name="WaitForeverWorkflow"),
                    task_queue=TaskQueue(name=task_queue),
                )
            ),
            RPCStatusCode.ALREADY_EXISTS,
            f"Workflow execution is already running. WorkflowId: {workflow_id}, "
            f"RunId: {first.result_run_id}.",
        )
        assert detail_types(err) == [WorkflowExecutionAlreadyStartedFailure.DESCRIPTOR.full_name]
        # The running workflow is untouched.
        assert (await first.describe()).run_id == first.result_run_id
    finally:
        await first.terminate("test over")


async def test_forged_task_tokens(client: Client) -> None:
    ws = client.workflow_service
    await expect_rpc_error(
        ws.respond_activity_task_completed(
            RespondActivityTaskCompletedRequest(namespace=client.namespace, task_token=b"forged-token")
        ),
        RPCStatusCode.INVALID_ARGUMENT,
        "Error deserializing task token.",
    )
    await assert_still_serves(client)
    await expect_rpc_error(
        ws.respond_workflow_task_completed(
            RespondWorkflowTaskCompletedRequest(namespace=client.namespace, task_token=b"forged-token")
        ),
        RPCStatusCode.INVALID_ARGUMENT,
        "Error deserializing task token.",
    )
    await assert_still_serves(client)
    await expect_rpc_error(
        ws.respond_activity_task_completed(
            RespondActivityTaskCompletedRequest(namespace=client.namespace, task_token=b"")
        ),
        RPCStatusCode.INVALID_ARGUMENT,
        "Task token not set on request.",
    )
    await assert_still_serves(client)


async def test_stale_task_token(client: Client, task_queue: str, workflow_id: str) -> None:
    """A real task token (and the same activity by id), used after its workflow completed."""
    async with Worker(client, task_queue=task_queue, workflows=[NoopActivityWorkflow], activities=[noop]):
        handle = await client.start_workflow(NoopActivityWorkflow.run, id=workflow_id, task_queue=task_queue)
        assert await handle.result() == "ok"
    task_token = noop_task_tokens.pop(workflow_id)
    err = await expect_rpc_error(
        client.workflow_service.respond_activity_task_completed(
            RespondActivityTaskCompletedRequest(namespace=client.namespace, task_token=task_token)
        ),
        RPCStatusCode.NOT_FOUND,
        "workflow execution already completed",
    )
    assert detail_types(err) == [NotFoundFailure.DESCRIPTOR.full_name]
    await assert_still_serves(client)
    err = await expect_rpc_error(
        client.workflow_service.respond_activity_task_completed_by_id(
            RespondActivityTaskCompletedByIdRequest(
                namespace=client.namespace,
                workflow_id=workflow_id,
                run_id=handle.result_run_id,
                activity_id="1",
            )
        ),
        RPCStatusCode.NOT_FOUND,
        "workflow execution already completed",
    )
    assert detail_types(err) == [NotFoundFailure.DESCRIPTOR.full_name]
    await assert_still_serves(client)


@pytest.mark.parametrize(
    "make_call",
    [
        lambda ws, ns: ws.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=ns, execution=WorkflowExecution(workflow_id=UNKNOWN_WORKFLOW_ID)
            )
        ),
        lambda ws, ns: ws.signal_workflow_execution(
            SignalWorkflowExecutionRequest(
                namespace=ns,
                workflow_execution=WorkflowExecution(workflow_id=UNKNOWN_WORKFLOW_ID),
                signal_name="s",
            )
        ),
        lambda ws, ns: ws.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=ns, execution=WorkflowExecution(workflow_id=UNKNOWN_WORKFLOW_ID)
            )
        ),
        lambda ws, ns: ws.request_cancel_workflow_execution(
            RequestCancelWorkflowExecutionRequest(
                namespace=ns,
                workflow_execution=WorkflowExecution(workflow_id=UNKNOWN_WORKFLOW_ID),
            )
        ),
        lambda ws, ns: ws.terminate_workflow_execution(
            TerminateWorkflowExecutionRequest(
                namespace=ns,
                workflow_execution=WorkflowExecution(workflow_id=UNKNOWN_WORKFLOW_ID),
            )
        ),
        lambda ws, ns: ws.respond_activity_task_completed_by_id(
            RespondActivityTaskCompletedByIdRequest(
                namespace=ns, workflow_id=UNKNOWN_WORKFLOW_ID, activity_id="1"
            )
        ),
    ],
    ids=["describe", "signal", "history", "cancel", "terminate", "complete_activity_by_id"],
)
async def test_unknown_workflow_id(client: Client, make_call: Callable[..., Awaitable[object]]) -> None:
    err = await expect_rpc_error(
        make_call(client.workflow_service, client.namespace),
        RPCStatusCode.NOT_FOUND,
        f"workflow not found for ID: {UNKNOWN_WORKFLOW_ID}",
    )
    assert detail_types(err) == [NotFoundFailure.DESCRIPTOR.full_name]
    await assert_still_serves(client)


async def test_unknown_run_id(client: Client) -> None:
    run_id = str(uuid.uuid4())
    err = await expect_rpc_error(
        client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=client.namespace,
                execution=WorkflowExecution(workflow_id=UNKNOWN_WORKFLOW_ID, run_id=run_id),
            )
        ),
        RPCStatusCode.NOT_FOUND,
        f'workflow execution not found for workflow ID "{UNKNOWN_WORKFLOW_ID}" and run ID "{run_id}"',
    )
    assert detail_types(err) == [NotFoundFailure.DESCRIPTOR.full_name]
    await expect_rpc_error(
        client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=client.namespace,
                execution=WorkflowExecution(workflow_id=UNKNOWN_WORKFLOW_ID, run_id="not-a-uuid"),
            )
        ),
        RPCStatusCode.INVALID_ARGUMENT,
        "Invalid RunId.",
    )
    await assert_still_serves(client)


async def test_signal_unknown_workflow_via_client(client: Client) -> None:
    handle = client.get_workflow_handle(f"{UNKNOWN_WORKFLOW_ID}-{uuid.uuid4()}")
    with pytest.raises(RPCError) as exc_info:
        await handle.signal("anything")
    assert exc_info.value.status == RPCStatusCode.NOT_FOUND
    await assert_still_serves(client)
