"""The one path for every state change of an execution.

`update` locks the workflow id, loads the execution (from the cache or the store),
lets the engine change it through a `Mutation`, and commits events, mutable state
and tasks in one conditional write. Only after the commit do its tasks reach the
task queues and the timer queue, and do history watchers wake up. Any failure
drops the cached copy: the store is the truth and the next caller reloads it.

New runs (starts, resets) take the same commit through `create`. When several
processes share the database, the owner of an execution's shard (`ownership.py`) is
the one that caches its state, indexes its tasks and fires its timers. Another
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
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Protocol, TypeVar

from temporalio.api.history.v1 import History, HistoryEvent

from clepsydra.clock import Clock
from clepsydra.engine import codec, standalone_activities, standalone_nexus, workflow_task
from clepsydra.engine.dispatch import start_queued
from clepsydra.engine.fire import fire
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import ExecutionKey, ExecutionState
from clepsydra.engine.tasks import QueueTask, TimerTask, TransferTask
from clepsydra.errors import ConditionFailed, InvalidArgument, NotFound, ShardOwnershipLost
from clepsydra.history.cache import Cached, StateCache
from clepsydra.history.ownership import Ownership, SingleOwner
from clepsydra.history.timer_queue import TimerQueue
from clepsydra.history.transfer_queue import TransferQueue
from clepsydra.history.writes import execution_write, live
from clepsydra.matching.task_queues import TRY_AGAIN, Dispatch, Matching, Started, WaitingPoll
from clepsydra.store.base import (
    CurrentExecution,
    CurrentWrite,
    Store,
    StoredQueueTask,
    StoredTimer,
    StoredTransfer,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
# How many times a change is computed again after another process changed the execution.
WRITE_ATTEMPTS = 5
NOT_OWNED_WAIT_SECONDS = 2.0


class CommitListener(Protocol):
    def committed(self, m: Mutation) -> None:
        """A change (or a new run) was committed here; its state is the committed one."""

    def changed_elsewhere(self, state: ExecutionState) -> None:
        """Another process changed an execution this one owns; `state` is the new one."""


class HistoryCore:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        matching: Matching,
        timers: TimerQueue,
        transfers: TransferQueue,
        ownership: Ownership | None = None,
        cache_bytes: int | None = None,
    ) -> None:
        """`cache_bytes`: what the cache of executions may hold (default: DEFAULT_CACHE_MB)."""
        self._store = store
        self._clock = clock
        self._matching = matching
        self._timers = timers
        self._transfers = transfers
        self._ownership: Ownership = ownership or SingleOwner()
        self._cache = StateCache() if cache_bytes is None else StateCache(cache_bytes)
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}
        self._watchers: dict[ExecutionKey, list[asyncio.Future[None]]] = {}
        self._listeners: list[CommitListener] = []

    @property
    def cache(self) -> StateCache:
        return self._cache

    def subscribe(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    # -- ownership ----------------------------------------------------------------------------

    async def recover(self, shards: Collection[int] | None = None) -> None:
        """Re-arm everything the store says is pending (for the executions of `shards`, or
        all): after a crash or a takeover, work goes on."""
        if shards is not None:  # whatever was cached of them before is stale now
            await self.release(shards)
        self._index(
            await self._store.load_queue_tasks(shards),
            await self._store.load_timers(shards, until=self._timers.horizon),
            await self._store.load_transfers(shards),
        )

    def _index(
        self, queue_tasks: list[StoredQueueTask], timers: list[StoredTimer], transfers: list[StoredTransfer]
    ) -> None:
        for stored in queue_tasks:
            self._matching.add(Dispatch(stored.key, codec.loads(QueueTask, stored.data)))
        for timer in timers:
            self._timers.add(timer.key, codec.loads(TimerTask, timer.data))
        for transfer in transfers:
            self._transfers.add(transfer.key, codec.loads(TransferTask, transfer.data))

    async def release(self, shards: Collection[int]) -> None:
        """Shards now owned by another process: forget their cached executions. (Their timers
        and transfers are dropped as they come up; see `owns`.)"""
        self._cache.invalidate([k for k in self._cache if self._shard(k) in shards])

    def heard_of_change(self, origin: str, key: ExecutionKey) -> None:
        """Another process changed an execution: if it is ours, take in what the change added."""
        if origin != self._ownership.address and self.owns(key):
            asyncio.get_running_loop().create_task(self._take_in(key))

    async def _take_in(self, key: ExecutionKey) -> None:
        self._cache.invalidate([key])
        try:
            self._index(*await self._store.load_tasks_of(key))
            async with self.read(key) as state:
                for listener in self._listeners:
                    listener.changed_elsewhere(state)
        except NotFound:
            pass  # deleted meanwhile
        except Exception:
            log.exception("could not take in the change of %s", key)
        self._notify(key)

    def owns(self, key: ExecutionKey) -> bool:
        return self._ownership.owns(key.namespace_id, key.workflow_id)

    def _shard(self, key: ExecutionKey) -> int:
        return self._ownership.shard(key.namespace_id, key.workflow_id)

    # -- locking and reading ------------------------------------------------------------------

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
    async def read(self, key: ExecutionKey) -> AsyncIterator[ExecutionState]:
        """The execution's committed state, for a read that must not see a change that is
        being committed (changes mutate the cached state before their commit is durable).
        Changes to the workflow wait until the block ends: keep it short, never nest it."""
        async with self.locked(key.namespace_id, key.workflow_id):
            yield (await self._load(key)).state

    async def latest(self, key: ExecutionKey) -> ExecutionState:
        """The execution's state without waiting for a change under way, which it may show
        before that change is durable: for reads that only look (hold the lock for more)."""
        return (await self._load(key)).state

    async def _load(self, key: ExecutionKey) -> Cached:
        """The execution's state: cached if this process owns it (nobody else changes it
        without telling), read afresh otherwise (its owner may have changed it meanwhile)."""
        cached = self._cache.get(key)
        if cached is not None:
            if self.owns(key):
                return cached
            self._cache.drop(key)  # its shard was given up: others may have changed it since
        epoch = self._cache.epoch
        row = await self._store.get_execution(key)
        if row is None:
            raise NotFound(
                f'workflow execution not found for workflow ID "{key.workflow_id}" and run ID "{key.run_id}"'
            )
        raced = self._cache.get(key)
        if raced is not None:  # loaded (and maybe changed) by someone else meanwhile
            return raced
        cached = Cached(codec.loads(ExecutionState, row[0]), row[1], len(row[0]))
        if self._cache.read_since(epoch):  # else it may be older than the store by now
            self._remember(key, cached)
        return cached

    def _remember(self, key: ExecutionKey, cached: Cached) -> None:
        if self.owns(key):
            self._cache.put(key, cached)

    async def current(self, namespace_id: str, workflow_id: str) -> CurrentExecution | None:
        """The newest run of a workflow id, if it has any."""
        return await self._store.get_current_execution(namespace_id, workflow_id)

    async def resolve(self, namespace_id: str, workflow_id: str, run_id: str) -> ExecutionKey:
        """The execution a request names; an empty run id means the current run."""
        if not run_id:
            current = await self.current(namespace_id, workflow_id)
            if current is None:
                raise NotFound(f"workflow not found for ID: {workflow_id}")
            run_id = current.run_id
        else:
            try:
                uuid.UUID(run_id)
            except ValueError:
                raise InvalidArgument("Invalid RunId.") from None
        return ExecutionKey(namespace_id, workflow_id, run_id)

    async def events(self, key: ExecutionKey, first_event_id: int) -> list[HistoryEvent]:
        """Committed events of a run from `first_event_id` on."""
        cached = self._cache.get(key) if self.owns(key) else None
        if cached is not None and (tail := cached.events_from(first_event_id)) is not None:
            return tail
        events: list[HistoryEvent] = []
        for _, blob in await self._store.read_history(key, first_event_id):
            batch = History.FromString(blob).events
            events.extend(e for e in batch if e.event_id >= first_event_id)
        return events

    async def batch_ends(self, key: ExecutionKey) -> set[int]:
        """The id of the last event of each batch of a run's history (each commit's)."""
        batches = [History.FromString(blob).events for _, blob in await self._store.read_history(key, 1)]
        return {batch[-1].event_id for batch in batches if batch}

    # -- the update path ----------------------------------------------------------------------

    async def update(
        self,
        key: ExecutionKey,
        change: Callable[[Mutation], T],
        *,
        done_queue_task: str | None = None,
        done_timer: str | None = None,
        done_transfer: str | None = None,
    ) -> T:
        """Change an execution through the engine and commit the change (with the deletion of
        the task, timer or transfer it carries out, if any)."""
        async with self.locked(key.namespace_id, key.workflow_id):
            return await self.update_locked(
                key,
                change,
                done_queue_task=done_queue_task,
                done_timer=done_timer,
                done_transfer=done_transfer,
            )

    async def update_locked(
        self,
        key: ExecutionKey,
        change: Callable[[Mutation], T],
        *,
        done_queue_task: str | None = None,
        done_timer: str | None = None,
        done_transfer: str | None = None,
    ) -> T:
        """`update`, for a caller that holds the workflow id's lock."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            cached = await self._load(key)
            m = Mutation(cached.state, self._clock.now(), _new_id)
            try:
                result = change(m)
                if m.state.standalone is not None:
                    standalone_activities.settle(m)
                elif standalone_nexus.is_standalone(m.state):
                    standalone_nexus.settle(m)
                else:
                    workflow_task.schedule_if_needed(m)
            except BaseException:
                self._cache.drop(key)
                raise
            if not m.has_writes:
                await self._delete_done(key, done_queue_task, done_timer, done_transfer)
                return result
            claimed = self._start_for_waiting_polls(key, m)
            committed = False
            try:
                await self._commit(
                    cached,
                    m,
                    done_queue_task=done_queue_task,
                    done_timer=done_timer,
                    done_transfer=done_transfer,
                )
                committed = True
                return result
            except ShardOwnershipLost:
                self._ownership.lost(key)  # write again, as a process that does not own it
            except ConditionFailed:
                if attempt == WRITE_ATTEMPTS:
                    raise
                log.debug("%s changed under a write; computing it again", key)
            finally:
                for poll, started in claimed:  # a poll that went away meanwhile: the task times out
                    poll.answer(started if committed else TRY_AGAIN)
        raise AssertionError("unreachable")

    async def create(self, m: Mutation, previous_run_id: str | None) -> None:
        """Commit a new run, made by the engine, as its workflow id's current run in the place
        of `previous_run_id`: starts and resets. Hold the workflow id's lock."""
        state = m.state
        current = CurrentWrite(
            state.run_id, state.first_run_id, state.status, state.start_request_id, previous_run_id
        )
        await self._commit(Cached(state, 0), m, current=current)

    def _start_for_waiting_polls(self, key: ExecutionKey, m: Mutation) -> list[tuple[WaitingPoll, Started]]:
        """Sync match inside the write: a task that a poll here is already waiting for is
        started by the change that creates it, rather than by a second write once the
        poll has it. The polls are answered once the write is durable."""
        if m.closed or not m.queue_tasks or not self.owns(key):
            return []
        claimed = []
        for task in list(m.queue_tasks):
            if self._matching.released(key.namespace_id, task.task_queue):
                continue
            poll = self._matching.claim(Dispatch(key, task))
            if poll is None:
                continue
            try:
                outcome = start_queued(m, task, poll.identity, _new_id())
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
            await self.delete_queue_task(key, queue_task)
        if timer is not None:
            await self.delete_timer(key, timer)
        if transfer is not None:
            await self.delete_transfer(key, transfer)

    async def _commit(
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
        write = execution_write(m, cached.version, current)
        write.done_queue_task = done_queue_task
        write.done_timer = done_timer
        write.done_transfer = done_transfer
        try:
            await self._store.commit(write)
        except ConditionFailed:  # refused: nothing was written
            self._cache.drop(m.state.key)
            raise
        except BaseException:
            # Failed, or so it seems: an answer lost after the write was durable leaves its tasks
            # in the store and nowhere else. Take in what the store holds, as for a change made
            # by another process (tasks are named by what they are: none is taken in twice).
            self._cache.drop(m.state.key)
            for key in (m.state.key, *([m.successor.state.key] if m.successor is not None else [])):
                asyncio.get_running_loop().create_task(self._take_in(key))
            raise
        cached.version += 1
        cached.state_bytes = len(write.state)
        self._publish(cached, m)
        if m.successor is not None:
            successor_bytes = len(write.successor.state) if write.successor is not None else 0
            self._publish(Cached(m.successor.state, 1, successor_bytes), m.successor)

    def _publish(self, cached: Cached, m: Mutation) -> None:
        """After a commit: cache the state, hand out its tasks, wake its watchers."""
        key = m.state.key
        if m.events:
            cached.extend_tail(m.events)
        self._remember(key, cached)  # weighed with its new events
        if self.owns(key):  # otherwise its owner indexes the tasks when it hears of the change
            self._index_new(key, m)
        for listener in self._listeners:
            listener.committed(m)
        if m.events or m.closed:
            self._notify(key)

    def _index_new(self, key: ExecutionKey, m: Mutation) -> None:
        for task in live(m, m.queue_tasks):
            if self._matching.released(key.namespace_id, task.task_queue):
                asyncio.get_running_loop().create_task(self.sticky_worker_gone(Dispatch(key, task)))
            else:
                self._matching.add(Dispatch(key, task))
        for timer in live(m, m.timer_tasks):
            self._timers.add(key, timer)
        for transfer in m.transfer_tasks:
            self._transfers.add(key, transfer)

    async def sticky_worker_gone(self, dispatch: Dispatch) -> None:
        """A workflow task sits on the queue of a worker that shut down: move it now,
        rather than when its schedule-to-start timeout fires."""
        task = dispatch.task
        with contextlib.suppress(NotFound):
            await self.update(
                dispatch.key,
                lambda m: workflow_task.sticky_queue_released(m, task.scheduled_event_id, task.attempt),
            )

    # -- deletes ------------------------------------------------------------------------------

    async def delete_queue_task(self, key: ExecutionKey, task_key: str) -> None:
        """A queue task that went stale (acting on it changed nothing)."""
        await self._store.delete_queue_task(key, task_key)

    async def delete_timer(self, key: ExecutionKey, timer_key: str) -> None:
        await self._store.delete_timer(key, timer_key)

    async def delete_transfer(self, key: ExecutionKey, transfer_key: str) -> None:
        await self._store.delete_transfer(key, transfer_key)

    async def delete_run(self, key: ExecutionKey) -> None:
        """Remove everything the store has of a run (hold its workflow id's lock)."""
        await self._store.delete_run(key)
        self._cache.drop(key)

    # -- durable timers -----------------------------------------------------------------------

    async def run_timers(self) -> None:
        """Fire timers as they come due (until cancelled)."""
        await self._timers.run(self._fire_timer, self._timers_due)

    async def _timers_due(self, after: datetime, until: datetime) -> list[tuple[ExecutionKey, TimerTask]]:
        timers = await self._store.load_timers(self._ownership.held_shards(), after, until)
        return [(t.key, codec.loads(TimerTask, t.data)) for t in timers]

    async def _fire_timer(self, key: ExecutionKey, task: TimerTask) -> None:
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
                await self.delete_timer(key, task.key)

    # -- watching history ---------------------------------------------------------------------

    async def wait(self, key: ExecutionKey, timeout: float) -> None:
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


def _new_id() -> str:
    return str(uuid.uuid4())
