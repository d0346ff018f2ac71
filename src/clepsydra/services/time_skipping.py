"""What the clock of a time-skipping test server must know: whether anything is busy.

Time jumps to the next due timer only while no workflow or activity task is outstanding
(scheduled, not completed) and no transfer is under way, the semantics of Temporal's Java
test server: the worker is given real time to do its work, and waiting is free. The
tracker learns what each execution is doing from every committed state.
"""

from __future__ import annotations

from datetime import datetime

from clepsydra.clock import SkippingClock
from clepsydra.engine import fire
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import ExecutionKey, ExecutionState
from clepsydra.engine.tasks import TimerTask


def outstanding(state: ExecutionState, now: datetime) -> int:
    """Workflow and activity tasks of the execution that are scheduled and not completed.

    An activity waiting out a retry backoff is not outstanding: its next attempt is
    a timer, and skipping to it is the point.
    """
    if not state.running:
        return 0
    count = 1 if state.workflow_task is not None else 0
    for activity in state.activities.values():
        scheduled = activity.current_attempt_scheduled_time or activity.scheduled_time
        if activity.started or scheduled <= now:
            count += 1
    return count


class WorkTracker:
    """What the executions are doing: outstanding tasks, live timers (a CommitListener)."""

    def __init__(self, clock: SkippingClock) -> None:
        self._clock = clock
        self._outstanding: dict[ExecutionKey, int] = {}
        self._running: dict[ExecutionKey, ExecutionState] = {}
        self._closed: set[ExecutionKey] = set()

    def committed(self, m: Mutation) -> None:
        self._observe(m.state)

    def changed_elsewhere(self, state: ExecutionState) -> None:
        self._observe(state)

    def _observe(self, state: ExecutionState) -> None:
        key = state.key
        if state.running:
            self._running[key] = state
        else:
            self._running.pop(key, None)
            self._closed.add(key)
        count = outstanding(state, self._clock.now())
        if count:
            self._outstanding[key] = count
        elif self._outstanding.pop(key, None) is not None and not self._outstanding:
            self._clock.changed()

    def busy(self) -> bool:
        return bool(self._outstanding)

    def timer_is_live(self, key: ExecutionKey, task: TimerTask) -> bool:
        """Whether the timer is worth skipping to (not the timeout of a task that completed)."""
        if key in self._closed:
            return False
        state = self._running.get(key)
        return state is None or fire.is_live(state, task)  # unknown (e.g. recovered): assume live
