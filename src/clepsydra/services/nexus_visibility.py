"""List filters over standalone Nexus operations: the workflow list language with the
operation's names for its columns (`OperationId`, `Endpoint`, `Operation`), confined to
operation executions; and the list entry of one."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from temporalio.api.common.v1 import Memo, SearchAttributes
from temporalio.api.nexus.v1 import NexusOperationExecutionListInfo

from clepsydra.engine import codec
from clepsydra.engine import standalone_nexus as standalone
from clepsydra.services.standalone_nexus import OPERATION_STATUS
from clepsydra.store.base import VisibilityRecord
from clepsydra.visibility import ast
from clepsydra.visibility.compiler import DIVISION

# The operation's name of a column → the workflow list's (engine/standalone_nexus.py keeps
# the endpoint where a workflow keeps its task queue, the operation where its type).
_COLUMNS = {"OperationId": "WorkflowId", "Endpoint": "TaskQueue", "Operation": "WorkflowType"}
_IN_DIVISION = ast.Compare(ast.Column(DIVISION, 0), "=", ast.Literal(standalone.DIVISION, 0))


def nexus_query(query: ast.Query) -> ast.Query:
    """The query over the visibility table that the operation list filter `query` means."""
    where = _IN_DIVISION if query.where is None else ast.And(_IN_DIVISION, _rename(query.where))
    order_by = tuple(dataclasses.replace(o, column=_column(o.column)) for o in query.order_by)
    group_by = tuple(_column(c) for c in query.group_by)
    return ast.Query(where, group_by, order_by)


def _rename(node: Any) -> Any:
    if isinstance(node, ast.Column):
        return _column(node)
    if isinstance(node, ast.Literal | str | int | float | bool) or node is None:
        return node
    if isinstance(node, tuple):
        return tuple(_rename(item) for item in node)
    changes = {f.name: _rename(getattr(node, f.name)) for f in dataclasses.fields(node)}
    left = getattr(node, "left", None)
    if isinstance(left, ast.Column) and left.name == "OperationId":
        for name in ("right", "values", "low", "high", "prefix"):
            if name in changes:
                changes[name] = _prefixed(changes[name])
    return dataclasses.replace(node, **changes)


def _column(column: ast.Column) -> ast.Column:
    return dataclasses.replace(column, name=_COLUMNS.get(column.name, column.name))


def _prefixed(operand: Any) -> Any:
    if isinstance(operand, tuple):
        return tuple(_prefixed(o) for o in operand)
    if isinstance(operand, ast.Literal) and isinstance(operand.value, str):
        return dataclasses.replace(operand, value=standalone.workflow_id_of(operand.value))
    return operand


def list_info(record: VisibilityRecord) -> NexusOperationExecutionListInfo:
    search_attributes = SearchAttributes.FromString(record.search_attributes)
    del search_attributes.indexed_fields[standalone.DIVISION_ATTRIBUTE]
    service = Memo.FromString(record.memo).fields["service"].data
    info = NexusOperationExecutionListInfo(
        operation_id=record.key.workflow_id.removeprefix(standalone.PREFIX),
        run_id=record.key.run_id,
        endpoint=record.task_queue,
        service=json.loads(service) if service else "",
        operation=record.workflow_type,
        status=OPERATION_STATUS[record.status],
        search_attributes=search_attributes,
        state_transition_count=record.state_transition_count,
    )
    info.schedule_time.CopyFrom(codec.timestamp(record.start_time))
    if record.close_time is not None:
        info.close_time.CopyFrom(codec.timestamp(record.close_time))
        info.execution_duration.FromTimedelta(record.close_time - record.start_time)
    return info
