"""One state change of one execution: the events, tasks and state it produces.

Every engine operation takes a `Mutation`, changes `state` through it and appends
events and tasks to it. The service commits the whole mutation in one transaction
or discards it (and the state it touched) entirely.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.enums.v1 import EventType
from temporalio.api.enums.v1 import UpdateWorkflowExecutionLifecycleStage as UpdateStage
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.update.v1 import Outcome

from clepsydra.engine import codec
from clepsydra.engine.state import ExecutionState
from clepsydra.engine.tasks import QueueTask, TimerTask, TransferTask

# HistoryEvent's `attributes` oneof: attributes message name → field name.
_ATTRIBUTE_FIELDS = {
    field.message_type.full_name: field.name
    for field in HistoryEvent.DESCRIPTOR.oneofs_by_name["attributes"].fields
    if field.message_type is not None  # all of them: each attributes field is a message
}


def _no_ids() -> str:
    raise RuntimeError("this change may not create ids")


# Buffered events get temporary negative ids until they are appended.
_BUFFERED_ID_BASE = -1_000_000


class Mutation:
    def __init__(self, state: ExecutionState, now: datetime, new_id: Callable[[], str] = _no_ids) -> None:
        self.state = state
        self.now = now
        self.new_id = new_id
        self._now_timestamp: Timestamp | None = None
        # The run that follows this one (continue-as-new, retry, cron), created with it.
        self.successor: Mutation | None = None
        self.events: list[HistoryEvent] = []
        self.queue_tasks: list[QueueTask] = []
        self.timer_tasks: list[TimerTask] = []
        self.transfer_tasks: list[TransferTask] = []
        # Updates that reached a stage in this change: (update id, stage, outcome if completed).
        self.update_outcomes: list[tuple[str, UpdateStage.ValueType, Outcome | None]] = []
        self.state_changed = False
        self.closed = False
        # Whether the worker must see a new workflow task once this mutation ends.
        self.needs_workflow_task = False
        # Whether what list queries show of the run (status, search attributes, memo) changed.
        self.visibility_changed = False
        # Activities scheduled here whose worker asked to run them itself (request_eager_execution).
        self.eager_activities: list[int] = []

    @property
    def has_writes(self) -> bool:
        return self.state_changed or bool(
            self.events or self.queue_tasks or self.timer_tasks or self.transfer_tasks
        )

    def touch(self) -> None:
        """Record that state changed even though no event was written."""
        self.state_changed = True

    def add_event(self, event_type: EventType.ValueType, attributes: Message) -> HistoryEvent:
        """Append an event to history now, with the next event id."""
        task = self.state.workflow_task
        if task is not None and task.speculative:
            # Anything written makes a speculative task a real one, its events first.
            from clepsydra.engine import workflow_task  # which imports this module

            workflow_task.make_real(self, task)
        event = self.make_event(event_type, attributes, self.state.next_event_id)
        self.state.next_event_id += 1
        self.events.append(event)
        self.state_changed = True
        return event

    def add_external_event(self, event_type: EventType.ValueType, attributes: Message) -> HistoryEvent:
        """Append an event that arrives from outside the workflow's own decisions.

        While a workflow task is in flight the worker is deciding on the history it
        has, so such events wait in a buffer until that task ends; the worker then
        sees them in the next task.
        """
        self.needs_workflow_task = True
        task = self.state.workflow_task
        if task is not None and task.transient and not task.speculative and not task.started:
            # A pending retry is pointless now: the next task starts again at attempt 1.
            self.state.workflow_task = None
            task = None
        if task is None or not task.started:
            return self.add_event(event_type, attributes)
        buffered_id = _BUFFERED_ID_BASE - len(self.state.buffered_events)
        event = self.make_event(event_type, attributes, buffered_id)
        self.state.buffered_events.append(event)
        self.state_changed = True
        return event

    def flush_buffered_events(self) -> bool:
        """Append buffered events with real ids; returns whether there were any."""
        buffered = self.state.buffered_events
        if not buffered:
            return False
        renumbered: dict[int, int] = {}
        for event in buffered:
            renumbered[event.event_id] = self.state.next_event_id
            event.event_id = self.state.next_event_id
            self.state.next_event_id += 1
            _renumber_references(event, renumbered)
            self.events.append(event)
        self.state.buffered_events = []
        self.state_changed = True
        return True

    def add_queue_task(self, task: QueueTask) -> None:
        self.queue_tasks.append(task)

    def add_timer(self, task: TimerTask) -> None:
        self.timer_tasks.append(task)

    def add_transfer(self, task: TransferTask) -> None:
        self.transfer_tasks.append(task)

    def make_event(self, event_type: EventType.ValueType, attributes: Message, event_id: int) -> HistoryEvent:
        if self._now_timestamp is None:  # converted once: the events of a change share `now`
            self._now_timestamp = codec.timestamp(self.now)
        event = HistoryEvent(event_id=event_id, event_type=event_type, event_time=self._now_timestamp)
        getattr(event, _ATTRIBUTE_FIELDS[attributes.DESCRIPTOR.full_name]).CopyFrom(attributes)
        return event


def _renumber_references(event: HistoryEvent, renumbered: dict[int, int]) -> None:
    """Point an event's `started_event_id` at its buffered Started event's real id."""
    kind = event.WhichOneof("attributes")
    assert kind is not None  # every event carries its attributes
    attributes = getattr(event, kind)
    if "started_event_id" in attributes.DESCRIPTOR.fields_by_name:
        started = attributes.started_event_id
        if started in renumbered:
            attributes.started_event_id = renumbered[started]
