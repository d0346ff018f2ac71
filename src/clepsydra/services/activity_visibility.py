"""List filters over standalone activities: the workflow list language with the activity's
names for its columns (`ActivityId`, `ActivityType`), confined to activity executions."""

from __future__ import annotations

import dataclasses
from typing import Any

from temporalio.api.activity.v1 import ActivityExecutionListInfo
from temporalio.api.common.v1 import ActivityType, SearchAttributes

from clepsydra.engine import codec
from clepsydra.engine import standalone_activities as standalone
from clepsydra.services.standalone_activities import ACTIVITY_STATUS
from clepsydra.store.base import VisibilityRecord
from clepsydra.visibility import ast
from clepsydra.visibility.compiler import DIVISION

# The activity's name of a column → the workflow list's.
_COLUMNS = {"ActivityId": "WorkflowId", "ActivityType": "WorkflowType"}
_IN_DIVISION = ast.Compare(ast.Column(DIVISION, 0), "=", ast.Literal(standalone.DIVISION, 0))


def activity_query(query: ast.Query) -> ast.Query:
    """The query over the visibility table that the activity list filter `query` means."""
    where = _IN_DIVISION if query.where is None else ast.And(_IN_DIVISION, _rename(query.where))
    order_by = tuple(dataclasses.replace(o, column=_column(o.column)) for o in query.order_by)
    group_by = tuple(_column(c) for c in query.group_by)
    return ast.Query(where, group_by, order_by)


def _rename(node: Any) -> Any:
    """The same condition with activity column names (and activity ids) in the table's terms."""
    if isinstance(node, ast.Column):
        return _column(node)
    if isinstance(node, ast.Literal | str | int | float | bool) or node is None:
        return node
    if isinstance(node, tuple):
        return tuple(_rename(item) for item in node)
    changes = {f.name: _rename(getattr(node, f.name)) for f in dataclasses.fields(node)}
    left = getattr(node, "left", None)
    if isinstance(left, ast.Column) and left.name == "ActivityId":
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


def list_info(record: VisibilityRecord) -> ActivityExecutionListInfo:
    search_attributes = SearchAttributes.FromString(record.search_attributes)
    del search_attributes.indexed_fields[standalone.DIVISION_ATTRIBUTE]
    info = ActivityExecutionListInfo(
        activity_id=record.key.workflow_id.removeprefix(standalone.PREFIX),
        run_id=record.key.run_id,
        activity_type=ActivityType(name=record.workflow_type),
        status=ACTIVITY_STATUS[record.status],
        search_attributes=search_attributes,
        task_queue=record.task_queue,
        state_transition_count=record.state_transition_count,
    )
    info.schedule_time.CopyFrom(codec.timestamp(record.start_time))
    info.execution_time.CopyFrom(codec.timestamp(record.execution_time))
    if record.close_time is not None:
        info.close_time.CopyFrom(codec.timestamp(record.close_time))
        info.execution_duration.FromTimedelta(record.close_time - record.execution_time)
    return info
