"""Shared bits for the integration tests: reading histories the way a user would.

Set CLEPSYDRA_REFHIST_DIR to a directory to have `save_history` write each interesting
scenario's full history there as JSON (the proto JSON mapping, `{"events": [...]}`), e.g. to
record the reference server's histories for comparison.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

_PREFIX = "EVENT_TYPE_"


def event_type_name(event: HistoryEvent) -> str:
    """`EVENT_TYPE_WORKFLOW_EXECUTION_STARTED` -> `WORKFLOW_EXECUTION_STARTED`."""
    return EventType.Name(event.event_type).removeprefix(_PREFIX)


async def history_events(handle: WorkflowHandle) -> list[HistoryEvent]:
    history = await handle.fetch_history()
    return list(history.events)


async def event_types(handle: WorkflowHandle) -> list[str]:
    """The workflow's full history as a list of event type names."""
    return [event_type_name(e) for e in await history_events(handle)]


async def events_of_type(handle: WorkflowHandle, name: str) -> list[HistoryEvent]:
    return [e for e in await history_events(handle) if event_type_name(e) == name]


async def wait_for_event(handle: WorkflowHandle, name: str) -> HistoryEvent:
    """Long-poll the history until an event of the given type is in it."""
    async for event in handle.fetch_history_events(wait_new_event=True):
        if event_type_name(event) == name:
            return event
    raise AssertionError(f"history closed without a {name} event")


async def save_history(handle: WorkflowHandle, scenario: str) -> None:
    """Write the full history to $CLEPSYDRA_REFHIST_DIR/<scenario>.json, if that is set."""
    directory = os.environ.get("CLEPSYDRA_REFHIST_DIR")
    if not directory:
        return
    history = await handle.fetch_history()
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    document = {"workflowId": handle.id, "runId": history.run_id, **history.to_json_dict()}
    (path / f"{scenario}.json").write_text(json.dumps(document, indent=2) + "\n")


async def assert_still_serves(client: Client) -> None:
    """A follow-up call after a failed one: the server is still up and answering."""
    try:
        resp = await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=client.namespace)
        )
    except RPCError as err:  # pragma: no cover - only on a broken server
        raise AssertionError(f"server no longer serves: {err}") from err
    assert resp.namespace_info.name == client.namespace
