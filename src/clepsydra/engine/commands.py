"""Apply the commands of a completed workflow task, in order, each to its entity."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from temporalio.api.command.v1 import Command
from temporalio.api.enums.v1 import CommandType, WorkflowTaskFailedCause
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.protocol.v1 import Message

from clepsydra.engine import (
    activity,
    children,
    external,
    nexus_cancels,
    nexus_operations,
    timers,
    updates,
    workflow,
)
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.workflow_task import CommandError

Cause = WorkflowTaskFailedCause
CLOSE_COMMANDS = frozenset(
    {
        CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
        CommandType.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION,
        CommandType.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION,
        CommandType.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION,
    }
)

# command type → handler(mutation, completed event id, command attributes, identity)
_Handler = Callable[[Mutation, int, Any, str], None]


def _ignoring_identity(handler: Callable[[Mutation, int, Any], None]) -> _Handler:
    return lambda m, completed_event_id, attributes, _: handler(m, completed_event_id, attributes)


_HANDLERS: dict[int, _Handler] = {
    CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK: _ignoring_identity(activity.schedule),
    CommandType.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK: _ignoring_identity(activity.request_cancel),
    CommandType.COMMAND_TYPE_START_TIMER: _ignoring_identity(timers.start),
    CommandType.COMMAND_TYPE_CANCEL_TIMER: timers.cancel,
    CommandType.COMMAND_TYPE_RECORD_MARKER: _ignoring_identity(workflow.record_marker),
    CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION: _ignoring_identity(workflow.complete),
    CommandType.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION: _ignoring_identity(workflow.fail),
    CommandType.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION: _ignoring_identity(workflow.cancel),
    CommandType.COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: _ignoring_identity(
        workflow.upsert_search_attributes
    ),
    CommandType.COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES: _ignoring_identity(workflow.modify_properties),
    CommandType.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION: _ignoring_identity(workflow.continue_as_new),
    CommandType.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION: _ignoring_identity(children.initiate),
    CommandType.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION: _ignoring_identity(external.signal),
    CommandType.COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION: _ignoring_identity(
        external.request_cancel
    ),
    CommandType.COMMAND_TYPE_REQUEST_CANCEL_NEXUS_OPERATION: _ignoring_identity(nexus_cancels.request_cancel),
}


def _annotate(m: Mutation, event: HistoryEvent, command: Command) -> None:
    if command.HasField("user_metadata"):
        event.user_metadata.CopyFrom(command.user_metadata)
        child = m.state.children.get(event.event_id)
        if command.command_type == CommandType.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION and child:
            child.user_metadata = command.user_metadata  # handed on to the child's start
    event.event_group_markers.extend(command.event_group_markers)


def closes_workflow(commands: Sequence[Command]) -> bool:
    return any(c.command_type in CLOSE_COMMANDS for c in commands)


def apply(
    m: Mutation,
    completed_event_id: int,
    commands: Sequence[Command],
    identity: str,
    messages: Sequence[Message] = (),
    nexus_endpoints: Mapping[str, str] | None = None,
) -> None:
    """Apply commands in order; a protocol message command applies its message in place,
    and messages no command refers to (such as update rejections) follow the commands.
    `nexus_endpoints`: the id of each Nexus endpoint the commands name, where one exists."""
    unplaced = {message.id: message for message in messages}
    for command in commands:
        if not m.state.running:
            raise CommandError(
                Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_COMPLETE_WORKFLOW_EXECUTION_ATTRIBUTES,
                "The workflow closing command must be the last command.",
            )
        name = CommandType.Name(command.command_type)
        if command.command_type == CommandType.COMMAND_TYPE_PROTOCOL_MESSAGE:
            message_id = command.protocol_message_command_attributes.message_id
            if message_id not in unplaced:
                raise CommandError(
                    Cause.WORKFLOW_TASK_FAILED_CAUSE_BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE,
                    f"ProtocolMessageCommand refers to unknown message {message_id}.",
                )
            updates.apply_message(m, unplaced.pop(message_id))
            continue
        if command.command_type == CommandType.COMMAND_TYPE_SCHEDULE_NEXUS_OPERATION:
            nexus_operations.schedule(
                m,
                completed_event_id,
                command.schedule_nexus_operation_command_attributes,
                nexus_endpoints or {},
                command.user_metadata if command.HasField("user_metadata") else None,
            )
            continue
        if command.command_type not in _HANDLERS:
            raise CommandError(
                Cause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND, f"Unknown command type: {name}."
            )
        attributes = getattr(command, command.WhichOneof("attributes") or "", None)
        if attributes is None:
            raise CommandError(
                Cause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND, f"{name} has no attributes."
            )
        first_event = len(m.events)
        _HANDLERS[command.command_type](m, completed_event_id, attributes, identity)
        if len(m.events) > first_event:  # the command's event carries its metadata, as on the reference
            _annotate(m, m.events[first_event], command)
    for message in unplaced.values():
        if m.state.running:
            updates.apply_message(m, message)
