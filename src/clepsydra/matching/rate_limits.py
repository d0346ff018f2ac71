"""Rate limits of task queues: how many tasks per second matching hands out, as the reference.

A queue's rate comes, first, from its config (UpdateTaskQueueConfig's queue rate limit),
else from its workers (PollActivityTaskQueue's `max_tasks_per_second`, the last poll's word
winning), else from the system; a rate at or above the system's (4000/s) is reported as the
system's. A config may also limit every fairness key to a default rate, scaled by the key's
weight. Rates are enforced per process, over all the polls of the queue here, with the
reference's limiter (GCRA, a "token bucket" that may spend one second's worth at once); a
rate of 0 stops the queue. The system rate is reported, not enforced: nothing here dispatches
that fast, and an unlimited queue keeps its fast path (no gate on its backlog).

A limited queue hands tasks out in its backlog's order only, never straight to a waiting
poll nor in the write that creates them (see `Matching._next_poll`): when the head of the
backlog may go, the gate wakes one waiting poll (with TRY_AGAIN, which sends it to take
from the backlog again), and sets a timer for when the limits let the head go.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from temporalio.api.enums.v1 import RateLimitSource
from temporalio.api.taskqueue.v1 import RateLimitConfig, TaskQueueConfig
from temporalio.api.workflowservice.v1 import PollActivityTaskQueueRequest

from clepsydra.engine.tasks import QueueKind
from clepsydra.matching.backlog import Backlog
from clepsydra.matching.fairness import effective_weight
from clepsydra.matching.task_queues import TRY_AGAIN, AnyDispatch, Dispatch, Matching, WaitingPoll

SYSTEM_RATE = 4000.0  # the reference's default dispatch rate of a queue
BURST = 1.0  # seconds' worth of tasks a limiter may hand out at once
MAX_KEYS = 2000  # per-key limiters kept before those at rest are forgotten
# What the reference reports as a poller's rate limit when the worker sets none.
DEFAULT_POLLER_RATE = 100_000.0


def _interval(rate: float) -> float:
    """Seconds between tasks at `rate`; infinite for a rate of (about) zero: never."""
    return math.inf if rate <= 1e-9 else 1.0 / rate


def _spend(ready: float, interval: float, now: float) -> float:
    """The limiter's next ready time after one task at `now`: GCRA, where `ready` is the
    start of the allowed window and the burst its length (as the reference's simpleLimiter)."""
    if math.isinf(interval):
        return math.inf
    return max(now, ready + BURST) - BURST + interval


@dataclass(eq=False)
class QueueLimits:
    """One queue's rate limits, and the gate of its backlog while they limit anything."""

    backlog: Backlog[AnyDispatch]
    polls: deque[WaitingPoll]
    # The worker version a task must go to (`Matching.target`): the poll woken must be one.
    target: Callable[[AnyDispatch], str | None]
    api_rate: float | None = None
    worker_rate: float | None = None
    key_rate: float | None = None  # every fairness key's, before its weight
    poller_rates: dict[str, float] = field(default_factory=dict)  # identity → its worker's rate
    _ready: float = 0.0  # monotonic time from which the queue may hand out a task
    _key_ready: dict[str, float] = field(default_factory=dict)
    _timer: asyncio.TimerHandle | None = None
    _timer_due: float = math.inf

    def effective(self) -> tuple[float, RateLimitSource.ValueType]:
        """The queue's rate and where it comes from, as DescribeTaskQueue reports them."""
        if self.api_rate is not None:
            rate, source = self.api_rate, RateLimitSource.RATE_LIMIT_SOURCE_API
        elif self.worker_rate is not None:
            rate, source = self.worker_rate, RateLimitSource.RATE_LIMIT_SOURCE_WORKER
        else:
            return SYSTEM_RATE, RateLimitSource.RATE_LIMIT_SOURCE_SYSTEM
        if rate < SYSTEM_RATE:
            return rate, source
        return SYSTEM_RATE, RateLimitSource.RATE_LIMIT_SOURCE_SYSTEM

    def limiting(self) -> bool:
        return self.effective()[1] != RateLimitSource.RATE_LIMIT_SOURCE_SYSTEM or self.key_rate is not None

    def changed(self) -> None:
        """Its rates changed: put the gate on the backlog or take it off, and let waiting
        polls look again (a higher rate may let the head go now)."""
        if self.limiting():
            self.backlog.gate = self
            now = time.monotonic()
            interval = self._queue_interval()
            if math.isinf(interval):  # a rate of zero: nothing goes, not even a first burst
                self._ready = math.inf
            elif math.isinf(self._ready):  # the queue was stopped: it goes again at once
                self._ready = now
            else:  # clip a ready time left far ahead by a lower rate
                self._ready = min(self._ready, now + interval + BURST)
        else:
            self.backlog.gate = None
            self._cancel_timer()
        self._wake()

    def clear_keys(self) -> None:
        """The keys' rate changed: each key starts afresh."""
        self._key_ready.clear()

    # The gate (matching/backlog.py).

    def admits(self, item: AnyDispatch) -> bool:
        if not isinstance(item, Dispatch):  # queries and Nexus requests are not limited
            return True
        now = time.monotonic()
        ready = self._ready
        if self.key_rate is not None:
            stopped = self.key_rate <= 0  # a key rate of zero stops every key
            ready = max(ready, math.inf if stopped else self._key_ready.get(item.task.fairness_key, 0.0))
        if ready <= now:
            return True
        self._wake_at(ready)
        return False

    def taken(self, item: AnyDispatch) -> None:
        if isinstance(item, Dispatch):
            now = time.monotonic()
            self._ready = _spend(self._ready, self._queue_interval(), now)
            if self.key_rate is not None:
                self._spend_key(item, now)
        self._wake()

    def queued(self) -> None:
        self._wake()

    # Inside.

    def _queue_interval(self) -> float:
        rate, source = self.effective()
        return 0.0 if source == RateLimitSource.RATE_LIMIT_SOURCE_SYSTEM else _interval(rate)

    def _spend_key(self, item: Dispatch, now: float) -> None:
        assert self.key_rate is not None
        key = item.task.fairness_key
        weight = effective_weight(self.backlog.weight_overrides.get(key, item.task.fairness_weight))
        keys = self._key_ready
        keys[key] = _spend(keys.get(key, 0.0), _interval(self.key_rate * weight), now)
        if len(keys) > MAX_KEYS:  # forget the keys at rest: a fresh limiter is the same
            for rested in [k for k, ready in keys.items() if ready + BURST <= now]:
                del keys[rested]

    def _wake(self) -> None:
        """Send one waiting poll to the backlog if its head may go now."""
        if not self.polls or self.backlog.gate is None:
            if self.polls and self.backlog:  # no limits (any more): every poll may look
                for poll in list(self.polls):
                    poll.answer(TRY_AGAIN)
            return
        head = self.backlog.first()
        if head is None or not self.admits(head):
            return
        target = self.target(head)
        for poll in self.polls:
            if (target is None or target == poll.version) and poll.answer(TRY_AGAIN):
                return

    def _wake_at(self, when: float) -> None:
        if math.isinf(when) or (self._timer is not None and self._timer_due <= when):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop, so no poll waits
            return
        self._cancel_timer()
        self._timer_due = when
        self._timer = loop.call_later(max(0.0, when - time.monotonic()), self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_due = math.inf
        self._wake()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_due = math.inf


class RateLimits:
    """The rate limits and fairness weights of this process's task queues."""

    def __init__(self, matching: Matching) -> None:
        self._matching = matching
        self._limits: dict[tuple[str, str, QueueKind], QueueLimits] = {}

    def limits(self, namespace_id: str, name: str, kind: QueueKind) -> QueueLimits:
        found = self._limits.get((namespace_id, name, kind))
        if found is None:
            queue = self._matching.queue(namespace_id, name, kind)
            found = self._limits[(namespace_id, name, kind)] = QueueLimits(
                queue.backlog, queue.polls, self._matching.target
            )
        return found

    def configure(self, namespace_id: str, name: str, kind: QueueKind, config: TaskQueueConfig) -> None:
        """Apply a queue's config (UpdateTaskQueueConfig's, as stored)."""
        limits = self.limits(namespace_id, name, kind)
        overrides = dict(config.fairness_weight_overrides)
        api_rate = _rate(config.queue_rate_limit) if config.HasField("queue_rate_limit") else None
        key_rate = (
            _rate(config.fairness_keys_rate_limit_default)
            if config.HasField("fairness_keys_rate_limit_default")
            else None
        )
        if (overrides, api_rate, key_rate) == (
            limits.backlog.weight_overrides,
            limits.api_rate,
            limits.key_rate,
        ):
            return  # the same config read again: the limiters keep their state
        if key_rate != limits.key_rate:
            limits.clear_keys()
        limits.backlog.weight_overrides = overrides
        limits.api_rate, limits.key_rate = api_rate, key_rate
        limits.changed()

    def activity_poll(self, namespace_id: str, request: PollActivityTaskQueueRequest) -> None:
        """An activity worker polled: its `max_tasks_per_second` (or none) is the queue's now."""
        metadata = request.task_queue_metadata
        rate = metadata.max_tasks_per_second.value if metadata.HasField("max_tasks_per_second") else None
        self.worker_polled(namespace_id, request.task_queue.name, QueueKind.ACTIVITY, request.identity, rate)

    def worker_polled(
        self, namespace_id: str, name: str, kind: QueueKind, identity: str, rate: float | None
    ) -> None:
        """A worker polled, with its `max_tasks_per_second` or none: the last poll's word wins."""
        key = (namespace_id, name, kind)
        limits = self._limits.get(key)
        if limits is None:
            if rate is None:  # the common case: nothing to remember
                return
            limits = self.limits(*key)
        if rate is None:
            limits.poller_rates.pop(identity, None)
        else:
            limits.poller_rates[identity] = rate
        if limits.worker_rate != rate:
            limits.worker_rate = rate
            limits.changed()

    def effective(
        self, namespace_id: str, name: str, kind: QueueKind
    ) -> tuple[float, RateLimitSource.ValueType]:
        limits = self._limits.get((namespace_id, name, kind))
        return (
            limits.effective()
            if limits is not None
            else (SYSTEM_RATE, RateLimitSource.RATE_LIMIT_SOURCE_SYSTEM)
        )

    def poller_rate(self, namespace_id: str, name: str, kind: QueueKind, identity: str) -> float:
        limits = self._limits.get((namespace_id, name, kind))
        return limits.poller_rates.get(identity, DEFAULT_POLLER_RATE) if limits else DEFAULT_POLLER_RATE


def _rate(config: RateLimitConfig) -> float | None:
    """A RateLimitConfig's rate; None if it has none (the limit was unset)."""
    return float(config.rate_limit.requests_per_second) if config.HasField("rate_limit") else None
