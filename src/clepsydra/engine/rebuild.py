"""Rebuild an execution's mutable state from its history (for resets).

Only what a run carried on from the rebuilt point needs is restored: pending
activities and timers, signals already received, cancel requests, search
attributes, memo, accepted updates and Nexus operations. Children and outgoing signals belong to the
run that issued them and are not carried over.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from temporalio.api.history.v1 import HistoryEvent

from clepsydra.engine import nexus_rebuild
from clepsydra.engine.state import ActivityInfo, ExecutionState, TimerInfo, UpdateInfo
from clepsydra.engine.workflow import merge_payloads


def rebuild(
    events: Sequence[HistoryEvent],
    namespace_id: str,
    namespace: str,
    run_id: str,
    first_run_id: str,
    request_id: str,
) -> ExecutionState:
    first = events[0]
    start = first.workflow_execution_started_event_attributes
    state = ExecutionState(
        namespace_id=namespace_id,
        namespace=namespace,
        workflow_id=start.workflow_id,
        run_id=run_id,
        first_run_id=first_run_id,
        start=start,
        start_time=_time(first),
        start_request_id=request_id,
        memo=start.memo,
        search_attributes=start.search_attributes,
    )
    for event in events[1:]:
        _apply(state, event)
        nexus_rebuild.apply(state, event)
    state.next_event_id = events[-1].event_id + 1
    return state


def _time(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime(UTC)


def _apply(s: ExecutionState, event: HistoryEvent) -> None:
    kind = event.WhichOneof("attributes")
    assert kind is not None  # every event carries its attributes
    a = getattr(event, kind)
    match kind:
        case "workflow_task_completed_event_attributes":
            s.previous_started_event_id = a.started_event_id
        case "activity_task_scheduled_event_attributes":
            scheduled = _time(event)
            s.activities[event.event_id] = ActivityInfo(
                event.event_id, a, scheduled, current_attempt_scheduled_time=scheduled
            )
        case "activity_task_cancel_requested_event_attributes":
            if a.scheduled_event_id in s.activities:
                s.activities[a.scheduled_event_id].cancel_requested_event_id = event.event_id
        case (
            "activity_task_completed_event_attributes"
            | "activity_task_failed_event_attributes"
            | "activity_task_timed_out_event_attributes"
            | "activity_task_canceled_event_attributes"
        ):
            s.activities.pop(a.scheduled_event_id, None)
        case "timer_started_event_attributes":
            fire_time = _time(event) + a.start_to_fire_timeout.ToTimedelta()
            s.timers[a.timer_id] = TimerInfo(a.timer_id, event.event_id, fire_time)
        case "timer_fired_event_attributes" | "timer_canceled_event_attributes":
            s.timers.pop(a.timer_id, None)
        case "workflow_execution_signaled_event_attributes":
            if a.request_id:
                s.signal_request_ids.append(a.request_id)
        case "workflow_execution_cancel_requested_event_attributes":
            s.cancel_requested = True
        case "upsert_workflow_search_attributes_event_attributes":
            merge_payloads(s.search_attributes.indexed_fields, a.search_attributes.indexed_fields)
        case "workflow_properties_modified_event_attributes":
            merge_payloads(s.memo.fields, a.upserted_memo.fields)
        case "workflow_execution_update_accepted_event_attributes":
            s.updates[a.protocol_instance_id] = UpdateInfo(accepted_event_id=event.event_id)
        case "workflow_execution_update_completed_event_attributes":
            info = s.updates.get(a.meta.update_id)
            if info is not None:
                info.completed_event_id = event.event_id
                info.outcome = a.outcome
