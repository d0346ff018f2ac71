"""Temporal's per-execution limits, with the reference server's default values (which
`--dynamic-config-value` may change: see dynamic_config.py).

They keep a runaway workflow from exhausting the server: oversized payloads are
refused before anything is stored, and a workflow that piles up pending work or
history fails the way it does on the reference.
"""

from __future__ import annotations

from collections.abc import Iterable

from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import WorkflowTaskFailedCause

from clepsydra.engine import dynamic_config
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.workflow_task import CommandError
from clepsydra.errors import InvalidArgument

Cause = WorkflowTaskFailedCause


def payloads_size(payloads: Payloads | Iterable[Payload] | None) -> int:
    if payloads is None:
        return 0
    items = payloads.payloads if isinstance(payloads, Payloads) else payloads
    return sum(p.ByteSize() for p in items)


def check_blob(size: int, what: str = "Blob data") -> None:
    """Refuse a request whose payloads exceed the blob size limit."""
    if dynamic_config.blob_too_large(size):
        raise InvalidArgument(f"{what} size exceeds limit.")


def check_command_blob(size: int, cause: Cause.ValueType, what: str) -> None:
    if dynamic_config.blob_too_large(size):
        raise CommandError(cause, f"{what} exceeds size limit.")


def check_pending(count: int, cause: Cause.ValueType, what: str) -> None:
    """Refuse one more pending item of a kind that already has the most it may have."""
    limit = dynamic_config.current().pending_limit
    if count >= limit:
        raise CommandError(cause, f"the number of pending {what} exceeds the limit of {limit}")


def history_limit_reason(m: Mutation) -> str | None:
    """Why the run must stop because its history grew too long or too large, if it must."""
    s = m.state
    limits = dynamic_config.current()
    if s.history_length > limits.history_count_limit:
        return "Workflow history count exceeds limit."
    if s.history_size_bytes + sum(e.ByteSize() for e in m.events) > limits.history_size_limit:
        return "Workflow history size exceeds limit."
    return None
