"""Operators' changes to a workflow's pending activities: PauseActivity, UnpauseActivity,
ResetActivity and UpdateActivityOptions, each by activity id, by type or for all."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from google.protobuf.duration_pb2 import Duration
from temporalio.api.activity.v1 import ActivityOptions
from temporalio.api.workflowservice.v1 import (
    PauseActivityRequest,
    ResetActivityRequest,
    UnpauseActivityRequest,
    UpdateActivityOptionsRequest,
)

from clepsydra.engine import activity_operations as operations
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import ActivityInfo
from clepsydra.errors import InvalidArgument
from clepsydra.history.core import HistoryCore

_ZERO = timedelta(0)
T = TypeVar("T")
ACTIVITY_ID_OR_TYPE_NOT_SET = "Either Activity.Id or Activity.Type should be set on request."
_Request = PauseActivityRequest | UnpauseActivityRequest | ResetActivityRequest | UpdateActivityOptionsRequest


class ActivityOperations:
    def __init__(self, core: HistoryCore) -> None:
        self.core = core

    async def pause(self, namespace_id: str, request: PauseActivityRequest) -> None:
        def change(m: Mutation) -> None:
            for info in _targets(m, request):
                operations.pause(m, info, request.identity, request.reason, request.request_id)

        await self._change(namespace_id, request, change)

    async def unpause(self, namespace_id: str, request: UnpauseActivityRequest) -> None:
        delay = _jitter(request.jitter)

        def change(m: Mutation) -> None:
            for info in _targets(m, request):
                operations.unpause(m, info, request.reset_attempts, request.reset_heartbeat, delay)

        await self._change(namespace_id, request, change)

    async def reset(self, namespace_id: str, request: ResetActivityRequest) -> None:
        delay = _jitter(request.jitter)

        def change(m: Mutation) -> None:
            for info in _targets(m, request):
                operations.reset(
                    m,
                    info,
                    request.reset_heartbeat,
                    request.keep_paused,
                    request.restore_original_options,
                    delay,
                )

        await self._change(namespace_id, request, change)

    async def update_options(
        self, namespace_id: str, request: UpdateActivityOptionsRequest
    ) -> ActivityOptions:
        paths = set(request.update_mask.paths)
        if request.restore_original:
            if paths:
                raise InvalidArgument("Both UpdateMask and RestoreOriginal are provided")
        else:
            if not request.HasField("activity_options"):
                raise InvalidArgument("ActivityOptions are not provided")
            if not request.HasField("update_mask"):
                raise InvalidArgument("UpdateMask is not provided")

        def change(m: Mutation) -> ActivityOptions:
            options = ActivityOptions()
            for info in _targets(m, request):
                options = (
                    operations.restore_options(m, info)
                    if request.restore_original
                    else operations.update_options(m, info, request.activity_options, paths)
                )
            return options

        return await self._change(namespace_id, request, change)

    async def _change(self, namespace_id: str, request: _Request, change: Callable[[Mutation], T]) -> T:
        execution = request.execution
        if not execution.workflow_id:
            raise InvalidArgument("WorkflowId is not set on request.")
        if request.WhichOneof("activity") is None:
            raise InvalidArgument(ACTIVITY_ID_OR_TYPE_NOT_SET)
        key = await self.core.resolve(namespace_id, execution.workflow_id, execution.run_id)
        return await self.core.update(key, change)


def _targets(m: Mutation, request: _Request) -> list[ActivityInfo]:
    """The activities the request's `activity` choice names: an id, a type, or all of them."""
    match request.WhichOneof("activity"):
        case "id":
            return operations.targets(m.state, activity_id=request.id)
        case "type":
            return operations.targets(m.state, activity_type=request.type)
        case _:
            return operations.targets(m.state, every=True)


def _jitter(jitter: Duration) -> timedelta:
    """A random delay up to `jitter`, so that activities unpaused together do not start together."""
    bound = jitter.ToTimedelta()
    if bound < _ZERO:
        raise InvalidArgument("Jitter cannot be negative.")
    return timedelta(seconds=random.uniform(0, bound.total_seconds())) if bound > _ZERO else _ZERO
