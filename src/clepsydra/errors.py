"""Domain errors raised by the engine and services, mapped to gRPC status codes by `api/`.

They carry no gRPC types so that the engine and the stores stay free of the transport.
"""

from __future__ import annotations

from google.protobuf.message import Message
from temporalio.api.errordetails.v1 import NotFoundFailure, PermissionDeniedFailure


class ServiceError(Exception):
    """Base class: a request that cannot be served, with the message the client sees."""

    code_name = "INTERNAL"

    def __init__(self, message: str, detail: Message | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class InvalidArgument(ServiceError):
    code_name = "INVALID_ARGUMENT"


class NotFound(ServiceError):
    code_name = "NOT_FOUND"

    def __init__(self, message: str, detail: Message | None = None) -> None:
        # Temporal attaches a NotFoundFailure to every NOT_FOUND it returns.
        super().__init__(
            message, detail or NotFoundFailure(current_cluster="active", active_cluster="active")
        )


class PermissionDenied(ServiceError):
    code_name = "PERMISSION_DENIED"

    def __init__(self, message: str) -> None:
        super().__init__(message, PermissionDeniedFailure())


class AlreadyExists(ServiceError):
    code_name = "ALREADY_EXISTS"


class FailedPrecondition(ServiceError):
    code_name = "FAILED_PRECONDITION"


class ResourceExhausted(ServiceError):
    code_name = "RESOURCE_EXHAUSTED"


class Unavailable(ServiceError):
    """Not served now, through no fault of the request (the database cannot be written, say):
    the client retries, as the SDKs do for UNAVAILABLE."""

    code_name = "UNAVAILABLE"


class DeadlineExceeded(ServiceError):
    code_name = "DEADLINE_EXCEEDED"


class Unimplemented(ServiceError):
    code_name = "UNIMPLEMENTED"


WORKFLOW_COMPLETED = "workflow execution already completed"


class ConditionFailed(Exception):
    """The store refused a write because the execution changed since it was read."""


class ShardOwnershipLost(ConditionFailed):
    """The shard of the execution was acquired by another process since this one acquired it."""
