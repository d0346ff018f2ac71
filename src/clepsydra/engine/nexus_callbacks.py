"""Completion callbacks on the handler's side: a run started for a Nexus operation carries
the callbacks its caller asked for (the Started event's `completion_callbacks`); when the
run's chain ends they are delivered, by a NEXUS_CALLBACK transfer task written in the same
transaction that closes it. A run that continues as new hands them on to the next run.
"""

from __future__ import annotations

from datetime import datetime

from temporalio.api.enums.v1 import CallbackState
from temporalio.api.failure.v1 import Failure

from clepsydra.engine.mutation import Mutation
from clepsydra.engine.nexus_state import CallbackRecord, NexusState
from clepsydra.engine.state import ExecutionState
from clepsydra.engine.tasks import TransferKind, TransferTask


def records(state: ExecutionState) -> list[CallbackRecord]:
    """One record per completion callback of the run: those not delivered yet wait (STANDBY)."""
    kept = state.nexus.callbacks if state.nexus is not None else []
    count = len(state.start.completion_callbacks)
    return kept[:count] + [CallbackRecord(state.start_time) for _ in range(count - len(kept))]


def on_close(m: Mutation) -> None:
    """The run closed: deliver its callbacks, unless a next run carries them on."""
    s = m.state
    if not s.start.completion_callbacks or m.successor is not None:
        return
    if s.nexus is None:
        s.nexus = NexusState()
    s.nexus.callbacks = records(s)
    for record in s.nexus.callbacks:
        record.state = CallbackState.CALLBACK_STATE_SCHEDULED
    m.add_transfer(TransferTask(TransferKind.NEXUS_CALLBACK))


def record_delivery(m: Mutation, index: int, failure: Failure | None, now: datetime) -> None:
    """How delivering callback `index` went: delivered, or failed for good."""
    s = m.state
    if s.nexus is None or index >= len(s.nexus.callbacks):
        return
    record = s.nexus.callbacks[index]
    record.attempt += 1
    record.last_attempt_complete_time = now
    if failure is None:
        record.state = CallbackState.CALLBACK_STATE_SUCCEEDED
    else:
        record.state = CallbackState.CALLBACK_STATE_FAILED
        record.last_attempt_failure = failure
    m.touch()
