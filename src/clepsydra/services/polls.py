"""Workers' long polls: the next task of a queue, started for the worker that asked.

A poll takes the next task of its queue from matching (or waits for one), then records it
started through the update path; a task that went stale meanwhile is dropped and the poll
goes on. On a database shared by several processes, a poll that hears of tasks waiting at
another process fetches one from there (`fetch`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio.api.deployment.v1 import WorkerDeploymentOptions
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import PollActivityTaskQueueResponse, PollWorkflowTaskQueueResponse

from clepsydra.clock import Clock
from clepsydra.engine import activity, workflow_task
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import ActivityInfo
from clepsydra.engine.tasks import QueueKind, QueueTask
from clepsydra.errors import InvalidArgument, NotFound
from clepsydra.history.core import HistoryCore
from clepsydra.matching.task_queues import (
    AnyDispatch,
    Dispatch,
    Matching,
    QueryDispatch,
    RemoteBacklog,
    Started,
    TryAgain,
)
from clepsydra.services.queries import Queries
from clepsydra.services.task_responses import TaskResponses
from clepsydra.services.worker_deployments import WorkerDeployments

R = TypeVar("R")
S = TypeVar("S")
# Fetches a task from the process at an address (a poll forwarded there); None if it had none.
Fetch = Callable[[str], Awaitable[R | None]]


class Polls:
    def __init__(
        self,
        core: HistoryCore,
        matching: Matching,
        clock: Clock,
        queries: Queries,
        responses: TaskResponses,
        deployments: WorkerDeployments,
    ) -> None:
        self.core = core
        self.matching = matching
        self.clock = clock
        self.queries = queries
        self.responses = responses
        self.deployments = deployments

    async def poll_workflow_task(
        self,
        namespace_id: str,
        task_queue: TaskQueue,
        identity: str,
        timeout: float,
        fetch: Fetch[PollWorkflowTaskQueueResponse] | None = None,
        deployment: WorkerDeploymentOptions | None = None,
    ) -> PollWorkflowTaskQueueResponse:
        async def start(dispatch: AnyDispatch) -> PollWorkflowTaskQueueResponse | None:
            if isinstance(dispatch, QueryDispatch):
                return await self.queries.task(dispatch) if self.queries.wanted(dispatch) else None
            assert isinstance(dispatch, Dispatch)  # Nexus requests go to queues of their own kind
            transient = await self._start(dispatch, workflow_task.record_started, identity)
            return None if transient is None else await self.responses.workflow_task(dispatch.key, transient)

        async def respond(
            dispatch: Dispatch, transient: list[HistoryEvent]
        ) -> PollWorkflowTaskQueueResponse | None:
            return await self.responses.workflow_task(dispatch.key, transient)

        response = await self._poll(
            namespace_id, task_queue, QueueKind.WORKFLOW, identity, timeout, fetch, start, respond, deployment
        )
        return response or PollWorkflowTaskQueueResponse()

    async def poll_activity_task(
        self,
        namespace_id: str,
        namespace: str,
        task_queue: TaskQueue,
        identity: str,
        timeout: float,
        fetch: Fetch[PollActivityTaskQueueResponse] | None = None,
        deployment: WorkerDeploymentOptions | None = None,
    ) -> PollActivityTaskQueueResponse:
        async def start(dispatch: AnyDispatch) -> PollActivityTaskQueueResponse | None:
            assert isinstance(dispatch, Dispatch)  # queries only go to workflow task queues
            info = await self._start(dispatch, activity.record_started, identity)
            return None if info is None else await respond(dispatch, info)

        async def respond(dispatch: Dispatch, info: ActivityInfo) -> PollActivityTaskQueueResponse:
            async with self.core.read(dispatch.key) as state:
                return self.responses.activity_task(state, info, namespace)

        response = await self._poll(
            namespace_id, task_queue, QueueKind.ACTIVITY, identity, timeout, fetch, start, respond, deployment
        )
        return response or PollActivityTaskQueueResponse()

    async def release_sticky_queue(self, namespace_id: str, sticky_queue: str) -> None:
        """A worker shut down: its cached workflows' waiting tasks go to the normal queue now."""
        if not sticky_queue:
            return
        self.deployments.forget_sticky(namespace_id, sticky_queue)
        for dispatch in self.matching.release(namespace_id, sticky_queue):
            if isinstance(dispatch, Dispatch):
                await self.core.sticky_worker_gone(dispatch)

    async def _poll(
        self,
        namespace_id: str,
        queue: TaskQueue,
        kind: QueueKind,
        identity: str,
        timeout: float,
        fetch: Fetch[R] | None,
        start: Callable[[AnyDispatch], Awaitable[R | None]],
        respond: Callable[[Dispatch, Any], Awaitable[R | None]],
        deployment: WorkerDeploymentOptions | None,
    ) -> R | None:
        """The first task of the queue that could be started within `timeout`: from this
        process, or (with `fetch`) from another one that announced tasks of the queue.
        `start` starts a task and answers; `respond` answers for one started already (by
        the write that created it: see `HistoryCore._start_for_waiting_polls`)."""
        task_queue = queue.name
        if not task_queue:
            raise InvalidArgument("TaskQueue is not set on request.")
        version = (
            ""
            if deployment is None
            else await self.deployments.poll_version(namespace_id, queue, kind, deployment)
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = max(0.0, deadline - loop.time())
            item = await self.matching.poll(
                namespace_id,
                task_queue,
                kind,
                identity,
                self.clock.now(),
                remaining,
                local_only=fetch is None or remaining == 0,
                version=version,
            )
            if item is None:
                return None
            if isinstance(item, RemoteBacklog):
                assert fetch is not None
                asked = time.monotonic()
                response = await fetch(item.address)
                if response is not None:
                    return response
                self.matching.drained(namespace_id, task_queue, kind, item.address, asked)
                continue
            if isinstance(item, TryAgain):
                continue
            response = await (
                respond(item.dispatch, item.outcome) if isinstance(item, Started) else start(item)
            )
            if response is not None:
                return response

    async def _start(
        self, dispatch: Dispatch, record: Callable[[Mutation, QueueTask, str, str], S], identity: str
    ) -> S | None:
        """Mark a dispatched task started; None if it went stale while it waited."""
        task = dispatch.task
        request_id = str(uuid.uuid4())
        try:
            return await self.core.update(
                dispatch.key,
                lambda m: record(m, task, identity, request_id),
                done_queue_task=dispatch.task.key,
            )
        except NotFound:
            await self.core.delete_queue_task(dispatch.key, dispatch.task.key)
            return None
        except BaseException:
            self.matching.add(dispatch, front=True)  # not started: let another poll have it
            raise
