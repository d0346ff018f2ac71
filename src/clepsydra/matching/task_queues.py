"""In-memory task queues: a backlog of tasks and a line of waiting polls per queue.

A task reaches a queue only after the transaction that created it has committed,
and its row stays in the store until the transaction that starts it deletes it;
so these queues are a fast index over durable state, rebuilt from the store at
start-up. A task handed to a poll that went away is put back at the front.

When several processes share a database, each dispatches the tasks of the workflows it
owns; tasks that find no poll waiting here are announced to the others (`on_backlog`),
and a process that hears of them (`heard`) sends one of its waiting polls there.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from temporalio.api.query.v1 import WorkflowQuery

from clepsydra.engine.state import ExecutionKey
from clepsydra.engine.tasks import QueueKind, QueueTask
from clepsydra.matching.backlog import DEFAULT_PRIORITY, URGENT, Backlog


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


@dataclass(frozen=True)
class NexusDispatch:
    """A Nexus request for a handler worker. In memory only, like a query: its caller waits
    for the answer and sends the request again if none comes (services/nexus_tasks.py).
    `key` names the handler's namespace only."""

    key: ExecutionKey
    task_queue: str
    task_id: str
    kind: QueueKind = QueueKind.NEXUS


AnyDispatch = Dispatch | QueryDispatch | NexusDispatch


@dataclass(frozen=True)
class RemoteBacklog:
    """Not a task: word that tasks of the queue wait at another process, for the poll to
    fetch there."""

    address: str


@dataclass(frozen=True)
class Started:
    """A task started for a waiting poll by the very write that created it (see `claim`):
    the poll only has to answer. `outcome` is what recording the start returned."""

    dispatch: Dispatch
    outcome: object


class TryAgain:
    """A poll claimed for a task whose write then failed: it goes back to waiting."""


TRY_AGAIN = TryAgain()
Polled = AnyDispatch | RemoteBacklog | Started | TryAgain


@dataclass(eq=False)
class WaitingPoll:
    future: asyncio.Future[Polled | None]
    identity: str

    def answer(self, item: Polled | None) -> bool:
        """Hand the item over, unless the poll went away; whether it was handed over."""
        if self.future.done():
            return False
        self.future.set_result(item)
        return True


RATE_WINDOW = 30.0  # seconds over which add and dispatch rates are measured


@dataclass
class Rate:
    """How often something happened lately: a count, and the times within the window."""

    total: int = 0
    times: deque[float] = field(default_factory=deque)

    def mark(self) -> None:
        self.total += 1
        self.times.append(time.monotonic())
        self._trim()

    def per_second(self) -> float:
        self._trim()
        return len(self.times) / RATE_WINDOW

    def _trim(self) -> None:
        since = time.monotonic() - RATE_WINDOW
        while self.times and self.times[0] < since:
            self.times.popleft()


def priority_of(item: AnyDispatch) -> int:
    """A task's priority key; queries and Nexus requests go first."""
    return (item.task.priority or DEFAULT_PRIORITY) if isinstance(item, Dispatch) else URGENT


def fairness_of(item: AnyDispatch) -> tuple[str, float]:
    """A task's fairness key and weight (matching/fairness.py)."""
    return (item.task.fairness_key, item.task.fairness_weight) if isinstance(item, Dispatch) else ("", 0.0)


@dataclass
class TaskQueue:
    backlog: Backlog[AnyDispatch] = field(default_factory=lambda: Backlog(priority_of, fairness_of))
    polls: deque[WaitingPoll] = field(default_factory=deque)
    # identity → last time it polled, for DescribeTaskQueue.
    pollers: dict[str, datetime] = field(default_factory=dict)
    # Other processes said to hold tasks of this queue: address → when we last heard so.
    remote: dict[str, float] = field(default_factory=dict)
    # (execution, task key) of the tasks in `backlog`, so that loading one twice queues it
    # once, with when it was queued (for the backlog's age).
    queued: dict[tuple[ExecutionKey, str], float] = field(default_factory=dict)
    # Tasks added to the queue and handed to polls, for DescribeTaskQueue.
    added: Rate = field(default_factory=Rate)
    dispatched: Rate = field(default_factory=Rate)


class Matching:
    def __init__(self) -> None:
        self._queues: dict[tuple[str, str, QueueKind], TaskQueue] = {}
        self._released: set[tuple[str, str]] = set()
        self._closed = False
        # Called when a task is queued with no poll waiting for it (see the module's docstring).
        self.on_backlog: Callable[[str, str, QueueKind], None] | None = None

    def queue(self, namespace_id: str, name: str, kind: QueueKind) -> TaskQueue:
        return self._queues.setdefault((namespace_id, name, kind), TaskQueue())

    def add(self, dispatch: AnyDispatch, front: bool = False) -> None:
        queue = self.queue(dispatch.key.namespace_id, dispatch.task_queue, dispatch.kind)
        if _identity(dispatch) in queue.queued:
            return
        if not front:  # not a task given back by a poll that went away
            queue.added.mark()
        if _hand_over(queue, dispatch):
            return
        queue.queued[_identity(dispatch)] = time.monotonic()
        if front:
            queue.backlog.appendleft(dispatch)
        else:
            queue.backlog.append(dispatch)
        if self.on_backlog is not None:
            self.on_backlog(dispatch.key.namespace_id, dispatch.task_queue, dispatch.kind)

    def backlog_age(self, namespace_id: str, name: str, kind: QueueKind) -> float:
        """Seconds the oldest task of the queue has waited; 0 with none."""
        queue = self.queue(namespace_id, name, kind)
        return time.monotonic() - min(queue.queued.values()) if queue.queued else 0.0

    def heard(self, namespace_id: str, name: str, kind: QueueKind, address: str) -> None:
        """Another process holds tasks of this queue: send a waiting poll there."""
        queue = self.queue(namespace_id, name, kind)
        queue.remote[address] = time.monotonic()
        _hand_over(queue, RemoteBacklog(address))

    def drained(self, namespace_id: str, name: str, kind: QueueKind, address: str, since: float) -> None:
        """A poll sent to `address` at `since` found nothing: forget it, unless it has been
        announced again meanwhile."""
        remote = self.queue(namespace_id, name, kind).remote
        if remote.get(address, since) < since:
            del remote[address]

    def waiting_backlogs(self) -> list[tuple[str, str, QueueKind]]:
        """Queues with tasks and no poll here: what the other processes may want to hear of."""
        return [name for name, queue in self._queues.items() if queue.backlog and not queue.polls]

    async def poll(
        self,
        namespace_id: str,
        name: str,
        kind: QueueKind,
        identity: str,
        now: datetime,
        timeout: float,
        local_only: bool = False,
    ) -> Polled | None:
        """The next task of the queue, or None if none came within `timeout` seconds; or,
        unless `local_only`, word of tasks at another process."""
        queue = self.queue(namespace_id, name, kind)
        queue.pollers[identity] = now
        dispatch = next(iter(queue.backlog), None)  # with rate limits, None until the head may go
        if dispatch is not None:
            queue.backlog.remove(dispatch)
            queue.queued.pop(_identity(dispatch), None)
            queue.dispatched.mark()
            return dispatch
        if not local_only and queue.remote:
            return RemoteBacklog(max(queue.remote, key=queue.remote.__getitem__))
        if self._closed or timeout <= 0:
            return None
        waiter: asyncio.Future[Polled | None] = asyncio.get_running_loop().create_future()
        waiting = WaitingPoll(waiter, identity)
        queue.polls.append(waiting)
        try:
            async with asyncio.timeout(timeout):
                return await waiter
        except TimeoutError:
            return _received(waiter)
        except asyncio.CancelledError:
            received = _received(waiter)
            if isinstance(
                received, Dispatch | QueryDispatch | NexusDispatch
            ):  # not started: another may have it
                self.add(received, front=True)
            raise
        finally:
            if waiting in queue.polls:
                queue.polls.remove(waiting)

    def backlogs(self) -> list[tuple[str, str, QueueKind, int]]:
        """(namespace id, task queue, kind, tasks waiting) of each queue with tasks waiting. Safe
        to call from another thread (the metrics server's): it copies before it reads."""
        return [
            (namespace_id, name, kind, len(queue.backlog))
            for (namespace_id, name, kind), queue in list(self._queues.items())
            if queue.backlog
        ]

    def claim(self, namespace_id: str, name: str, kind: QueueKind) -> WaitingPoll | None:
        """Take the longest-waiting poll of the queue out of line, for the caller to start a
        task for it in the write that creates the task, saving a write (see HistoryCore);
        the caller answers it with `Started`, or with TRY_AGAIN if that write fails."""
        queue = self._queues.get((namespace_id, name, kind))
        if queue is not None and queue.backlog.gate is not None:
            return None  # rate-limited: tasks go in line, through the backlog (matching/rate_limits.py)
        while queue is not None and queue.polls and not self._closed:
            poll = queue.polls.popleft()
            if not poll.future.done():
                queue.added.mark()  # the task is started for this poll in the write that creates it
                queue.dispatched.mark()
                return poll
        return None

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
                queue.polls.popleft().answer(None)


def _hand_over(queue: TaskQueue, item: Polled) -> bool:
    """Give the item to the longest-waiting poll, if one waits."""
    if queue.backlog.gate is not None and isinstance(item, Dispatch):
        return False  # rate-limited: tasks go in line, through the backlog (matching/rate_limits.py)
    while queue.polls:
        if queue.polls.popleft().answer(item):
            if not isinstance(item, RemoteBacklog):
                queue.dispatched.mark()
            return True
    return False


def _identity(dispatch: AnyDispatch) -> tuple[ExecutionKey, str]:
    if isinstance(dispatch, Dispatch):
        return dispatch.key, dispatch.task.key
    if isinstance(dispatch, NexusDispatch):
        return dispatch.key, dispatch.task_id
    return dispatch.key, dispatch.query_id


def _received(waiter: asyncio.Future[Polled | None]) -> Polled | None:
    """A task that was handed over just as the poll gave up."""
    if waiter.done() and not waiter.cancelled():
        return waiter.result()
    return None
