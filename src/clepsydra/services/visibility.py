"""List, count and scan runs: a query in, a page of WorkflowExecutionInfo out.

Pages of the default order (open runs first, newest start first, then closed runs,
most recently closed first) continue from the last row's sort key, so a deep page
costs no more than the first; pages of an ORDER BY query continue from an offset.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable
from typing import Any

from temporalio.api.common.v1 import Memo, Payload, SearchAttributes, WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflow.v1 import WorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import (
    CountWorkflowExecutionsResponse,
    ListClosedWorkflowExecutionsRequest,
    ListOpenWorkflowExecutionsRequest,
)

from clepsydra.errors import InvalidArgument
from clepsydra.services.activity_visibility import activity_query
from clepsydra.services.namespaces import Namespaces
from clepsydra.services.nexus_visibility import nexus_query
from clepsydra.services.search_attributes import SearchAttributeRegistry
from clepsydra.store.base import Store, VisibilityRecord
from clepsydra.visibility import ast
from clepsydra.visibility.attributes import Schema
from clepsydra.visibility.compiler import STATUS_NAMES, Compiled, compile_ast, compile_query
from clepsydra.visibility.query import QueryError, parse

MAX_PAGE_SIZE = 1000
RUNNING = WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
_STATUS_BY_VALUE = {value: name for name, value in STATUS_NAMES.items()}


class Visibility:
    def __init__(self, store: Store, namespaces: Namespaces, registry: SearchAttributeRegistry) -> None:
        self._store = store
        self._namespaces = namespaces
        self._registry = registry

    async def list(
        self, namespace: str, query: str, page_size: int, token: bytes
    ) -> tuple[builtins.list[WorkflowExecutionInfo], bytes]:
        namespace_id = await self._namespace_id(namespace)
        compiled = await self._compile(namespace_id, lambda schema: compile_query(query, schema))
        return await self._page(namespace_id, compiled, page_size, token)

    async def count(self, namespace: str, query: str) -> CountWorkflowExecutionsResponse:
        namespace_id = await self._namespace_id(namespace)
        compiled = await self._compile(
            namespace_id, lambda schema: compile_query(query, schema, counting=True)
        )
        return await self._count(namespace_id, compiled)

    async def count_in(self, namespace_id: str, query: str) -> int:
        """Runs of a namespace, named by id, that a query selects: for the server's own checks."""
        compiled = await self._compile(
            namespace_id, lambda schema: compile_query(query, schema, counting=True)
        )
        return (await self._count(namespace_id, compiled)).count

    async def _count(self, namespace_id: str, compiled: Compiled) -> CountWorkflowExecutionsResponse:
        rows = await self._store.count_visibility(namespace_id, compiled)
        response = CountWorkflowExecutionsResponse(count=sum(count for _, count in rows))
        if compiled.group_by_status:
            for status, count in rows:
                assert status is not None  # grouped by a NOT NULL column
                group = response.groups.add(count=count)
                group.group_values.append(_keyword_payload(_STATUS_BY_VALUE.get(status, str(status))))
        return response

    async def list_activities(
        self, namespace: str, query: str, page_size: int, token: bytes
    ) -> tuple[builtins.list[VisibilityRecord], bytes]:
        """Standalone activities: the visibility records of their executions."""
        namespace_id = await self._namespace_id(namespace)
        compiled = await self._compile(
            namespace_id, lambda schema: compile_ast(activity_query(_parse(query)), schema)
        )
        return await self._records(namespace_id, compiled, page_size, token)

    async def count_activities(self, namespace: str, query: str) -> CountWorkflowExecutionsResponse:
        namespace_id = await self._namespace_id(namespace)
        compiled = await self._compile(
            namespace_id, lambda schema: compile_ast(activity_query(_parse(query)), schema, counting=True)
        )
        return await self._count(namespace_id, compiled)

    async def list_nexus_operations(
        self, namespace: str, query: str, page_size: int, token: bytes
    ) -> tuple[builtins.list[VisibilityRecord], bytes]:
        """Standalone Nexus operations: the visibility records of their executions."""
        namespace_id = await self._namespace_id(namespace)
        compiled = await self._compile(
            namespace_id, lambda schema: compile_ast(nexus_query(_parse(query)), schema)
        )
        return await self._records(namespace_id, compiled, page_size, token)

    async def count_nexus_operations(self, namespace: str, query: str) -> CountWorkflowExecutionsResponse:
        namespace_id = await self._namespace_id(namespace)
        compiled = await self._compile(
            namespace_id, lambda schema: compile_ast(nexus_query(_parse(query)), schema, counting=True)
        )
        return await self._count(namespace_id, compiled)

    async def list_open(
        self, request: ListOpenWorkflowExecutionsRequest
    ) -> tuple[builtins.list[WorkflowExecutionInfo], bytes]:
        where: builtins.list[ast.Expr] = [_compare("ExecutionStatus", "=", int(RUNNING))]
        where += _time_range("StartTime", request)
        where += _execution_filters(request)
        return await self._legacy(
            request.namespace, where, request.maximum_page_size, request.next_page_token
        )

    async def list_closed(
        self, request: ListClosedWorkflowExecutionsRequest
    ) -> tuple[builtins.list[WorkflowExecutionInfo], bytes]:
        where: builtins.list[ast.Expr] = [_compare("ExecutionStatus", "!=", int(RUNNING))]
        # As in the reference, a closed list's time filter applies to the close time.
        where += _time_range("CloseTime", request)
        where += _execution_filters(request)
        if request.HasField("status_filter"):
            status = request.status_filter.status
            if status in (RUNNING, 0):
                raise InvalidArgument("StatusFilter must be specified and must be not Running.")
            where.append(_compare("ExecutionStatus", "=", int(status)))
        return await self._legacy(
            request.namespace, where, request.maximum_page_size, request.next_page_token
        )

    async def _legacy(
        self, namespace: str, where: builtins.list[ast.Expr], page_size: int, token: bytes
    ) -> tuple[builtins.list[WorkflowExecutionInfo], bytes]:
        condition = where[0]
        for expr in where[1:]:
            condition = ast.And(condition, expr)
        namespace_id = await self._namespace_id(namespace)
        compiled = await self._compile(namespace_id, lambda schema: compile_ast(ast.Query(condition), schema))
        return await self._page(namespace_id, compiled, page_size, token)

    async def _namespace_id(self, namespace: str) -> str:
        if not namespace:
            raise InvalidArgument("Namespace is empty.")
        return await self._namespaces.id_of(namespace)

    async def _compile(self, namespace_id: str, build: Callable[[Schema], Compiled]) -> Compiled:
        schema = await self._registry.schema(namespace_id)
        try:
            return build(schema)
        except QueryError as error:
            raise InvalidArgument(f"invalid query: {error}") from None

    async def _page(
        self, namespace_id: str, compiled: Compiled, page_size: int, token: bytes
    ) -> tuple[builtins.list[WorkflowExecutionInfo], bytes]:
        records, next_token = await self._records(namespace_id, compiled, page_size, token)
        schema = await self._registry.schema(namespace_id)
        return [execution_info(r, schema) for r in records], next_token

    async def _records(
        self, namespace_id: str, compiled: Compiled, page_size: int, token: bytes
    ) -> tuple[builtins.list[VisibilityRecord], bytes]:
        size = MAX_PAGE_SIZE if page_size <= 0 else min(page_size, MAX_PAGE_SIZE)
        after = _decode_token(token, ordered=bool(compiled.order_by))
        records: builtins.list[VisibilityRecord] = await self._store.list_visibility(
            namespace_id, compiled, size, after
        )
        next_token = b""
        if len(records) == size:
            if compiled.order_by:
                next_token = json.dumps({"offset": (after or 0) + size}).encode()
            else:
                after_last = self._store.keyset(records[-1])
                next_token = json.dumps({"after": list(after_last)}).encode()
        return records, next_token


def _parse(query: str) -> ast.Query:
    try:
        return parse(query)
    except QueryError as error:
        raise InvalidArgument(f"invalid query: {error}") from None


def execution_info(r: VisibilityRecord, schema: Schema) -> WorkflowExecutionInfo:
    execution = WorkflowExecution(workflow_id=r.key.workflow_id, run_id=r.key.run_id)
    info = WorkflowExecutionInfo(
        execution=execution,
        type=WorkflowType(name=r.workflow_type),
        status=WorkflowExecutionStatus.ValueType(r.status),
        history_length=r.history_length,
        memo=Memo.FromString(r.memo),
        search_attributes=SearchAttributes.FromString(r.search_attributes),
        task_queue=r.task_queue,
        state_transition_count=r.state_transition_count,
        history_size_bytes=r.history_size_bytes,
        root_execution=WorkflowExecution(workflow_id=r.root[0], run_id=r.root[1]) if r.root else execution,
    )
    if r.parent is not None:
        info.parent_execution.CopyFrom(WorkflowExecution(workflow_id=r.parent[0], run_id=r.parent[1]))
    info.memo.SetInParent()
    info.search_attributes.SetInParent()
    _label_types(info.search_attributes, schema)
    info.start_time.FromDatetime(r.start_time)
    info.execution_time.FromDatetime(r.execution_time)
    if r.close_time is not None:
        info.close_time.FromDatetime(r.close_time)
        info.execution_duration.FromTimedelta(r.close_time - r.execution_time)
    return info


def _label_types(attributes: SearchAttributes, schema: Schema) -> None:
    """Mark each value with its attribute's type, as the reference shows them."""
    for name, payload in attributes.indexed_fields.items():
        attribute = schema.settable(name)
        if attribute is not None and "type" not in payload.metadata:
            payload.metadata["type"] = attribute.type.value.encode()


def _decode_token(token: bytes, ordered: bool) -> Any:
    if not token:
        return None
    try:
        decoded = json.loads(token)
        if ordered:
            offset = decoded["offset"]
            if isinstance(offset, int) and 0 <= offset < 2**63:
                return offset
        else:
            close_sort, start, run_id = decoded["after"]
            if _int64(close_sort) and _int64(start) and isinstance(run_id, str):
                return (close_sort, start, run_id)
    except (ValueError, KeyError, TypeError, RecursionError):
        pass
    raise InvalidArgument("Invalid NextPageToken: it does not belong to this query.")


def _int64(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63


def _keyword_payload(value: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain", "type": b"Keyword"}, data=json.dumps(value).encode())


def _compare(name: str, op: str, value: ast.Value) -> ast.Compare:
    return ast.Compare(ast.Column(name, 0), op, ast.Literal(value, 0))


def _time_range(
    name: str, request: ListOpenWorkflowExecutionsRequest | ListClosedWorkflowExecutionsRequest
) -> list[ast.Expr]:
    if not request.HasField("start_time_filter"):
        return []
    earliest = request.start_time_filter.earliest_time.ToNanoseconds()
    latest = request.start_time_filter.latest_time.ToNanoseconds()
    if request.start_time_filter.HasField("latest_time") and earliest > latest:
        raise InvalidArgument("EarliestTime in StartTimeFilter should not be larger than LatestTime.")
    where: list[ast.Expr] = [_compare(name, ">=", earliest)]
    if request.start_time_filter.HasField("latest_time"):
        where.append(_compare(name, "<=", latest))
    return where


def _execution_filters(
    request: ListOpenWorkflowExecutionsRequest | ListClosedWorkflowExecutionsRequest,
) -> list[ast.Expr]:
    if request.HasField("execution_filter"):
        where: list[ast.Expr] = [_compare("WorkflowId", "=", request.execution_filter.workflow_id)]
        if request.execution_filter.run_id:
            where.append(_compare("RunId", "=", request.execution_filter.run_id))
        return where
    if request.HasField("type_filter"):
        return [_compare("WorkflowType", "=", request.type_filter.name)]
    return []
