"""Schedules: an execution of their own that starts workflows on a spec's times.

As on the reference server, a schedule lives in an execution (workflow id
`temporal-sys-scheduler:<schedule id>`, hidden from workflow lists by its namespace
division) whose state holds the schedule (`ExecutionState.schedule`). It takes the same
update path as any execution, so it is durable, sharded and fenced like one; it has no
workflow tasks. Each change to it (created, woken by its timer, patched, updated, told
that a start happened or that a workflow it started closed) ends with `_advance`:

1. the spec's times since the last look become buffered starts (unless paused or out of
   actions; times older than the catch-up window are counted as missed);
2. backfills add theirs, a few at a time;
3. the overlap policies pick what starts now (`schedule_buffer.py`); each start becomes a
   transfer task that starts the workflow (its id suffixed with the nominal time, its
   request id fixed, so a start done twice is done once) and records the outcome;
4. the list view (memo and `TemporalSchedulePaused`) is refreshed and the wake-up timer
   set for the next time.

A workflow started by a schedule carries the schedule's id (`scheduled_by`, handed on to
the runs that continue it); when its chain closes, the schedule is told, which frees the
way for buffered starts and feeds pause-on-failure and the last completion result.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf.duration_pb2 import Duration
from temporalio.api.common.v1 import (
    Memo,
    Payloads,
    SearchAttributes,
    WorkflowExecution,
    WorkflowType,
)
from temporalio.api.enums.v1 import (
    EventType,
    ScheduleOverlapPolicy,
    WorkflowExecutionStatus,
    WorkflowIdReusePolicy,
)
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import WorkflowExecutionStartedEventAttributes
from temporalio.api.schedule.v1 import (
    Schedule,
    ScheduleActionResult,
    ScheduleInfo,
    SchedulePatch,
)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import StartWorkflowExecutionRequest

from clepsydra.engine import codec, start
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.schedule_buffer import process_buffer
from clepsydra.engine.schedule_spec import CompiledSpec, compile_spec
from clepsydra.engine.schedule_state import BufferedStart, PendingStart, PendingStop, ScheduleState
from clepsydra.engine.schedule_views import (
    MEMO_INFO,
    PAUSED_ATTRIBUTE,
    compiled,
    json_payload,
    next_time,
    refresh_list_view,
    schedule_of,
)
from clepsydra.engine.state import ExecutionState
from clepsydra.engine.tasks import TimerKind, TimerTask, TransferKind, TransferTask

Policy = ScheduleOverlapPolicy
Status = WorkflowExecutionStatus
PREFIX = "temporal-sys-scheduler:"
WORKFLOW_TYPE = "temporal-sys-scheduler-workflow"
TASK_QUEUE = "temporal-sys-per-ns-tq"
DIVISION = "TemporalScheduler"
DIVISION_ATTRIBUTE = "TemporalNamespaceDivision"
# The search attributes the server keeps on a schedule, apart from the user's.
SYSTEM_ATTRIBUTES = (DIVISION_ATTRIBUTE, PAUSED_ATTRIBUTE)
DEFAULT_CATCHUP_WINDOW = timedelta(days=365)
MIN_CATCHUP_WINDOW = timedelta(seconds=10)
RECENT_ACTIONS = 10
MAX_BUFFER = 1000
BACKFILLS_PER_CHANGE = 10
BACKFILL_PAUSE = timedelta(seconds=1)
_FAILED = (Status.WORKFLOW_EXECUTION_STATUS_FAILED, Status.WORKFLOW_EXECUTION_STATUS_TIMED_OUT)


def identity(state: ExecutionState) -> str:
    """Who a schedule's starts, cancels and terminations say they come from, as on the reference."""
    s = state.schedule
    return f"temporal-scheduler-{state.namespace}-{s.schedule_id if s else ''}"


def workflow_id_of(schedule_id: str) -> str:
    return PREFIX + schedule_id


# -- creating and changing a schedule ---------------------------------------------------------


def create(
    namespace_id: str,
    namespace: str,
    schedule_id: str,
    schedule: Schedule,
    patch: SchedulePatch | None,
    memo: Memo,
    search_attributes: SearchAttributes,
    identity: str,
    request_id: str,
    run_id: str,
    now: datetime,
) -> Mutation:
    """The execution of a new schedule, with its first look at its times."""
    schedule = _with_defaults(schedule)
    attributes = WorkflowExecutionStartedEventAttributes(
        workflow_type=WorkflowType(name=WORKFLOW_TYPE),
        task_queue=TaskQueue(name=TASK_QUEUE),
        memo=memo,
        search_attributes=search_attributes,
        identity=identity,
        original_execution_run_id=run_id,
        first_execution_run_id=run_id,
        attempt=1,
    )
    attributes.search_attributes.indexed_fields[DIVISION_ATTRIBUTE].CopyFrom(
        json_payload(f'"{DIVISION}"', "Keyword")
    )
    attributes.workflow_id = workflow_id_of(schedule_id)
    state = start.new_execution(namespace_id, namespace, attributes, run_id, run_id, now, request_id)
    state.schedule = ScheduleState(
        schedule_id, schedule, ScheduleInfo(create_time=codec.timestamp(now)), last_processed_time=now
    )
    m = Mutation(state, now)
    m.add_event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, attributes)
    m.visibility_changed = True
    if patch is not None:
        _patch(m, state.schedule, patch)
    _advance(m)
    return m


def patch(m: Mutation, request: SchedulePatch) -> None:
    s = schedule_of(m.state)
    _elapse(m, s)
    _patch(m, s, request)
    _advance(m)


def update(
    m: Mutation,
    schedule: Schedule,
    conflict_token: int,
    search_attributes: SearchAttributes | None,
    memo: Memo | None,
) -> None:
    """Replace spec, action, policies and state; a stale conflict token changes nothing, as on
    the reference (whose scheduler drops such an update)."""
    s = schedule_of(m.state)
    if conflict_token and conflict_token != s.conflict_token:
        return
    _elapse(m, s)
    s.schedule = _with_defaults(schedule)
    s.info.update_time.CopyFrom(codec.timestamp(m.now))
    s.info.invalid_schedule_error = ""
    s.conflict_token += 1
    state = m.state
    if search_attributes is not None:  # replaces the custom attributes; the system ones stay
        system = {k: v for k, v in state.search_attributes.indexed_fields.items() if k in SYSTEM_ATTRIBUTES}
        state.search_attributes = SearchAttributes(
            indexed_fields={**search_attributes.indexed_fields, **system}
        )
    if memo is not None:
        info = state.memo.fields.get(MEMO_INFO)
        state.memo = Memo(fields=dict(memo.fields))
        if info is not None:
            state.memo.fields[MEMO_INFO].CopyFrom(info)
    m.visibility_changed = True
    _advance(m)


def wake(m: Mutation, task: TimerTask) -> None:
    s = m.state.schedule
    if s is None or not m.state.running or task.event_id != s.wake_id:
        return  # a wake-up replaced by a later one
    s.wake_time = None
    _advance(m)


def start_recorded(m: Mutation, sequence: int, run_id: str, started: bool) -> None:
    """A start handed to a transfer happened (or found its workflow id taken: `started` False)."""
    s = m.state.schedule
    pending = s.starts.pop(sequence, None) if s is not None and m.state.running else None
    if s is None or pending is None:
        return
    m.touch()
    if started:
        closed = pending.closed_status
        result = ScheduleActionResult(
            schedule_time=codec.timestamp(pending.start.actual_time),
            actual_time=codec.timestamp(m.now),
            start_workflow_result=WorkflowExecution(workflow_id=pending.workflow_id, run_id=run_id),
            start_workflow_status=closed or Status.WORKFLOW_EXECUTION_STATUS_RUNNING,
        )
        s.info.action_count += 1
        s.info.recent_actions.append(result)
        del s.info.recent_actions[:-RECENT_ACTIONS]
        if pending.tracked and not closed:
            s.info.running_workflows.append(result.start_workflow_result)
    _advance(m)


def stop_done(m: Mutation, sequence: int) -> None:
    s = m.state.schedule
    if s is not None and s.stops.pop(sequence, None) is not None:
        m.touch()


def workflow_closed(
    m: Mutation,
    workflow_id: str,
    status: Status.ValueType,
    result: Payloads | None,
    failure: Failure | None,
) -> None:
    """A workflow the schedule started has closed (its whole chain of runs)."""
    s = m.state.schedule
    if s is None or not m.state.running:
        return
    m.touch()
    tracked = False
    running = s.info.running_workflows
    for i, execution in enumerate(running):
        if execution.workflow_id == workflow_id:
            del running[i]
            tracked = True
            break
    for pending in s.starts.values():  # closed before its start was even recorded
        if pending.workflow_id == workflow_id:
            pending.closed_status = status
            tracked = pending.tracked
    if workflow_id in s.stopping:
        s.stopping.remove(workflow_id)
    for action in s.info.recent_actions:
        if action.start_workflow_result.workflow_id == workflow_id:
            action.start_workflow_status = status
    if tracked:  # allow-all runs take no part in pause-on-failure and the chain of results
        _take_outcome(s, workflow_id, status, result, failure)
    _advance(m)


def _take_outcome(
    s: ScheduleState,
    workflow_id: str,
    status: Status.ValueType,
    result: Payloads | None,
    failure: Failure | None,
) -> None:
    state = s.schedule.state
    if s.schedule.policies.pause_on_failure and status in _FAILED and not state.paused:
        state.paused = True
        if status == Status.WORKFLOW_EXECUTION_STATUS_FAILED:
            message = failure.message if failure is not None else ""
            state.notes = f"paused due to workflow failure: {workflow_id}: {message}"
        else:
            state.notes = f"paused due to workflow timeout: {workflow_id}"
        s.conflict_token += 1
    if result is not None:
        s.last_completion_result = result
        s.continued_failure = None
    elif failure is not None:
        s.continued_failure = failure


def _patch(m: Mutation, s: ScheduleState, request: SchedulePatch) -> None:
    m.touch()
    if request.HasField("trigger_immediately"):
        trigger = request.trigger_immediately
        at = trigger.scheduled_time.ToDatetime(UTC) if trigger.HasField("scheduled_time") else m.now
        _add_start(s, at, at, trigger.overlap_policy, manual=True)
    for backfill in request.backfill_request:
        if len(s.backfills) >= MAX_BUFFER:
            s.info.buffer_dropped += 1
            continue
        copy = type(backfill)()
        copy.CopyFrom(backfill)
        # The start of a backfill is inclusive: look from just before it.
        copy.start_time.CopyFrom(
            codec.timestamp(backfill.start_time.ToDatetime(UTC) - timedelta(milliseconds=1))
        )
        s.backfills.append(copy)
    if request.pause:
        s.schedule.state.paused = True
        s.schedule.state.notes = request.pause
        s.conflict_token += 1
    if request.unpause:
        s.schedule.state.paused = False
        s.schedule.state.notes = request.unpause
        s.conflict_token += 1


# -- the schedule's step ------------------------------------------------------------------------


def _advance(m: Mutation) -> None:
    state = m.state
    s = state.schedule
    assert s is not None
    m.touch()
    spec = compiled(state)
    if spec is not None:
        _take_times(m, s, spec)
        _take_backfills(m, s, spec)
    while _start_buffered(m, s):
        pass
    refresh_list_view(m, s)
    _set_wake_up(m, s, spec)


def _elapse(m: Mutation, s: ScheduleState) -> None:
    """Before a change, the time that passed is taken under the settings it passed under (as
    the reference does): times that came due while paused stay skipped after an unpause."""
    spec = compiled(m.state)
    if spec is not None:
        _take_times(m, s, spec)


def _take_times(m: Mutation, s: ScheduleState, spec: CompiledSpec) -> None:
    """Buffer the spec's times that came due since the last look."""
    if not _can_act(s, manual=False):
        s.last_processed_time = m.now  # time spent paused is not caught up later
        return
    catchup = _catchup_window(s)
    updated = s.info.update_time.ToDatetime(UTC) if s.info.HasField("update_time") else None
    after = s.last_processed_time
    while (due := next_time(m.state, spec, after)) is not None and due.actual <= m.now:
        after = due.actual
        if updated is not None and due.actual < updated:
            continue  # from before the last update, which starts afresh
        if m.now - due.actual > catchup:
            s.info.missed_catchup_window += 1
            continue
        _add_start(s, due.nominal, due.actual, Policy.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED, manual=False)
    s.last_processed_time = after


def _take_backfills(m: Mutation, s: ScheduleState, spec: CompiledSpec) -> None:
    budget = BACKFILLS_PER_CHANGE
    while s.backfills and budget > 0 and len(s.buffer) < MAX_BUFFER // 2:
        backfill = s.backfills[0]
        after = backfill.start_time.ToDatetime(UTC)
        end = backfill.end_time.ToDatetime(UTC)
        done = True
        while (due := next_time(m.state, spec, after)) is not None and due.actual <= end:
            if budget == 0:
                done = False
                break
            _add_start(s, due.nominal, due.actual, backfill.overlap_policy, manual=True)
            after = due.actual
            budget -= 1
        if done:
            s.backfills.pop(0)
        else:
            backfill.start_time.CopyFrom(codec.timestamp(after))


def _add_start(
    s: ScheduleState, nominal: datetime, actual: datetime, policy: Policy.ValueType, manual: bool
) -> None:
    if len(s.buffer) >= MAX_BUFFER:
        s.info.buffer_dropped += 1
        return
    s.buffer.append(BufferedStart(nominal, actual, policy, manual))


def _start_buffered(m: Mutation, s: ScheduleState) -> bool:
    """Start what the overlap policies allow now; True if the buffer should be looked at again."""
    action = s.schedule.action
    if not action.HasField("start_workflow") or not s.buffer:
        s.buffer = []
        return False
    running = bool(s.info.running_workflows) or any(p.tracked for p in s.starts.values())
    outcome = process_buffer(s.buffer, running, lambda policy: _resolve(s, policy))
    s.buffer = outcome.buffer
    s.info.overlap_skipped += outcome.skipped
    again = False
    for buffered in [*outcome.overlapping, outcome.next_start]:
        if buffered is None:
            continue
        if not _can_act(s, buffered.manual, take=True):
            again = True
            continue
        _hand_over_start(m, s, buffered, tracked=buffered is outcome.next_start)
    if outcome.cancel or outcome.terminate:
        targets = [e for e in s.info.running_workflows if e.workflow_id not in s.stopping]
        if targets:
            s.sequence += 1
            s.stops[s.sequence] = PendingStop(outcome.terminate, targets)
            s.stopping.extend(e.workflow_id for e in targets)
            m.add_transfer(TransferTask(TransferKind.SCHEDULE_STOP, s.sequence))
    return again


def _hand_over_start(m: Mutation, s: ScheduleState, buffered: BufferedStart, tracked: bool) -> None:
    workflow_id = s.schedule.action.start_workflow.workflow_id
    if not s.schedule.policies.keep_original_workflow_id:
        workflow_id += "-" + _rfc3339(buffered.nominal_time)
    s.sequence += 1
    request_id = f"{m.state.run_id}:{s.sequence}"
    s.starts[s.sequence] = PendingStart(buffered, workflow_id, request_id, tracked)
    m.add_transfer(TransferTask(TransferKind.SCHEDULE_START, s.sequence))


def start_request(state: ExecutionState, sequence: int) -> StartWorkflowExecutionRequest | None:
    """The start a transfer task is to make; None if it is no longer wanted."""
    s = state.schedule
    pending = s.starts.get(sequence) if s is not None and state.running else None
    if s is None or pending is None:
        return None
    new = s.schedule.action.start_workflow
    allow_all = _resolve(s, pending.start.overlap_policy) == Policy.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL
    request = StartWorkflowExecutionRequest(
        namespace=state.namespace,
        workflow_id=pending.workflow_id,
        workflow_type=new.workflow_type,
        task_queue=new.task_queue,
        input=new.input,
        workflow_execution_timeout=new.workflow_execution_timeout,
        workflow_run_timeout=new.workflow_run_timeout,
        workflow_task_timeout=new.workflow_task_timeout,
        identity=identity(state),
        request_id=pending.request_id,
        workflow_id_reuse_policy=(
            WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
            if pending.start.manual
            else WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
        ),
        memo=new.memo,
        search_attributes=new.search_attributes,
        header=new.header,
        user_metadata=new.user_metadata,
        priority=new.priority,
    )
    if new.HasField("retry_policy"):
        request.retry_policy.CopyFrom(new.retry_policy)
    fields = request.search_attributes.indexed_fields
    fields["TemporalScheduledStartTime"].CopyFrom(
        json_payload(f'"{_rfc3339(pending.start.nominal_time)}"', "Datetime")
    )
    fields["TemporalScheduledById"].CopyFrom(json_payload(f'"{s.schedule_id}"', "Keyword"))
    if not allow_all:  # allow-all runs take no part in the chain of results
        if s.last_completion_result is not None:
            request.last_completion_result.CopyFrom(s.last_completion_result)
        if s.continued_failure is not None:
            request.continued_failure.CopyFrom(s.continued_failure)
    return request


def stop_request(state: ExecutionState, sequence: int) -> PendingStop | None:
    s = state.schedule
    return s.stops.get(sequence) if s is not None and state.running else None


def _set_wake_up(m: Mutation, s: ScheduleState, spec: CompiledSpec | None) -> None:
    """One timer in force: at the next time the spec gives (or soon, for backfills left)."""
    wake: datetime | None = None
    if s.backfills:
        wake = m.now + BACKFILL_PAUSE
    elif spec is not None and _can_act(s, manual=False):
        due = next_time(m.state, spec, s.last_processed_time)
        wake = due.actual if due is not None else None
    if wake == s.wake_time:
        return
    s.wake_time = wake
    s.wake_id += 1
    if wake is not None:
        m.add_timer(TimerTask(TimerKind.SCHEDULE_WAKE, wake, event_id=s.wake_id))


# -- helpers ------------------------------------------------------------------------------------


def _with_defaults(schedule: Schedule) -> Schedule:
    """The schedule as it is kept and shown: spec canonical, policies with their defaults."""
    out = Schedule()
    out.CopyFrom(schedule)
    out.spec.CopyFrom(compile_spec(schedule.spec).canonical())
    policies = out.policies
    policies.overlap_policy = policies.overlap_policy or Policy.SCHEDULE_OVERLAP_POLICY_SKIP
    window = policies.catchup_window.ToTimedelta() if policies.HasField("catchup_window") else None
    window = DEFAULT_CATCHUP_WINDOW if window is None else max(window, MIN_CATCHUP_WINDOW)
    policies.catchup_window.CopyFrom(_duration(window))
    return out


def _can_act(s: ScheduleState, manual: bool, take: bool = False) -> bool:
    """Whether an action may be taken (and, with `take`, count it against the limit)."""
    if manual:
        return True
    state = s.schedule.state
    if state.paused:
        return False
    if not state.limited_actions:
        return True
    if state.remaining_actions <= 0:
        return False
    if take:
        state.remaining_actions -= 1
        s.conflict_token += 1
    return True


def _resolve(s: ScheduleState, policy: Policy.ValueType) -> Policy.ValueType:
    return policy or s.schedule.policies.overlap_policy or Policy.SCHEDULE_OVERLAP_POLICY_SKIP


def _catchup_window(s: ScheduleState) -> timedelta:
    return s.schedule.policies.catchup_window.ToTimedelta()


def _rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(value: timedelta) -> Duration:
    d = Duration()
    d.FromTimedelta(value)
    return d
