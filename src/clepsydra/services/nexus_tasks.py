"""Nexus tasks: requests for handler workers, through the same task queues and matching as
workflow and activity tasks, answered by PollNexusTaskQueue and RespondNexusTask*.

Like the reference's, a Nexus task is never stored: the one who sends the request (the
transfer task of the caller's operation) waits for its answer here, up to the request's
deadline, and if none comes it records a failed attempt and sends the request again later.
So a task lives in memory, in matching and in `_pending` until it is answered or its
deadline passes; a worker's answer after that is refused, as the reference refuses it.

A task token names the handler's namespace, a random task id (which only the worker that
polled the task has seen) and the process where the caller waits. On a database shared by
several processes, a poll at another process hears of the task (matching announces it),
fetches it from here with a forwarded poll, and the worker's answer is routed back here by
the token's process, as a query's answer is (cluster/routing.py).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from temporalio.api.failure.v1 import Failure
from temporalio.api.nexus.v1 import Request, Response
from temporalio.api.workflowservice.v1 import PollNexusTaskQueueResponse

from clepsydra.clock import Clock
from clepsydra.engine import codec
from clepsydra.engine.state import ExecutionKey
from clepsydra.engine.tasks import QueueKind
from clepsydra.errors import InvalidArgument, NotFound
from clepsydra.matching.task_queues import Matching, NexusDispatch, RemoteBacklog
from clepsydra.services.tokens import MAC_SIZE

TASK_GONE = "Nexus task not found or already expired"
# What the handler is told of its deadline is a little shorter than the caller's wait, so that
# its answer still finds the caller waiting.
HANDLER_SHARE = 0.8
# Fetches a task from the process at an address (a poll forwarded there); None if it had none.
Fetch = Callable[[str], Awaitable[PollNexusTaskQueueResponse | None]]


@dataclass(frozen=True)
class Answered:
    """RespondNexusTaskCompleted: the handler's response."""

    response: Response


@dataclass(frozen=True)
class HandlerFailed:
    """RespondNexusTaskFailed: the handler could not handle the request."""

    failure: Failure
    retryable: bool


Answer = Answered | HandlerFailed


@dataclass
class _Pending:
    namespace_id: str
    request: Request
    deadline: float  # loop time
    answer: asyncio.Future[Answer]


class NexusTasks:
    def __init__(self, matching: Matching, clock: Clock, address: str = "") -> None:
        """`address`: where this process serves, for answers routed from the others."""
        self._matching = matching
        self._clock = clock
        self._address = address
        self._pending: dict[str, _Pending] = {}

    async def call(
        self, namespace_id: str, task_queue: str, request: Request, timeout: float
    ) -> Answer | None:
        """Send a request to the handler workers polling `task_queue`; their answer, or None
        if none came within `timeout` seconds."""
        loop = asyncio.get_running_loop()
        task_id = str(uuid.uuid4())
        pending = _Pending(namespace_id, request, loop.time() + timeout, loop.create_future())
        self._pending[task_id] = pending
        self._matching.add(NexusDispatch(_namespace_key(namespace_id), task_queue, task_id))
        try:
            async with asyncio.timeout(timeout):
                return await pending.answer
        except TimeoutError:
            return None
        finally:
            self._pending.pop(task_id, None)

    async def poll(
        self, namespace_id: str, task_queue: str, identity: str, timeout: float, fetch: Fetch | None = None
    ) -> PollNexusTaskQueueResponse:
        """The next request of the queue still awaited by its caller, or an empty answer;
        with `fetch`, from another process too."""
        if not task_queue:
            raise InvalidArgument("TaskQueue is not set on request.")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = max(0.0, deadline - loop.time())
            item = await self._matching.poll(
                namespace_id,
                task_queue,
                QueueKind.NEXUS,
                identity,
                self._clock.now(),
                remaining,
                local_only=fetch is None or remaining == 0,
            )
            if item is None:
                return PollNexusTaskQueueResponse()
            if isinstance(item, RemoteBacklog) and fetch is not None:
                asked = time.monotonic()
                fetched = await fetch(item.address)
                if fetched is not None:
                    return fetched
                self._matching.drained(namespace_id, task_queue, QueueKind.NEXUS, item.address, asked)
                continue
            if not isinstance(item, NexusDispatch):
                continue
            pending = self._pending.get(item.task_id)
            left = pending.deadline - loop.time() if pending is not None else 0.0
            if pending is None or pending.answer.done() or left <= 0:
                continue  # its caller gave up meanwhile
            request = Request()
            request.CopyFrom(pending.request)
            request.scheduled_time.CopyFrom(codec.timestamp(self._clock.now()))
            handler_timeout = go_duration(left * HANDLER_SHARE)
            request.header["request-timeout"] = handler_timeout
            request.header["Request-Timeout"] = handler_timeout
            token = _token(namespace_id, item.task_id, self._address)
            return PollNexusTaskQueueResponse(task_token=token, request=request)

    def respond(self, namespace_id: str, task_token: bytes, answer: Answer) -> None:
        pending = self._pending.get(_task_id(namespace_id, task_token))
        if pending is None or pending.answer.done():
            raise NotFound(TASK_GONE)
        pending.answer.set_result(answer)


def go_duration(seconds: float) -> str:
    """A duration as Go prints one, which is what Nexus headers carry ("7.99s", "250ms")."""
    if seconds >= 1:
        return f"{seconds:.9f}".rstrip("0").rstrip(".") + "s"
    return f"{seconds * 1000:.6f}".rstrip("0").rstrip(".") + "ms"


def _namespace_key(namespace_id: str) -> ExecutionKey:
    return ExecutionKey(namespace_id, "", "")


def _token(namespace_id: str, task_id: str, process: str) -> bytes:
    """In the shape of the other task tokens (JSON, then a trailer of MAC_SIZE bytes), so that
    routing finds its process (services/tokens.py, TokenTarget). It needs no seal: the random
    task id is what only the polling worker knows."""
    fields = {"namespace_id": namespace_id, "workflow_id": "", "process": process, "nexus_task": task_id}
    return json.dumps(fields, separators=(",", ":")).encode() + bytes(MAC_SIZE)


def _task_id(namespace_id: str, task_token: bytes) -> str:
    if not task_token:
        raise InvalidArgument("Task token not set on request.")
    try:
        token = json.loads(task_token[:-MAC_SIZE])
        task_id, token_namespace = str(token["nexus_task"]), str(token["namespace_id"])
    except (ValueError, KeyError, TypeError, IndexError, RecursionError):
        raise InvalidArgument("Error deserializing task token.") from None
    if token_namespace != namespace_id:
        raise InvalidArgument("Operation requested with a token from a different namespace.")
    return task_id
