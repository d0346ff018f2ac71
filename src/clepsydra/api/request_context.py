"""The RPC being served, so that what is logged while serving it says which RPC it was, for
which namespace and which workflow (JSON logs carry these as fields)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

# (RPC name, request) of the call the running task serves; the request is read only when a
# line is logged, so serving costs one context variable set per call.
CURRENT: ContextVar[tuple[str, Any] | None] = ContextVar("clepsydra_rpc", default=None)


def describe() -> dict[str, str]:
    """`rpc`, `namespace` and `workflow_id` of the call being served, where known."""
    current = CURRENT.get()
    if current is None:
        return {}
    operation, request = current
    fields = {"rpc": operation}
    namespace = getattr(request, "namespace", None)
    if isinstance(namespace, str) and namespace:
        fields["namespace"] = namespace
    workflow_id = _workflow_id(request)
    if workflow_id:
        fields["workflow_id"] = workflow_id
    return fields


def _workflow_id(request: Any) -> str:
    names = request.DESCRIPTOR.fields_by_name if hasattr(request, "DESCRIPTOR") else {}
    if "workflow_id" in names and isinstance(request.workflow_id, str):
        return str(request.workflow_id)
    for name in ("workflow_execution", "execution"):
        if name in names and hasattr(getattr(request, name), "workflow_id"):
            return str(getattr(request, name).workflow_id)
    return ""
