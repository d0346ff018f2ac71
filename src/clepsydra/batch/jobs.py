"""Batch jobs: started by StartBatchOperation, run in the background, resumed after a restart.

A job's row holds its request, its progress and a cursor; the job saves both after
each page of runs, so a restart resumes at most one page back. Redoing a run is
harmless: a terminated run cannot be terminated again (it counts as a failure, as it
would on the reference), and signals and cancel requests carry a request id derived
from the job and the run, which the engine deduplicates.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import logging
from typing import Any

from temporalio.api.batch.v1 import BatchOperationInfo
from temporalio.api.enums.v1 import BatchOperationState, ResourceExhaustedCause, ResourceExhaustedScope
from temporalio.api.errordetails.v1 import ResourceExhaustedFailure
from temporalio.api.workflowservice.v1 import (
    DescribeBatchOperationResponse,
    ListBatchOperationsResponse,
    StartBatchOperationRequest,
)

from clepsydra.batch.operations import BatchOperations, identity_of, on_standalone_activities, operation_type
from clepsydra.clock import Clock
from clepsydra.engine.codec import to_micros
from clepsydra.engine.state import ExecutionKey
from clepsydra.errors import (
    WORKFLOW_COMPLETED,
    AlreadyExists,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    ServiceError,
)
from clepsydra.services.activity_visibility import activity_query
from clepsydra.services.namespaces import Namespaces
from clepsydra.services.page_tokens import offset_of, offset_token
from clepsydra.services.search_attributes import SearchAttributeRegistry
from clepsydra.store.base import BatchRecord, Store
from clepsydra.visibility.compiler import Compiled, compile_ast, compile_query
from clepsydra.visibility.query import QueryError, parse

log = logging.getLogger(__name__)
State = BatchOperationState
MAX_RUNNING_PER_NAMESPACE = 1  # the reference dev server's limit
PAGE = 100
MISSING = (
    "must provide required parameters: BatchType,Reason,Namespace, AND one of "
    "(Query OR Executions OR TargetExecutions)"
)


class BatchJobs:
    def __init__(
        self,
        store: Store,
        namespaces: Namespaces,
        registry: SearchAttributeRegistry,
        operations: BatchOperations,
        clock: Clock,
    ) -> None:
        self._store = store
        self._namespaces = namespaces
        self._registry = registry
        self._operations = operations
        self._clock = clock
        self._running: dict[tuple[str, str], asyncio.Task[None]] = {}

    # -- requests ------------------------------------------------------------------------------

    async def start(self, request: StartBatchOperationRequest) -> None:
        if not request.job_id:
            raise InvalidArgument("JobId is not set on request.")
        kind = operation_type(request)
        if not kind or not request.reason or not (request.visibility_query or request.executions):
            raise InvalidArgument(MISSING)
        namespace_id = await self._namespaces.id_of(request.namespace)
        total = len(request.executions)
        if not request.executions:
            total = await self._count(namespace_id, await self._compile(namespace_id, request))
        if sum(1 for ns, _ in self._running if ns == namespace_id) >= MAX_RUNNING_PER_NAMESPACE:
            raise ResourceExhausted(
                "Max concurrent batch operations is reached",
                ResourceExhaustedFailure(
                    cause=ResourceExhaustedCause.RESOURCE_EXHAUSTED_CAUSE_CONCURRENT_LIMIT,
                    scope=ResourceExhaustedScope.RESOURCE_EXHAUSTED_SCOPE_NAMESPACE,
                ),
            )
        now = self._clock.now()
        progress = DescribeBatchOperationResponse(
            operation_type=kind,
            job_id=request.job_id,
            state=State.BATCH_OPERATION_STATE_RUNNING,
            total_operation_count=total,
            identity=identity_of(request),
            reason=request.reason,
            query=request.visibility_query,
        )
        progress.start_time.FromDatetime(now)
        record = BatchRecord(
            namespace_id, request.job_id, True, to_micros(now), request.SerializeToString(),
            progress.SerializeToString(), None,
        )  # fmt: skip
        if not await self._store.create_batch(record):
            raise AlreadyExists(f"Batch operation {request.job_id} already exists.")
        self._launch(namespace_id, request.job_id)

    async def describe(self, namespace: str, job_id: str) -> DescribeBatchOperationResponse:
        record = await self._record(namespace, job_id)
        return DescribeBatchOperationResponse.FromString(record.progress)

    async def list(self, namespace: str, page_size: int, token: bytes) -> ListBatchOperationsResponse:
        namespace_id = await self._namespaces.id_of(namespace)
        size = page_size if page_size > 0 else 100
        offset = offset_of(token)
        records = await self._store.list_batches(namespace_id, size, offset)
        infos = []
        for record in records:
            progress = DescribeBatchOperationResponse.FromString(record.progress)
            info = BatchOperationInfo(
                job_id=record.job_id, state=progress.state, operation_type=progress.operation_type
            )
            info.start_time.CopyFrom(progress.start_time)
            if progress.HasField("close_time"):
                info.close_time.CopyFrom(progress.close_time)
            infos.append(info)
        next_token = offset_token(offset + size) if len(records) == size else b""
        return ListBatchOperationsResponse(operation_info=infos, next_page_token=next_token)

    async def stop(self, namespace: str, job_id: str) -> None:
        record = await self._record(namespace, job_id)
        task = self._running.pop((record.namespace_id, job_id), None)
        if task is None or not record.running:
            raise NotFound(WORKFLOW_COMPLETED)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        latest = await self._store.get_batch(record.namespace_id, job_id)
        await self._finish(latest, State.BATCH_OPERATION_STATE_FAILED)

    # -- running -------------------------------------------------------------------------------

    async def resume(self) -> None:
        """Go on with the jobs a previous process left running."""
        for record in await self._store.running_batches():
            self._launch(record.namespace_id, record.job_id)

    async def close(self) -> None:
        tasks = list(self._running.values())
        self._running.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _launch(self, namespace_id: str, job_id: str) -> None:
        task = asyncio.create_task(self._run(namespace_id, job_id), name=f"batch {job_id}")
        self._running[(namespace_id, job_id)] = task
        task.add_done_callback(lambda t: self._forget(namespace_id, job_id, t))

    def _forget(self, namespace_id: str, job_id: str, task: asyncio.Task[None]) -> None:
        if self._running.get((namespace_id, job_id)) is task:
            del self._running[(namespace_id, job_id)]

    async def _run(self, namespace_id: str, job_id: str) -> None:
        record = await self._store.get_batch(namespace_id, job_id)
        assert record is not None  # it was saved before its launch, and jobs are never deleted
        request = StartBatchOperationRequest.FromString(record.request)
        progress = DescribeBatchOperationResponse.FromString(record.progress)
        cursor = json.loads(record.cursor) if record.cursor else None
        try:
            query = None if request.executions else await self._compile(namespace_id, request)
            while True:
                keys, cursor = await self._next_page(namespace_id, request, query, cursor)
                for key in keys:
                    try:
                        await self._operations.apply(job_id, request, key)
                        progress.complete_operation_count += 1
                    except ServiceError:
                        progress.failure_operation_count += 1
                done = len(keys) < PAGE
                await self._store.save_batch_progress(
                    namespace_id, job_id, not done, progress.SerializeToString(), json.dumps(cursor)
                )
                if done:
                    break
            await self._finish(
                await self._store.get_batch(namespace_id, job_id), State.BATCH_OPERATION_STATE_COMPLETED
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("batch operation %s failed", job_id)
            await self._finish(
                await self._store.get_batch(namespace_id, job_id), State.BATCH_OPERATION_STATE_FAILED
            )

    async def _next_page(
        self, namespace_id: str, request: StartBatchOperationRequest, query: Compiled | None, cursor: Any
    ) -> tuple[builtins.list[ExecutionKey], Any]:
        if query is None:  # an explicit list of executions; the cursor is an index into it
            start = cursor or 0
            chosen = request.executions[start : start + PAGE]
            keys = []
            for execution in chosen:
                run_id = execution.run_id
                if not run_id:
                    current = await self._store.get_current_execution(namespace_id, execution.workflow_id)
                    run_id = current.run_id if current else ""
                keys.append(ExecutionKey(namespace_id, execution.workflow_id, run_id))
            return keys, start + len(chosen)
        after = tuple(cursor) if cursor else None
        page = await self._store.batch_targets(namespace_id, query, after, PAGE)
        return [key for key, _ in page], (list(page[-1][1]) if page else cursor)

    async def _finish(self, record: BatchRecord | None, state: State.ValueType) -> None:
        if record is None:
            return
        progress = DescribeBatchOperationResponse.FromString(record.progress)
        progress.state = state
        progress.close_time.FromDatetime(self._clock.now())
        await self._store.save_batch_progress(
            record.namespace_id, record.job_id, False, progress.SerializeToString(), record.cursor
        )

    # -- helpers -------------------------------------------------------------------------------

    async def _record(self, namespace: str, job_id: str) -> BatchRecord:
        namespace_id = await self._namespaces.id_of(namespace)
        record: BatchRecord | None = await self._store.get_batch(namespace_id, job_id)
        if record is None:
            raise NotFound(f"workflow not found for ID: {job_id}")
        return record

    async def _compile(self, namespace_id: str, request: StartBatchOperationRequest) -> Compiled:
        """The request's query, over workflows or, for operations on them, standalone activities."""
        schema = await self._registry.schema(namespace_id)
        try:
            if on_standalone_activities(request):
                return compile_ast(activity_query(parse(request.visibility_query)), schema)
            return compile_query(request.visibility_query, schema)
        except QueryError as error:
            raise InvalidArgument(f"invalid query: {error}") from None

    async def _count(self, namespace_id: str, query: Compiled) -> int:
        rows = await self._store.count_visibility(namespace_id, query)
        return sum(count for _, count in rows)
