"""Schedules from the client's side: create, describe, update, patch, delete, list, count,
and the times a schedule's spec matches. The schedule itself runs in an execution of its own
(`engine/schedules.py`), changed through the update path like any other."""

from __future__ import annotations

import struct
import uuid
from datetime import UTC

from temporalio.api.common.v1 import Memo, SearchAttributes
from temporalio.api.errordetails.v1 import WorkflowExecutionAlreadyStartedFailure
from temporalio.api.schedule.v1 import Schedule, ScheduleListEntry, ScheduleListInfo
from temporalio.api.workflowservice.v1 import (
    CountSchedulesResponse,
    CreateScheduleRequest,
    DescribeScheduleResponse,
    ListScheduleMatchingTimesRequest,
    ListScheduleMatchingTimesResponse,
    ListSchedulesResponse,
    PatchScheduleRequest,
    UpdateScheduleRequest,
)

from clepsydra.clock import Clock
from clepsydra.engine import codec, schedule_views, schedules, workflow
from clepsydra.engine.schedule_spec import compile_spec, matching_times
from clepsydra.engine.state import ExecutionKey
from clepsydra.errors import AlreadyExists, InvalidArgument
from clepsydra.history.core import HistoryCore
from clepsydra.services.visibility import Visibility
from clepsydra.services.workflows import SearchAttributeCheck, is_running

MAX_ID_LENGTH = 1000
DELETE_REASON = "schedule deleted"
_DIVIDED = f"{schedules.DIVISION_ATTRIBUTE} = '{schedules.DIVISION}'"


class Schedules:
    def __init__(
        self,
        core: HistoryCore,
        clock: Clock,
        visibility: Visibility,
        check_search_attributes: SearchAttributeCheck,
    ) -> None:
        self.core = core
        self.clock = clock
        self.visibility = visibility
        self.check_search_attributes = check_search_attributes

    async def create(self, namespace_id: str, request: CreateScheduleRequest) -> bytes:
        schedule_id = request.schedule_id
        _validate_id(schedule_id)
        _validate_action(request.schedule)
        await self.check_search_attributes(request.namespace, namespace_id, request.search_attributes)
        action = request.schedule.action.start_workflow
        await self.check_search_attributes(request.namespace, namespace_id, action.search_attributes)
        workflow_id = schedules.workflow_id_of(schedule_id)
        request_id = request.request_id or str(uuid.uuid4())
        async with self.core.locked(namespace_id, workflow_id):
            current = await self.core.current(namespace_id, workflow_id)
            if current is not None and is_running(current.status):
                if current.start_request_id == request_id:  # the same create, again
                    return _token(1)
                raise AlreadyExists(
                    f'schedule "{schedule_id}" is already registered',
                    WorkflowExecutionAlreadyStartedFailure(
                        start_request_id=current.start_request_id, run_id=current.run_id
                    ),
                )
            m = schedules.create(
                namespace_id,
                request.namespace,
                schedule_id,
                request.schedule,
                request.initial_patch if request.HasField("initial_patch") else None,
                request.memo,
                request.search_attributes,
                request.identity,
                request_id,
                str(uuid.uuid4()),
                self.clock.now(),
            )
            await self.core.create(m, current.run_id if current else None)
            assert m.state.schedule is not None
            return _token(m.state.schedule.conflict_token)

    async def describe(self, namespace_id: str, schedule_id: str) -> DescribeScheduleResponse:
        async with self.core.read(await self._key(namespace_id, schedule_id)) as state:
            s = schedule_views.schedule_of(state)
            memo = _user_memo(state.memo)
            attributes = _user_attributes(state.search_attributes)
            return DescribeScheduleResponse(
                schedule=s.schedule,
                info=schedule_views.describe_info(state),
                # Left out when empty, as on the reference.
                memo=memo if memo.fields else None,
                search_attributes=attributes if attributes.indexed_fields else None,
                conflict_token=_token(s.conflict_token),
            )

    async def update(self, namespace_id: str, request: UpdateScheduleRequest) -> None:
        compile_spec(request.schedule.spec)  # refused before anything changes, as the reference
        if not request.schedule.action.HasField("start_workflow"):
            raise InvalidArgument("Only StartWorkflow action is supported for schedules")
        _validate_action(request.schedule)
        attributes = request.search_attributes if request.HasField("search_attributes") else None
        if attributes is not None:
            await self.check_search_attributes(request.namespace, namespace_id, attributes)
        memo = request.memo if request.HasField("memo") else None
        token = _token_value(request.conflict_token)
        key = await self._key(namespace_id, request.schedule_id)
        await self.core.update(key, lambda m: schedules.update(m, request.schedule, token, attributes, memo))

    async def patch(self, namespace_id: str, request: PatchScheduleRequest) -> None:
        key = await self._key(namespace_id, request.schedule_id)
        await self.core.update(key, lambda m: schedules.patch(m, request.patch))

    async def delete(self, namespace_id: str, schedule_id: str, identity: str) -> None:
        """Gone at once, with its execution: the workflows it started run on."""
        key = await self._key(namespace_id, schedule_id)
        async with self.core.locked(key.namespace_id, key.workflow_id):
            state = await self.core.latest(key)
            schedule_views.schedule_of(state)
            await self.core.update_locked(key, lambda m: workflow.terminate(m, DELETE_REASON, None, identity))
            await self.core.delete_run(key)

    async def list(self, namespace: str, query: str, page_size: int, token: bytes) -> ListSchedulesResponse:
        infos, next_token = await self.visibility.list(namespace, _divided(query), page_size, token)
        entries = []
        for info in infos:
            view = info.memo.fields.get(schedule_views.MEMO_INFO)
            entries.append(
                ScheduleListEntry(
                    schedule_id=info.execution.workflow_id.removeprefix(schedules.PREFIX),
                    memo=_user_memo(info.memo),
                    search_attributes=_user_attributes(info.search_attributes),
                    info=ScheduleListInfo.FromString(view.data) if view is not None else None,
                )
            )
        return ListSchedulesResponse(schedules=entries, next_page_token=next_token)

    async def count(self, namespace: str, query: str) -> CountSchedulesResponse:
        counted = await self.visibility.count(namespace, _divided(query))
        return CountSchedulesResponse(count=counted.count)

    async def matching_times(
        self, namespace_id: str, request: ListScheduleMatchingTimesRequest
    ) -> ListScheduleMatchingTimesResponse:
        key = await self._key(namespace_id, request.schedule_id)
        async with self.core.read(key) as state:
            s = schedule_views.schedule_of(state)
            spec = schedule_views.compiled(state)
            if spec is None:
                raise InvalidArgument(f"invalid schedule: {s.info.invalid_schedule_error}")
            seed = schedule_views.seed(state)
        start, end = request.start_time.ToDatetime(UTC), request.end_time.ToDatetime(UTC)
        times = matching_times(spec, start, end, seed)
        return ListScheduleMatchingTimesResponse(start_time=[codec.timestamp(t) for t in times])

    async def _key(self, namespace_id: str, schedule_id: str) -> ExecutionKey:
        _validate_id(schedule_id)
        return await self.core.resolve(namespace_id, schedules.workflow_id_of(schedule_id), "")


def _validate_id(schedule_id: str) -> None:
    """The reference checks the id of the schedule's execution, and says so."""
    if not schedule_id:
        raise InvalidArgument("Can't load workflow execution.  WorkflowId not set.")
    if len(schedules.workflow_id_of(schedule_id)) > MAX_ID_LENGTH:
        raise InvalidArgument("WorkflowId exceeds length limit.")


def _validate_action(schedule: Schedule) -> None:
    """An action is optional (a schedule without one starts nothing); its workflow id must
    leave room for the nominal time each start appends."""
    workflow_id = schedule.action.start_workflow.workflow_id
    if len(workflow_id) + len("-2009-11-10T23:00:00Z") > MAX_ID_LENGTH:
        raise InvalidArgument("WorkflowId exceeds length limit.")


def _divided(query: str) -> str:
    return f"{_DIVIDED} AND ({query})" if query.strip() else _DIVIDED


def _user_memo(memo: Memo) -> Memo:
    return Memo(fields={k: v for k, v in memo.fields.items() if k != schedule_views.MEMO_INFO})


def _user_attributes(attributes: SearchAttributes) -> SearchAttributes:
    return SearchAttributes(
        indexed_fields={
            k: v for k, v in attributes.indexed_fields.items() if k not in schedules.SYSTEM_ATTRIBUTES
        }
    )


def _token(value: int) -> bytes:
    return struct.pack(">q", value)


def _token_value(token: bytes) -> int:
    """A conflict token as DescribeSchedule gave it; empty means: whatever the schedule is at."""
    if not token:
        return 0
    if len(token) != 8:
        raise InvalidArgument("invalid conflict token")
    (value,) = struct.unpack(">q", token)
    return int(value)
