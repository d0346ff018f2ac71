"""List filters over the executions of one namespace division (standalone activities,
standalone Nexus operations): the workflow list language, with the list's own names for some
columns and its ids written without the prefix their executions' workflow ids carry, confined
to that division."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from clepsydra.visibility import ast
from clepsydra.visibility.compiler import DIVISION


@dataclasses.dataclass(frozen=True)
class DividedList:
    division: str
    # The list's name of a column → the visibility table's.
    columns: Mapping[str, str]
    # The list's id column, whose values are workflow ids without `prefix`.
    id_column: str
    prefix: str

    def query(self, query: ast.Query) -> ast.Query:
        """The query over the visibility table that the list filter `query` means."""
        division = ast.Compare(ast.Column(DIVISION, 0), "=", ast.Literal(self.division, 0))
        where = division if query.where is None else ast.And(division, self._rename(query.where))
        order_by = tuple(dataclasses.replace(o, column=self._column(o.column)) for o in query.order_by)
        group_by = tuple(self._column(c) for c in query.group_by)
        return ast.Query(where, group_by, order_by)

    def _rename(self, node: Any) -> Any:
        if isinstance(node, ast.Column):
            return self._column(node)
        if isinstance(node, ast.Literal | str | int | float | bool) or node is None:
            return node
        if isinstance(node, tuple):
            return tuple(self._rename(item) for item in node)
        changes = {f.name: self._rename(getattr(node, f.name)) for f in dataclasses.fields(node)}
        left = getattr(node, "left", None)
        if isinstance(left, ast.Column) and left.name == self.id_column:
            for name in ("right", "values", "low", "high", "prefix"):
                if name in changes:
                    changes[name] = self._prefixed(changes[name])
        return dataclasses.replace(node, **changes)

    def _column(self, column: ast.Column) -> ast.Column:
        return dataclasses.replace(column, name=self.columns.get(column.name, column.name))

    def _prefixed(self, operand: Any) -> Any:
        if isinstance(operand, tuple):
            return tuple(self._prefixed(o) for o in operand)
        if isinstance(operand, ast.Literal) and isinstance(operand.value, str):
            return dataclasses.replace(operand, value=self.prefix + operand.value)
        return operand
