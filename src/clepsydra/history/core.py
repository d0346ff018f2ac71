"""The one path for every state change of an execution.

`update` locks the workflow id, loads the execution (from the cache or the store),
lets the engine change it through a `Mutation`, and commits events, mutable state
and tasks in one conditional write. Only after the commit do its tasks reach the
task queues and the timer queue, and do history watchers wake up. Any failure
drops the cached copy: the store is the truth and the next caller reloads it.

When several processes share the database, the owner of an execution's shard (see
`clepsydra.cluster`) is the one that indexes its tasks and fires its timers. Another
process may still change the execution (a child's news for its parent, say): the
write is conditioned on the version read like any other, and the owner hears of it
(`heard_of_change`) and indexes what it added. A write that finds the version moved
is computed again from the store's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.history.v1 import History, HistoryEvent

from clepsydra.clock import Clock
from clepsydra.cluster.membership import Membership
from clepsydra.engine import codec, workflow_task
from clepsydra.engine.dispatch import start_queued
from clepsydra.engine.fire import fire
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import ExecutionKey, ExecutionState
from clepsydra.engine.tasks import QueueTask, TimerTask, TransferTask
from clepsydra.errors import ConditionFailed, InvalidArgument, NotFound, ShardOwnershipLost
from clepsydra.history.timer_queue import WINDOW as TIMER_WINDOW
from clepsydra.history.timer_queue import TimerQueue
from clepsydra.history.transfer_queue import TransferQueue
from clepsydra.matching.task_queues import TRY_AGAIN, Dispatch, Matching, Started, WaitingPoll
from clepsydra.store.base import (
    CurrentWrite,
    ExecutionWrite,
    Store,
    StoredQueueTask,
    StoredTimer,
    StoredTransfer,
    VisibilityRecord,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
CACHE_SIZE = 10_000
# Most events of a run's history tail kept in memory (see Cached.tail).
TAIL_EVENTS = 256
# How many times a change is computed again after another process changed the execution.
WRITE_ATTEMPTS = 5
NOT_OWNED_WAIT_SECONDS = 2.0


@dataclass
class Cached:
    state: ExecutionState
    version: int
    # The newest committed events, contiguous up to the last one: what a sticky worker has not
    # seen yet and what a result poll wants, served without a trip to the store.
    tail: list[HistoryEvent] = field(default_factory=list)


class HistoryCore:
    def __init__(
        self, store: Store, clock: Clock, matching: Matching, membership: Membership | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self.matching = matching
        self.membership = membership or Membership()
        self.timers = TimerQueue(clock, self.fire_timer)
        self.transfers = TransferQueue()
        # Called with each committed mutation (e.g. to tell update waiters how far they got).
        self.after_commit: list[Callable[[Mutation], None]] = []
        self._cache: OrderedDict[ExecutionKey, Cached] = OrderedDict()
        # Counts the times cached state was dropped because others may have changed it (a
        # shard taken or given up, a change made elsewhere): a state read from the store
        # before such a time may be older than the store, and is not cached (see `load`).
        self._invalidations = 0
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}
        self._watchers: dict[ExecutionKey, list[asyncio.Future[None]]] = {}
        # Called with each committed state (e.g. by time skipping, to know when all is idle).
        self.observers: list[Callable[[ExecutionState], None]] = []
        # Called with the state of an owned execution that another process changed.
        self.changed_elsewhere: list[Callable[[ExecutionState], None]] = []

    # -- start-up ---------------------------------------------------------------------------

    async def recover(self, shards: Collection[int] | None = None) -> None:
        """Re-arm everything the store says is pending (for the executions of `shards`, or
        all): after a crash or a takeover, work goes on."""
        if shards is not None:  # whatever was cached of them before is stale now
            await self.release(shards)
        self._index(
            await self.store.load_queue_tasks(shards),
            await self.store.load_timers(shards, until=self.timers.horizon),
            await self.store.load_transfers(shards),
        )

    def load_timers_ahead(self, window: timedelta = TIMER_WINDOW) -> None:
        """Keep in memory only the timers due within `window` (see TimerQueue); call before
        `recover`."""

        async def load(after: datetime, until: datetime) -> list[tuple[ExecutionKey, TimerTask]]:
            timers = await self.store.load_timers(self.membership.held_shards(), after, until)
            return [(t.key, codec.loads(TimerTask, t.data)) for t in timers]

        self.timers.load_ahead(load, window)

    def _index(
        self, queue_tasks: list[StoredQueueTask], timers: list[StoredTimer], transfers: list[StoredTransfer]
    ) -> None:
        for stored in queue_tasks:
            self.matching.add(Dispatch(stored.key, codec.loads(QueueTask, stored.data)))
        for timer in timers:
            self.timers.add(timer.key, codec.loads(TimerTask, timer.data))
        for transfer in transfers:
            self.transfers.add(transfer.key, codec.loads(TransferTask, transfer.data))

    async def release(self, shards: Collection[int]) -> None:
        """Shards now owned by another process: forget their cached executions. (Their timers
        and transfers are dropped as they come up; see `owns`.)"""
        self._invalidations += 1
        for key in [k for k in self._cache if self._shard(k) in shards]:
            del self._cache[key]

    def heard_of_change(self, origin: str, key: ExecutionKey) -> None:
        """Another process changed an execution: if it is ours, take in what the change added."""
        if origin != self.membership.address and self.owns(key):
            asyncio.get_running_loop().create_task(self._take_in(key))

    async def _take_in(self, key: ExecutionKey) -> None:
        self._invalidations += 1
        self._cache.pop(key, None)
        try:
            self._index(*await self.store.load_tasks_of(key))
            async with self.reading(key) as state:
                for listen in self.changed_elsewhere:
                    listen(state)
        except NotFound:
            pass  # deleted meanwhile
        except Exception:
            log.exception("could not take in the change of %s", key)
        self._notify(key)

    def owns(self, key: ExecutionKey) -> bool:
        return self.membership.owns(key.namespace_id, key.workflow_id)

    def _shard(self, key: ExecutionKey) -> int:
        return self.membership.shard(key.namespace_id, key.workflow_id)

    # -- locking and loading ----------------------------------------------------------------

    @asynccontextmanager
    async def locked(self, namespace_id: str, workflow_id: str) -> AsyncIterator[None]:
        """Serialize changes to one workflow id (all its runs) within this process."""
        name = (namespace_id, workflow_id)
        lock, users = self._locks.get(name, (asyncio.Lock(), 0))
        self._locks[name] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[name]
            if users == 1:
                del self._locks[name]
            else:
                self._locks[name] = (lock, users - 1)

    @asynccontextmanager
    async def reading(self, key: ExecutionKey) -> AsyncIterator[ExecutionState]:
        """The execution's committed state, for a read that must not see a change that is
        being committed (changes mutate the cached state before their commit is durable).
        Changes to the workflow wait until the block ends: keep it short, never nest it."""
        async with self.locked(key.namespace_id, key.workflow_id):
            yield (await self.load(key)).state

    async def load(self, key: ExecutionKey) -> Cached:
        """The execution's state: cached if this process owns it (nobody else changes it
        without telling), read afresh otherwise (its owner may have changed it meanwhile)."""
        cached = self._cache.get(key)
        if cached is not None:
            if self.owns(key):
                self._cache.move_to_end(key)
                return cached
            del self._cache[key]  # its shard was given up: others may have changed it since
        invalidations = self._invalidations
        row = await self.store.get_execution(key)
        if row is None:
            raise NotFound(
                f'workflow execution not found for workflow ID "{key.workflow_id}" and run ID "{key.run_id}"'
            )
        raced = self._cache.get(key)
        if raced is not None:  # loaded (and maybe changed) by someone else meanwhile
            return raced
        cached = Cached(codec.loads(ExecutionState, row[0]), row[1])
        if invalidations == self._invalidations:  # else it may be older than the store by now
            self._remember(key, cached)
        return cached

    def _remember(self, key: ExecutionKey, cached: Cached) -> None:
        if not self.owns(key):
            return
        self._cache[key] = cached
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def forget(self, key: ExecutionKey) -> None:
        """Drop the cached state of a run deleted from the store (hold its workflow id's lock)."""
        self._cache.pop(key, None)

    async def current_run(self, namespace_id: str, workflow_id: str) -> str:
        current = await self.store.get_current_execution(namespace_id, workflow_id)
        if current is None:
            raise NotFound(f"workflow not found for ID: {workflow_id}")
        return current.run_id

    async def resolve(self, namespace_id: str, workflow_id: str, run_id: str) -> ExecutionKey:
        """The execution a request names; an empty run id means the current run."""
        if not run_id:
            run_id = await self.current_run(namespace_id, workflow_id)
        else:
            try:
                uuid.UUID(run_id)
            except ValueError:
                raise InvalidArgument("Invalid RunId.") from None
        return ExecutionKey(namespace_id, workflow_id, run_id)

    # -- the update path --------------------------------------------------------------------

    async def update(
        self,
        key: ExecutionKey,
        change: Callable[[Mutation], T],
        *,
        done_queue_task: str | None = None,
        done_timer: str | None = None,
        done_transfer: str | None = None,
    ) -> T:
        async with self.locked(key.namespace_id, key.workflow_id):
            return await self.update_locked(key, change, done_queue_task, done_timer, done_transfer)

    async def update_locked(
        self,
        key: ExecutionKey,
        change: Callable[[Mutation], T],
        done_queue_task: str | None = None,
        done_timer: str | None = None,
        done_transfer: str | None = None,
    ) -> T:
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            cached = await self.load(key)
            m = Mutation(cached.state, self.clock.now(), self.new_id)
            try:
                result = change(m)
                workflow_task.schedule_if_needed(m)
            except BaseException:
                self._cache.pop(key, None)
                raise
            if not m.has_writes:
                await self._delete_done(key, done_queue_task, done_timer, done_transfer)
                return result
            claimed = self._start_for_waiting_polls(key, m)
            committed = False
            try:
                await self.commit(
                    cached,
                    m,
                    done_queue_task=done_queue_task,
                    done_timer=done_timer,
                    done_transfer=done_transfer,
                )
                committed = True
                return result
            except ShardOwnershipLost:
                self.membership.lost(key)  # write again, as a process that does not own it
            except ConditionFailed:
                if attempt == WRITE_ATTEMPTS:
                    raise
                log.debug("%s changed under a write; computing it again", key)
            finally:
                for poll, started in claimed:  # a poll that went away meanwhile: the task times out
                    poll.answer(started if committed else TRY_AGAIN)
        raise AssertionError("unreachable")

    def _start_for_waiting_polls(self, key: ExecutionKey, m: Mutation) -> list[tuple[WaitingPoll, Started]]:
        """Sync match inside the write: a task that a poll here is already waiting for is
        started by the change that creates it, rather than by a second write once the
        poll has it. The polls are answered once the write is durable."""
        if m.closed or not m.queue_tasks or not self.owns(key):
            return []
        claimed = []
        for task in list(m.queue_tasks):
            if self.matching.released(key.namespace_id, task.task_queue):
                continue
            poll = self.matching.claim(key.namespace_id, task.task_queue, task.kind)
            if poll is None:
                continue
            try:
                outcome = start_queued(m, task, poll.identity, self.new_id())
            except NotFound:  # not startable yet (none is known to be so): it waits in line
                poll.answer(TRY_AGAIN)
                continue
            claimed.append((poll, Started(Dispatch(key, task), outcome)))
        return claimed

    async def _delete_done(
        self, key: ExecutionKey, queue_task: str | None, timer: str | None, transfer: str | None
    ) -> None:
        """A task that changed nothing is still done: delete it on its own."""
        if queue_task is not None:
            await self.store.delete_queue_task(key, queue_task)
        if timer is not None:
            await self.store.delete_timer(key, timer)
        if transfer is not None:
            await self.store.delete_transfer(key, transfer)

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    async def commit(
        self,
        cached: Cached,
        m: Mutation,
        *,
        current: CurrentWrite | None = None,
        done_queue_task: str | None = None,
        done_timer: str | None = None,
        done_transfer: str | None = None,
    ) -> None:
        """Write the mutation (and the run that succeeds it, if any) in one transaction."""
        write = _write(m, cached.version, current)
        write.done_queue_task = done_queue_task
        write.done_timer = done_timer
        write.done_transfer = done_transfer
        successor = m.successor
        if successor is not None:
            new = successor.state
            write.successor = _write(
                successor,
                0,
                CurrentWrite(new.run_id, new.first_run_id, new.status, new.start_request_id, m.state.run_id),
            )
        try:
            await self.store.commit(write)
        except BaseException:
            self._cache.pop(m.state.key, None)
            raise
        cached.version += 1
        self._publish(cached, m)
        if successor is not None:
            self._publish(Cached(successor.state, 1), successor)

    def _publish(self, cached: Cached, m: Mutation) -> None:
        """After a commit: cache the state, hand out its tasks, wake its watchers."""
        key = m.state.key
        self._remember(key, cached)
        if m.events:
            _extend_tail(cached, m.events)
        if self.owns(key):  # otherwise its owner indexes the tasks when it hears of the change
            self._index_new(key, m)
        for listener in self.after_commit:
            listener(m)
        if m.events or m.closed:
            self._notify(key)
        for observe in self.observers:
            observe(m.state)

    def _index_new(self, key: ExecutionKey, m: Mutation) -> None:
        for task in _live(m, m.queue_tasks):
            if self.matching.released(key.namespace_id, task.task_queue):
                asyncio.get_running_loop().create_task(self.sticky_worker_gone(Dispatch(key, task)))
            else:
                self.matching.add(Dispatch(key, task))
        for timer in _live(m, m.timer_tasks):
            self.timers.add(key, timer)
        for transfer in m.transfer_tasks:
            self.transfers.add(key, transfer)

    async def sticky_worker_gone(self, dispatch: Dispatch) -> None:
        """A workflow task sits on the queue of a worker that shut down: move it now,
        rather than when its schedule-to-start timeout fires."""
        task = dispatch.task
        with contextlib.suppress(NotFound):
            await self.update(
                dispatch.key,
                lambda m: workflow_task.time_out(
                    m, task.scheduled_event_id, task.attempt, workflow_task.SCHEDULE_TO_START
                ),
            )

    # -- durable timers ---------------------------------------------------------------------

    async def fire_timer(self, key: ExecutionKey, task: TimerTask) -> None:
        if not self.owns(key):
            return  # its shard moved: the new owner loaded the timer with the shard
        async with self.locked(key.namespace_id, key.workflow_id):
            cached = self._cache.get(key)
            if cached is not None and not cached.state.running:
                # Closed (and committed: the lock is ours): every timer of the run is moot, and
                # its rows went with the close, so there is nothing to change or delete.
                return
            try:
                await self.update_locked(key, lambda m: fire(m, task), done_timer=task.key)
            except NotFound:
                await self.store.delete_timer(key, task.key)

    # -- watching history -------------------------------------------------------------------

    async def wait_for_change(self, key: ExecutionKey, timeout: float) -> None:
        """Return when the execution gets new events or closes, or after `timeout`."""
        if not self.owns(key):
            # Served here while its owner is out of reach: only changes made here would wake
            # the wait, so answer soon, and the caller's next poll finds the new owner.
            timeout = min(timeout, NOT_OWNED_WAIT_SECONDS)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._watchers.setdefault(key, []).append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            pass
        finally:
            waiters = self._watchers.get(key, [])
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                self._watchers.pop(key, None)

    def _notify(self, key: ExecutionKey) -> None:
        for waiter in self._watchers.pop(key, []):
            if not waiter.done():
                waiter.set_result(None)

    async def read_events(self, key: ExecutionKey, first_event_id: int) -> list[HistoryEvent]:
        """Committed events of a run from `first_event_id` on."""
        cached = self._cache.get(key) if self.owns(key) else None
        if cached is not None and cached.tail and cached.tail[0].event_id <= first_event_id:
            return [e for e in cached.tail if e.event_id >= first_event_id]
        events: list[HistoryEvent] = []
        for _, blob in await self.store.read_history(key, first_event_id):
            batch = History.FromString(blob).events
            events.extend(e for e in batch if e.event_id >= first_event_id)
        return events


def _live(m: Mutation, tasks: list[T]) -> list[T]:
    """The tasks worth keeping: none once the change has closed the run (e.g. the timeouts of
    an activity scheduled by the same completion), as the close deletes the run's others."""
    return [] if m.closed else tasks


def _extend_tail(cached: Cached, events: list[HistoryEvent]) -> None:
    """Append newly committed events; keep those a sticky worker may still need (after the last
    completed workflow task's start), at most TAIL_EVENTS of them, and always the last one."""
    tail = cached.tail
    if tail and tail[-1].event_id + 1 != events[0].event_id:
        tail.clear()  # a gap would hand out a wrong history: start again from these
    tail.extend(events)
    keep_from = cached.state.previous_started_event_id + 1
    drop = max(len(tail) - TAIL_EVENTS, 0)
    while drop < len(tail) - 1 and tail[drop].event_id < keep_from:
        drop += 1
    del tail[:drop]


def _write(m: Mutation, expected_version: int, current: CurrentWrite | None) -> ExecutionWrite:
    """The store write of one mutation: history batch, state, tasks, visibility."""
    state = m.state
    key = state.key
    batch = None
    if m.events:
        blob = History(events=m.events).SerializeToString()
        state.history_size_bytes += len(blob)
        batch = (m.events[0].event_id, blob)
    state.state_transition_count += 1
    if m.closed and current is None and m.successor is None:
        current = CurrentWrite(
            state.run_id, state.first_run_id, state.status, state.start_request_id, state.run_id
        )
    return ExecutionWrite(
        key=key,
        state=codec.dumps(state),
        expected_version=expected_version,
        history_batch=batch,
        current=current,
        queue_tasks=[
            StoredQueueTask(key, t.key, t.task_queue, t.kind, codec.dumps(t)) for t in _live(m, m.queue_tasks)
        ],
        timers=[StoredTimer(key, t.key, t.fire_time, codec.dumps(t)) for t in _live(m, m.timer_tasks)],
        transfers=[StoredTransfer(key, t.key, codec.dumps(t)) for t in m.transfer_tasks],
        closed=m.closed,
        visibility=visibility_record(state) if m.visibility_changed else None,
    )


def visibility_record(s: ExecutionState) -> VisibilityRecord:
    return VisibilityRecord(
        key=s.key,
        workflow_type=s.workflow_type,
        task_queue=s.task_queue,
        status=s.status,
        start_time=s.start_time,
        execution_time=s.execution_time,
        close_time=s.close_time,
        history_length=s.history_length,
        history_size_bytes=s.history_size_bytes,
        state_transition_count=s.state_transition_count,
        memo=s.memo.SerializeToString(),
        search_attributes=s.search_attributes.SerializeToString(),
        parent=_execution_pair(s.start.parent_workflow_execution),
        root=_execution_pair(s.start.root_workflow_execution),
    )


def _execution_pair(execution: WorkflowExecution) -> tuple[str, str] | None:
    return (execution.workflow_id, execution.run_id) if execution.workflow_id else None


def is_running(status: int) -> bool:
    return status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
