"""In-memory task queues: a backlog of tasks and a line of waiting polls per queue.

A task goes to a poll whose worker version is the one the task is routed to (`Route`): for
queues of no worker deployment, any poll; see services/worker_deployments.py.

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

    @property
    def pinned(self) -> str:
        return self.task.pinned


@dataclass(frozen=True)
class QueryDispatch:
    """A query for a worker to answer. Like the reference's query tasks it lives in memory
    only: the client waiting for the answer is gone after a restart anyway."""

    key: ExecutionKey
    task_queue: str
    query_id: str
    query: WorkflowQuery
    kind: QueueKind = QueueKind.WORKFLOW
    pinned: str = ""  # as QueueTask.pinned


@dataclass(frozen=True)
class NexusDispatch:
    """A Nexus request for a handler worker. In memory only, like a query: its caller waits
    for the answer and sends the request again if none comes (services/nexus_tasks.py).
    `key` names the handler's namespace only."""

    key: ExecutionKey
    task_queue: str
    task_id: str
    kind: QueueKind = QueueKind.NEXUS
    pinned: str = ""  # a Nexus request goes where its queue routes new work


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


# (namespace id, task queue, kind, workflow id, pinned version) → the worker version
# (engine/versioning.version_key; "" for unversioned workers) the task must go to, or None
# if the queue belongs to no worker deployment and any poll may take it.
Route = Callable[[str, str, QueueKind, str, str], str | None]


def _unrouted(namespace_id: str, name: str, kind: QueueKind, workflow_id: str, pinned: str) -> str | None:
    return None


@dataclass(eq=False)
class WaitingPoll:
    future: asyncio.Future[Polled | None]
    identity: str
    version: str = ""  # of the polling worker: engine/versioning.version_key, "" unversioned

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
    # identity → the worker version it polls for, if versioned.
    poller_versions: dict[str, str] = field(default_factory=dict)
    # Other processes said to hold tasks of this queue: address → when we last heard so.
    remote: dict[str, float] = field(default_factory=dict)
    # (execution, task key) of the tasks in `backlog`, so that loading one twice queues it
    # once, with when it was queued (for the backlog's age).
    queued: dict[tuple[ExecutionKey, str], tuple[float, AnyDispatch]] = field(default_factory=dict)
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
        self.route: Route = _unrouted
        # Takes a workflow task that sits on a sticky queue whose worker may not run it (its
        # workflow's routing moved to another version) to the normal queue; whether it did.
        self.stray: Callable[[Dispatch], bool] = lambda dispatch: False

    def target(self, item: Polled) -> str | None:
        """The worker version the item must go to; None if any worker may take it."""
        if not isinstance(item, Dispatch | QueryDispatch | NexusDispatch):
            return None
        return self.route(
            item.key.namespace_id, item.task_queue, item.kind, item.key.workflow_id, item.pinned
        )

    def queue(self, namespace_id: str, name: str, kind: QueueKind) -> TaskQueue:
        return self._queues.setdefault((namespace_id, name, kind), TaskQueue())

    def add(self, dispatch: AnyDispatch, front: bool = False) -> None:
        queue = self.queue(dispatch.key.namespace_id, dispatch.task_queue, dispatch.kind)
        known = queue.queued.get(_identity(dispatch))
        if known is not None:
            if known[1] == dispatch:
                return
            _unqueue(queue, known[1])  # the same task queued again, changed (routed anew)
        if isinstance(dispatch, Dispatch) and self.stray(dispatch):
            return
        if not front:  # not a task given back by a poll that went away
            queue.added.mark()
        if self._hand_over(queue, dispatch):
            return
        queue.queued[_identity(dispatch)] = (time.monotonic(), dispatch)
        if front:
            queue.backlog.appendleft(dispatch)
        else:
            queue.backlog.append(dispatch)
        if self.on_backlog is not None:
            self.on_backlog(dispatch.key.namespace_id, dispatch.task_queue, dispatch.kind)

    def backlog_age(self, namespace_id: str, name: str, kind: QueueKind) -> float:
        """Seconds the oldest task of the queue has waited; 0 with none."""
        queue = self.queue(namespace_id, name, kind)
        return time.monotonic() - min(since for since, _ in queue.queued.values()) if queue.queued else 0.0

    def heard(self, namespace_id: str, name: str, kind: QueueKind, address: str) -> None:
        """Another process holds tasks of this queue: send a waiting poll there."""
        queue = self.queue(namespace_id, name, kind)
        queue.remote[address] = time.monotonic()
        self._hand_over(queue, RemoteBacklog(address))

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
        version: str = "",
    ) -> Polled | None:
        """The next task of the queue for a worker of `version`, or None if none came within
        `timeout` seconds; or, unless `local_only`, word of tasks at another process."""
        queue = self.queue(namespace_id, name, kind)
        queue.pollers[identity] = now
        if version:
            queue.poller_versions[identity] = version
        dispatch = self._take(queue, version)
        if dispatch is not None:
            return dispatch
        if not local_only and queue.remote:
            return RemoteBacklog(max(queue.remote, key=queue.remote.__getitem__))
        if self._closed or timeout <= 0:
            return None
        waiter: asyncio.Future[Polled | None] = asyncio.get_running_loop().create_future()
        waiting = WaitingPoll(waiter, identity, version)
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

    def claim(self, dispatch: Dispatch) -> WaitingPoll | None:
        """Take the longest-waiting poll that may have the task out of line, for the caller
        to start the task for it in the write that creates it, saving a write (see
        HistoryCore); the caller answers it with `Started`, or with TRY_AGAIN if that write
        fails."""
        queue = self._queues.get((dispatch.key.namespace_id, dispatch.task_queue, dispatch.kind))
        if queue is None or self._closed:
            return None
        poll = self._next_poll(queue, dispatch)
        if poll is not None:
            queue.added.mark()  # the task is started for this poll in the write that creates it
            queue.dispatched.mark()
        return poll

    def rematch(self, namespace_id: str) -> None:
        """Routing changed in the namespace: hand tasks waiting there to the waiting polls
        that may have them now."""
        for (queue_namespace, _, _), queue in self._queues.items():
            if queue_namespace != namespace_id or not queue.backlog:
                continue
            for item in list(queue.backlog):
                if (isinstance(item, Dispatch) and self.stray(item)) or self._hand_over(queue, item):
                    _unqueue(queue, item)

    def _take(self, queue: TaskQueue, version: str) -> AnyDispatch | None:
        """The first task of the backlog a worker of `version` may have, out of it."""
        for item in queue.backlog:
            target = self.target(item)
            if target is None or target == version:
                _unqueue(queue, item)
                queue.dispatched.mark()
                return item
        return None

    def _next_poll(self, queue: TaskQueue, item: Polled) -> WaitingPoll | None:
        """The longest-waiting poll that may have the item, out of line."""
        if queue.backlog.gate is not None and isinstance(item, Dispatch):
            return None  # rate-limited: tasks go in line, through the backlog (matching/rate_limits.py)
        polls = queue.polls
        while polls and polls[0].future.done():  # went away
            polls.popleft()
        if not polls:
            return None
        target = self.target(item)
        for poll in polls:
            if (target is None or target == poll.version) and not poll.future.done():
                polls.remove(poll)
                return poll
        return None

    def _hand_over(self, queue: TaskQueue, item: Polled) -> bool:
        """Give the item to the longest-waiting poll that may have it, if one waits."""
        poll = self._next_poll(queue, item)
        if poll is None or not poll.answer(item):
            return False
        if not isinstance(item, RemoteBacklog):
            queue.dispatched.mark()
        return True

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


def _unqueue(queue: TaskQueue, item: AnyDispatch) -> None:
    """Take a waiting task out of the queue's backlog."""
    queue.backlog.remove(item)
    queue.queued.pop(_identity(item), None)


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
