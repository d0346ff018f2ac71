"""Operators' RPCs on the pending activities of a workflow: pause, unpause, reset and change
their options (temporal.api.workflowservice.v1.WorkflowService)."""

from __future__ import annotations

import grpc
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import (
    PauseActivityExecutionRequest,
    PauseActivityExecutionResponse,
    PauseActivityRequest,
    PauseActivityResponse,
    ResetActivityExecutionRequest,
    ResetActivityExecutionResponse,
    ResetActivityRequest,
    ResetActivityResponse,
    UnpauseActivityExecutionRequest,
    UnpauseActivityExecutionResponse,
    UnpauseActivityRequest,
    UnpauseActivityResponse,
    UpdateActivityExecutionOptionsRequest,
    UpdateActivityExecutionOptionsResponse,
    UpdateActivityOptionsRequest,
    UpdateActivityOptionsResponse,
)

from clepsydra.engine import standalone_activities
from clepsydra.errors import InvalidArgument
from clepsydra.services.activity_operations import ActivityOperations
from clepsydra.services.namespaces import Namespaces

Context = grpc.aio.ServicerContext


class ActivityService:
    def __init__(self, namespaces: Namespaces, operations: ActivityOperations) -> None:
        self.namespaces = namespaces
        self.operations = operations

    async def PauseActivity(self, request: PauseActivityRequest, context: Context) -> PauseActivityResponse:
        await self.operations.pause(await self.namespaces.id_of(request.namespace), request)
        return PauseActivityResponse()

    async def UnpauseActivity(
        self, request: UnpauseActivityRequest, context: Context
    ) -> UnpauseActivityResponse:
        await self.operations.unpause(await self.namespaces.id_of(request.namespace), request)
        return UnpauseActivityResponse()

    async def ResetActivity(self, request: ResetActivityRequest, context: Context) -> ResetActivityResponse:
        await self.operations.reset(await self.namespaces.id_of(request.namespace), request)
        return ResetActivityResponse()

    async def UpdateActivityOptions(
        self, request: UpdateActivityOptionsRequest, context: Context
    ) -> UpdateActivityOptionsResponse:
        namespace_id = await self.namespaces.id_of(request.namespace)
        options = await self.operations.update_options(namespace_id, request)
        return UpdateActivityOptionsResponse(activity_options=options)

    # The newer forms name one activity by ids: one of a workflow's, or a standalone one.

    async def PauseActivityExecution(
        self, request: PauseActivityExecutionRequest, context: Context
    ) -> PauseActivityExecutionResponse:
        await self.PauseActivity(
            PauseActivityRequest(
                namespace=request.namespace,
                execution=_workflow_of(request),
                id=request.activity_id,
                identity=request.identity,
                reason=request.reason,
                request_id=request.request_id,
            ),
            context,
        )
        return PauseActivityExecutionResponse()

    async def UnpauseActivityExecution(
        self, request: UnpauseActivityExecutionRequest, context: Context
    ) -> UnpauseActivityExecutionResponse:
        await self.UnpauseActivity(
            UnpauseActivityRequest(
                namespace=request.namespace,
                execution=_workflow_of(request),
                id=request.activity_id,
                identity=request.identity,
                jitter=request.jitter,
            ),
            context,
        )
        return UnpauseActivityExecutionResponse()

    async def ResetActivityExecution(
        self, request: ResetActivityExecutionRequest, context: Context
    ) -> ResetActivityExecutionResponse:
        await self.ResetActivity(
            ResetActivityRequest(
                namespace=request.namespace,
                execution=_workflow_of(request),
                id=request.activity_id,
                identity=request.identity,
                reset_heartbeat=request.reset_heartbeat,
                keep_paused=request.keep_paused,
                jitter=request.jitter,
                restore_original_options=request.restore_original_options,
            ),
            context,
        )
        return ResetActivityExecutionResponse()

    async def UpdateActivityExecutionOptions(
        self, request: UpdateActivityExecutionOptionsRequest, context: Context
    ) -> UpdateActivityExecutionOptionsResponse:
        updated = await self.UpdateActivityOptions(
            UpdateActivityOptionsRequest(
                namespace=request.namespace,
                execution=_workflow_of(request),
                id=request.activity_id,
                identity=request.identity,
                activity_options=request.activity_options if request.HasField("activity_options") else None,
                update_mask=request.update_mask if request.HasField("update_mask") else None,
                restore_original=request.restore_original,
            ),
            context,
        )
        return UpdateActivityExecutionOptionsResponse(activity_options=updated.activity_options)


_ByIds = (
    PauseActivityExecutionRequest
    | UnpauseActivityExecutionRequest
    | ResetActivityExecutionRequest
    | UpdateActivityExecutionOptionsRequest
)


def _workflow_of(request: _ByIds) -> WorkflowExecution:
    """The execution of the activity: the workflow named, or the activity's own (standalone)."""
    if not request.activity_id:
        raise InvalidArgument("activity ID is required")
    workflow_id = request.workflow_id or standalone_activities.workflow_id_of(request.activity_id)
    return WorkflowExecution(workflow_id=workflow_id, run_id=request.run_id)
