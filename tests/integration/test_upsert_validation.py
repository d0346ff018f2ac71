"""Search attributes a workflow sets itself are checked like those given at its start: an
attribute the namespace does not define, or a value of the wrong type, fails the
workflow task with BAD_SEARCH_ATTRIBUTES and the worker hears why."""

from __future__ import annotations

import pytest
from temporalio.api.command.v1 import Command, UpsertWorkflowSearchAttributesCommandAttributes
from temporalio.api.common.v1 import SearchAttributes
from temporalio.api.enums.v1 import CommandType, WorkflowTaskFailedCause
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    PollWorkflowTaskQueueRequest,
    RespondWorkflowTaskCompletedRequest,
)
from temporalio.client import Client
from temporalio.converter import default
from temporalio.service import RPCError, RPCStatusCode

from tests.integration.helpers import events_of_type


def _upsert(name: str, value: object) -> Command:
    return Command(
        command_type=CommandType.COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
        upsert_workflow_search_attributes_command_attributes=UpsertWorkflowSearchAttributesCommandAttributes(
            search_attributes=SearchAttributes(
                indexed_fields={name: default().payload_converter.to_payload(value)}
            )
        ),
    )


async def test_an_upsert_of_an_undefined_search_attribute_fails_the_workflow_task(
    client: Client, task_queue: str, workflow_id: str
) -> None:
    handle = await client.start_workflow("Anything", id=workflow_id, task_queue=task_queue)
    service = client.workflow_service
    poll = await service.poll_workflow_task_queue(
        PollWorkflowTaskQueueRequest(namespace=client.namespace, task_queue=TaskQueue(name=task_queue))
    )
    with pytest.raises(RPCError) as raised:
        await service.respond_workflow_task_completed(
            RespondWorkflowTaskCompletedRequest(
                namespace=client.namespace,
                task_token=poll.task_token,
                commands=[_upsert("NoSuchAttribute", "x")],
            )
        )
    [failed] = await events_of_type(handle, "WORKFLOW_TASK_FAILED")
    attributes = failed.workflow_task_failed_event_attributes
    message = (
        "BadSearchAttributes: Namespace default has no mapping defined for search attribute NoSuchAttribute"
    )
    assert raised.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert raised.value.message == message
    assert attributes.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES
    assert attributes.failure.message == message
    await handle.terminate()
