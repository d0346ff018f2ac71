"""What DescribeSchedule and ListSchedules show of a schedule, and the spec it runs on.

The list view is kept in the schedule execution's memo (`ScheduleInfo`, the serialized
`ScheduleListInfo`) and its `TemporalSchedulePaused` search attribute, as on the reference,
so that ListSchedules reads it from visibility without loading each schedule.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from temporalio.api.common.v1 import Payload
from temporalio.api.schedule.v1 import ScheduleInfo, ScheduleListInfo, ScheduleSpec

from clepsydra.engine import codec
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.schedule_spec import CompiledSpec, NextTime, TooManyExclusions, compile_spec
from clepsydra.engine.schedule_state import ScheduleState
from clepsydra.engine.state import ExecutionState
from clepsydra.errors import InvalidArgument, NotFound

MEMO_INFO = "ScheduleInfo"
PAUSED_ATTRIBUTE = "TemporalSchedulePaused"
FUTURE_ACTIONS = 10
LIST_ACTIONS = 5  # recent and future actions in the list view


def schedule_of(state: ExecutionState) -> ScheduleState:
    """The schedule an execution runs; NotFound if it runs none (or no longer)."""
    if state.schedule is None or not state.running:
        raise NotFound(f"workflow not found for ID: {state.workflow_id}")
    return state.schedule


def next_time(state: ExecutionState, spec: CompiledSpec, after: datetime) -> NextTime | None:
    """The spec's next time for this schedule; none once exclusions hide every time, as the
    reference gives up then too (until the spec is changed)."""
    try:
        return spec.next_time(after, seed(state))
    except TooManyExclusions:
        return None


def future_action_times(state: ExecutionState, count: int) -> list[datetime]:
    s = state.schedule
    spec = compiled(state)
    if s is None or spec is None:
        return []
    if s.schedule.state.limited_actions:
        count = min(count, s.schedule.state.remaining_actions)
    updated = s.info.update_time.ToDatetime(UTC) if s.info.HasField("update_time") else None
    times: list[datetime] = []
    after = s.last_processed_time
    while len(times) < count and (due := next_time(state, spec, after)) is not None:
        after = due.actual
        if updated is None or due.actual >= updated:
            times.append(due.actual)
    return times


def describe_info(state: ExecutionState) -> ScheduleInfo:
    s = schedule_of(state)
    info = ScheduleInfo()
    info.CopyFrom(s.info)
    info.buffer_size = len(s.buffer)
    info.future_action_times.extend(codec.timestamp(t) for t in future_action_times(state, FUTURE_ACTIONS))
    return info


def list_info(state: ExecutionState) -> ScheduleListInfo:
    s = schedule_of(state)
    spec = ScheduleSpec()
    spec.CopyFrom(s.schedule.spec)
    spec.ClearField("timezone_data")  # large, and of no use to a list
    return ScheduleListInfo(
        spec=spec,
        workflow_type=s.schedule.action.start_workflow.workflow_type,
        notes=s.schedule.state.notes,
        paused=s.schedule.state.paused,
        recent_actions=list(s.info.recent_actions)[-LIST_ACTIONS:],
        future_action_times=[codec.timestamp(t) for t in future_action_times(state, LIST_ACTIONS)],
    )


def refresh_list_view(m: Mutation, s: ScheduleState) -> None:
    """The memo and search attribute that ListSchedules shows, rewritten when they change."""
    state = m.state
    view = _payload(list_info(state).SerializeToString())
    if state.memo.fields.get(MEMO_INFO) != view:
        state.memo.fields[MEMO_INFO].CopyFrom(view)
        m.visibility_changed = True
    paused = json_payload("true" if s.schedule.state.paused else "false", "Bool")
    if state.search_attributes.indexed_fields.get(PAUSED_ATTRIBUTE) != paused:
        state.search_attributes.indexed_fields[PAUSED_ATTRIBUTE].CopyFrom(paused)
        m.visibility_changed = True


def compiled(state: ExecutionState) -> CompiledSpec | None:
    s = state.schedule
    if s is None:
        return None
    try:
        return _compile(s.schedule.spec.SerializeToString())
    except InvalidArgument as error:
        s.info.invalid_schedule_error = error.message
        return None


@lru_cache(maxsize=1024)
def _compile(spec: bytes) -> CompiledSpec:
    """Compiled once per spec: a schedule's every change looks at its times."""
    return compile_spec(ScheduleSpec.FromString(spec))


def seed(state: ExecutionState) -> str:
    """What makes a schedule's jitter its own, as on the reference."""
    s = state.schedule
    return f"{state.namespace_id}-{s.schedule_id if s else ''}"


def json_payload(data: str, type_name: str) -> Payload:
    """A search attribute value, as the SDKs encode one."""
    return Payload(metadata={"encoding": b"json/plain", "type": type_name.encode()}, data=data.encode())


def _payload(data: bytes) -> Payload:
    return Payload(metadata={"encoding": b"binary/plain"}, data=data)
