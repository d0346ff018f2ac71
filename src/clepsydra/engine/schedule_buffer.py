"""Which buffered starts of a schedule may start now, by their overlap policies.

Allow-all starts all start at once. Of the others, one may start when no workflow of the
schedule is running; the rest overlap it and their policy decides: skip, keep one or all
in the buffer, or cancel or terminate the running workflow and start once it has closed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from temporalio.api.enums.v1 import ScheduleOverlapPolicy

from clepsydra.engine.schedule_state import BufferedStart

Policy = ScheduleOverlapPolicy
ALLOW_ALL = Policy.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL


@dataclass
class BufferOutcome:
    overlapping: list[BufferedStart] = field(default_factory=list)  # allow-all: start them all
    next_start: BufferedStart | None = None  # the one start that does not overlap, if any
    buffer: list[BufferedStart] = field(default_factory=list)  # what waits for the running one
    cancel: bool = False
    terminate: bool = False
    skipped: int = 0


def process_buffer(
    buffer: list[BufferedStart],
    running: bool,
    resolve: Callable[[Policy.ValueType], Policy.ValueType],
) -> BufferOutcome:
    """`resolve` turns an unspecified policy into the schedule's."""
    out = BufferOutcome()
    for start in buffer:
        policy = resolve(start.overlap_policy)
        if policy == ALLOW_ALL:
            out.overlapping.append(start)
        elif not running and out.next_start is None:
            out.next_start = start
        elif policy == Policy.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL or (
            policy == Policy.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE and not out.buffer
        ):
            out.buffer.append(start)
        elif policy in (
            Policy.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER,
            Policy.SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER,
        ):
            if running:  # stop the running one; this one starts once it has closed
                if policy == Policy.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER:
                    out.cancel = True
                else:
                    out.terminate = True
                out.buffer.append(start)
            else:  # only the start chosen above would run: this one replaces it
                out.next_start = start
        else:  # skip, or a second buffer-one
            out.skipped += 1
    if out.cancel or out.terminate:
        out.overlapping = []  # they would be stopped at once too
    return out
