"""In-memory task queues: a backlog of tasks and a line of waiting polls per queue.

A task reaches a queue only after the transaction that created it has committed,
and its row stays in the store until the transaction that starts it deletes it;
so these queues are a fast index over durable state, rebuilt from the store at
start-up. A task handed to a poll that went away is put back at the front.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from temporalio.api.query.v1 import WorkflowQuery

from clepsydra.engine.state import ExecutionKey
from clepsydra.engine.tasks import QueueKind, QueueTask


@dataclass(frozen=True)
class Dispatch:
    """A task on a queue, with the execution it belongs to."""

    key: ExecutionKey
    task: QueueTask

    @property
    def task_queue(self) -> str:
        return self.task.task_queue

    @property
    def kind(self) -> QueueKind:
        return self.task.kind


@dataclass(frozen=True)
class QueryDispatch:
    """A query for a worker to answer. Like the reference's query tasks it lives in memory
    only: the client waiting for the answer is gone after a restart anyway."""

    key: ExecutionKey
    task_queue: str
    query_id: str
    query: WorkflowQuery
    kind: QueueKind = QueueKind.WORKFLOW


AnyDispatch = Dispatch | QueryDispatch


@dataclass
class TaskQueue:
    backlog: deque[AnyDispatch] = field(default_factory=deque)
    polls: deque[asyncio.Future[AnyDispatch | None]] = field(default_factory=deque)
    # identity → last time it polled, for DescribeTaskQueue.
    pollers: dict[str, datetime] = field(default_factory=dict)


class Matching:
    def __init__(self) -> None:
        self._queues: dict[tuple[str, str, QueueKind], TaskQueue] = {}
        self._released: set[tuple[str, str]] = set()
        self._closed = False

    def queue(self, namespace_id: str, name: str, kind: QueueKind) -> TaskQueue:
        return self._queues.setdefault((namespace_id, name, kind), TaskQueue())

    def add(self, dispatch: AnyDispatch, front: bool = False) -> None:
        queue = self.queue(dispatch.key.namespace_id, dispatch.task_queue, dispatch.kind)
        while queue.polls:
            poll = queue.polls.popleft()
            if not poll.done():
                poll.set_result(dispatch)
                return
        if front:
            queue.backlog.appendleft(dispatch)
        else:
            queue.backlog.append(dispatch)

    async def poll(
        self,
        namespace_id: str,
        name: str,
        kind: QueueKind,
        identity: str,
        now: datetime,
        timeout: float,
    ) -> AnyDispatch | None:
        """The next task of the queue, or None if none came within `timeout` seconds."""
        queue = self.queue(namespace_id, name, kind)
        queue.pollers[identity] = now
        if queue.backlog:
            return queue.backlog.popleft()
        if self._closed:
            return None
        waiter: asyncio.Future[AnyDispatch | None] = asyncio.get_running_loop().create_future()
        queue.polls.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                return await waiter
        except TimeoutError:
            return _received(waiter)
        except asyncio.CancelledError:
            received = _received(waiter)
            if received is not None:
                self.add(received, front=True)
            raise
        finally:
            if waiter in queue.polls:
                queue.polls.remove(waiter)

    def release(self, namespace_id: str, name: str) -> list[AnyDispatch]:
        """A worker's sticky queue is gone with its worker: take the tasks waiting on it;
        tasks sent there later are refused (see `released`)."""
        self._released.add((namespace_id, name))
        queue = self._queues.pop((namespace_id, name, QueueKind.WORKFLOW), None)
        return list(queue.backlog) if queue is not None else []

    def released(self, namespace_id: str, name: str) -> bool:
        return (namespace_id, name) in self._released

    def close(self) -> None:
        """Answer every waiting poll with nothing: the server is stopping."""
        self._closed = True
        for queue in self._queues.values():
            while queue.polls:
                poll = queue.polls.popleft()
                if not poll.done():
                    poll.set_result(None)


def _received(waiter: asyncio.Future[AnyDispatch | None]) -> AnyDispatch | None:
    """A task that was handed over just as the poll gave up."""
    if waiter.done() and not waiter.cancelled():
        return waiter.result()
    return None
