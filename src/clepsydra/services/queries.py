"""Queries: a read of a workflow's state that a worker answers by running its query handler.

A query becomes a task on the workflow's task queue, carrying the full history so any
worker can answer (replaying if it has not cached the run, or if the run has closed).
Nothing is persisted: a query lives as long as the client call that waits for it.
"""

from __future__ import annotations

import asyncio
import uuid

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import (
    QueryRejectCondition,
    QueryResultType,
    TaskQueueKind,
    WorkflowExecutionStatus,
)
from temporalio.api.errordetails.v1 import QueryFailedFailure
from temporalio.api.history.v1 import History
from temporalio.api.query.v1 import QueryRejected
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    PollWorkflowTaskQueueResponse,
    QueryWorkflowRequest,
    QueryWorkflowResponse,
    RespondQueryTaskCompletedRequest,
)

from clepsydra.engine import versioning
from clepsydra.engine.state import ExecutionState
from clepsydra.errors import DeadlineExceeded, InvalidArgument, NotFound
from clepsydra.history.core import HistoryCore
from clepsydra.matching.task_queues import Matching, QueryDispatch
from clepsydra.services.tokens import QueryToken, Tokens

Status = WorkflowExecutionStatus


class Queries:
    def __init__(self, core: HistoryCore, matching: Matching, address: str, tokens: Tokens) -> None:
        """`address`: this process's, where the answers to its queries must come."""
        self.core = core
        self.matching = matching
        self.address = address
        self.tokens = tokens
        self._pending: dict[str, asyncio.Future[RespondQueryTaskCompletedRequest]] = {}

    async def query(
        self, namespace_id: str, request: QueryWorkflowRequest, timeout: float
    ) -> QueryWorkflowResponse:
        if not request.query.query_type:
            raise InvalidArgument("QueryType is not set on request.")
        execution = request.execution
        if not execution.workflow_id:
            raise InvalidArgument("WorkflowId is not set on request.")
        key = await self.core.resolve(namespace_id, execution.workflow_id, execution.run_id)
        async with self.core.read(key) as state:
            rejected = _rejected(state, request.query_reject_condition)
            task_queue = state.task_queue
            pinned = versioning.pinned(state)
        if rejected is not None:
            return QueryWorkflowResponse(query_rejected=rejected)
        query_id = str(uuid.uuid4())
        answer: asyncio.Future[RespondQueryTaskCompletedRequest] = asyncio.get_running_loop().create_future()
        self._pending[query_id] = answer
        self.matching.add(QueryDispatch(key, task_queue, query_id, request.query, pinned=pinned))
        try:
            async with asyncio.timeout(timeout):
                response = await answer
        except TimeoutError:
            raise DeadlineExceeded("query timed out before a worker answered it") from None
        finally:
            self._pending.pop(query_id, None)
        if response.completed_type == QueryResultType.QUERY_RESULT_TYPE_ANSWERED:
            return QueryWorkflowResponse(query_result=response.query_result)
        raise InvalidArgument(response.error_message, QueryFailedFailure(failure=response.failure))

    def wanted(self, dispatch: QueryDispatch) -> bool:
        """Whether a client still waits for this query (it may have given up meanwhile)."""
        return dispatch.query_id in self._pending

    async def task(self, dispatch: QueryDispatch) -> PollWorkflowTaskQueueResponse:
        async with self.core.read(dispatch.key) as state:
            events = await self.core.events(dispatch.key, 1)
            return PollWorkflowTaskQueueResponse(
                # Names the process the client waits at, so that any process can route the answer
                # here (see cluster/routing.py), and the workflow.
                task_token=self.tokens.seal(
                    QueryToken(
                        dispatch.query_id, self.address, dispatch.key.namespace_id, dispatch.key.workflow_id
                    )
                ),
                workflow_execution=WorkflowExecution(workflow_id=state.workflow_id, run_id=state.run_id),
                workflow_type=state.start.workflow_type,
                previous_started_event_id=state.previous_started_event_id,
                history=History(events=events),
                query=dispatch.query,
                workflow_execution_task_queue=TaskQueue(
                    name=state.task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL
                ),
            )

    async def respond(self, request: RespondQueryTaskCompletedRequest) -> None:
        answer = self._pending.get((await self.tokens.query(request)).query_id)
        if answer is None or answer.done():
            raise NotFound("query task not found, or already expired")
        answer.set_result(request)


def _rejected(state: ExecutionState, condition: QueryRejectCondition.ValueType) -> QueryRejected | None:
    if condition == QueryRejectCondition.QUERY_REJECT_CONDITION_NOT_OPEN and not state.running:
        return QueryRejected(status=state.status)
    if (
        condition == QueryRejectCondition.QUERY_REJECT_CONDITION_NOT_COMPLETED_CLEANLY
        and state.status
        not in (Status.WORKFLOW_EXECUTION_STATUS_RUNNING, Status.WORKFLOW_EXECUTION_STATUS_COMPLETED)
    ):
        return QueryRejected(status=state.status)
    return None
