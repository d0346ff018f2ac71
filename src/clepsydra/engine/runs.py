"""Runs that follow a closed run of the same workflow id: continue-as-new, retries, cron.

The successor run is created in the same transaction that closes its predecessor
(`Mutation.successor`), so a crash never leaves a chain without its next run.
"""

from __future__ import annotations

from datetime import UTC, timedelta

from temporalio.api.command.v1 import ContinueAsNewWorkflowExecutionCommandAttributes
from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import ContinueAsNewInitiator, ContinueAsNewVersioningBehavior, RetryState
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import WorkflowExecutionStartedEventAttributes

from clepsydra.engine import cron, retry, versioning
from clepsydra.engine import start as start_module
from clepsydra.engine.mutation import Mutation

Initiator = ContinueAsNewInitiator
# The reference starts successive runs of one workflow id at least this far apart.
MIN_RUN_INTERVAL = timedelta(seconds=1)
_ZERO = timedelta(0)
UPGRADE_ON_CONTINUE = ContinueAsNewVersioningBehavior.CONTINUE_AS_NEW_VERSIONING_BEHAVIOR_AUTO_UPGRADE


def continue_as_new(m: Mutation, command: ContinueAsNewWorkflowExecutionCommandAttributes) -> str:
    start = _successor_start(m, Initiator.CONTINUE_AS_NEW_INITIATOR_WORKFLOW)
    start.input.CopyFrom(command.input)
    if command.workflow_type.name:
        start.workflow_type.CopyFrom(command.workflow_type)
    if command.task_queue.name:
        start.task_queue.name = command.task_queue.name
    if command.workflow_run_timeout.ToTimedelta() > _ZERO:
        start.workflow_run_timeout.CopyFrom(command.workflow_run_timeout)
    if command.workflow_task_timeout.ToTimedelta() > _ZERO:
        start.workflow_task_timeout.CopyFrom(command.workflow_task_timeout)
    if command.HasField("header"):
        start.header.CopyFrom(command.header)
    if command.HasField("memo"):
        start.memo.CopyFrom(command.memo)
    if command.HasField("search_attributes"):
        start.search_attributes.CopyFrom(command.search_attributes)
    if command.HasField("retry_policy"):
        start.retry_policy.CopyFrom(retry.with_defaults(command.retry_policy))
    if command.cron_schedule:
        start.cron_schedule = command.cron_schedule
    if command.HasField("last_completion_result"):
        start.last_completion_result.CopyFrom(command.last_completion_result)
    if command.HasField("failure"):
        start.continued_failure.CopyFrom(command.failure)
    start.attempt = 1
    upgrade = command.initial_versioning_behavior == UPGRADE_ON_CONTINUE
    return _start_successor(m, start, command.backoff_start_interval.ToTimedelta(), upgrade)


def retry_or_cron(m: Mutation, failure: Failure) -> tuple[str, RetryState.ValueType]:
    """After a run failed or timed out: its retry, else its next cron run, else nothing."""
    s = m.state
    expiration = (
        s.start.workflow_execution_expiration_time.ToDatetime(UTC)
        if s.start.workflow_execution_expiration_time.seconds
        else None
    )
    if s.start.HasField("retry_policy"):
        backoff, retry_state = retry.next_backoff(
            s.start.retry_policy, s.start.attempt, failure, m.now, expiration
        )
        if backoff is not None:
            start = _successor_start(m, Initiator.CONTINUE_AS_NEW_INITIATOR_RETRY)
            start.attempt = s.start.attempt + 1
            start.continued_failure.CopyFrom(failure)
            start.last_completion_result.CopyFrom(s.start.last_completion_result)
            return _start_successor(m, start, backoff), retry_state
    elif expiration is not None and m.now >= expiration:
        retry_state = RetryState.RETRY_STATE_TIMEOUT
    else:
        retry_state = RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET
    return next_cron_run(m, failure=failure), retry_state


def next_cron_run(
    m: Mutation, last_completion_result: Payloads | None = None, failure: Failure | None = None
) -> str:
    """The next run of a cron workflow, or "" if the workflow has no cron schedule."""
    schedule = m.state.start.cron_schedule
    delay = cron.backoff(schedule, m.now) if schedule else None
    if delay is None:  # no cron schedule, or one that never fires again
        return ""
    start = _successor_start(m, Initiator.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE)
    start.attempt = 1
    if last_completion_result is not None:
        start.last_completion_result.CopyFrom(last_completion_result)
    else:
        start.last_completion_result.CopyFrom(m.state.start.last_completion_result)
    if failure is not None:
        start.continued_failure.CopyFrom(failure)
    return _start_successor(m, start, delay)


def _successor_start(
    m: Mutation, initiator: ContinueAsNewInitiator.ValueType
) -> WorkflowExecutionStartedEventAttributes:
    """The predecessor's Started event, as the basis of the successor's."""
    s = m.state
    start = WorkflowExecutionStartedEventAttributes()
    start.CopyFrom(s.start)
    for field in ("identity", "continued_failure", "last_completion_result", "prev_auto_reset_points"):
        start.ClearField(field)
    start.continued_execution_run_id = s.run_id
    if s.auto_reset_points.points:  # handed on, as the reference does
        start.prev_auto_reset_points.CopyFrom(s.auto_reset_points)
    start.initiator = initiator
    for name in ("memo", "search_attributes"):  # none when the run has none, as on the reference
        start.ClearField(name)
        if getattr(s, name).ListFields():
            getattr(start, name).CopyFrom(getattr(s, name))
    return start


def _start_successor(
    m: Mutation, start: WorkflowExecutionStartedEventAttributes, backoff: timedelta, upgrade: bool = False
) -> str:
    """Start the next run on `start` (`upgrade`: not on the version the run is pinned to)."""
    s = m.state
    versioning.inherit(s, start, upgrade)
    run_id = m.new_id()
    start.original_execution_run_id = run_id
    throttle = s.start_time + MIN_RUN_INTERVAL - m.now
    start.ClearField("first_workflow_task_backoff")
    if max(backoff, throttle) > _ZERO:
        start.first_workflow_task_backoff.FromTimedelta(max(backoff, throttle))
    state = start_module.new_execution(
        s.namespace_id, s.namespace, start, run_id, s.first_run_id, m.now, request_id=run_id
    )
    state.scheduled_by = s.scheduled_by  # the schedule hears when the whole chain ends
    successor = Mutation(state, m.now, m.new_id)
    start_module.begin(successor)
    m.successor = successor
    return run_id
