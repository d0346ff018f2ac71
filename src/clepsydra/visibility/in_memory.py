"""A parsed list filter evaluated over records held in memory (the worker registry's), rather
than compiled to SQL. Each record is a mapping from column name to its text, or to its time
in microseconds since the epoch; an empty text or a missing time is NULL.

As the reference's in-memory filters do: text columns take `=`, `!=`, `IN`, `STARTS_WITH`
and `IS [NOT] NULL`; time columns also `<`, `<=`, `>`, `>=` and `BETWEEN`, their values
in RFC 3339. A column the records do not have matches nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from clepsydra.visibility import ast
from clepsydra.visibility.query import QueryError
from clepsydra.visibility.values import parse_datetime

Value = str | int | None
_ORDER: dict[str, Callable[[int, int], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def matches(where: ast.Expr | None, record: Mapping[str, Value]) -> bool:
    """Whether `record` satisfies the condition (no condition: every record does)."""
    if where is None:
        return True
    if isinstance(where, ast.And):
        return matches(where.left, record) and matches(where.right, record)
    if isinstance(where, ast.Or):
        return matches(where.left, record) or matches(where.right, record)
    if isinstance(where, ast.Not):
        return not matches(where.operand, record)
    if isinstance(where, ast.Unsupported):
        raise QueryError(f"operation is not supported: {where.what}")
    column = _column(where.left)
    if column not in record:
        return False
    value = record[column]
    if isinstance(where, ast.IsNull):
        return (value is None or value == "") != where.negated
    if value is None or value == "":
        return False  # as in SQL, NULL satisfies no comparison, nor its negation
    if isinstance(value, int):
        return _time_matches(where, value)
    return _text_matches(where, column, value)


def _time_matches(where: ast.Expr, value: int) -> bool:
    if isinstance(where, ast.Compare):
        return bool(_ORDER[where.op](value, _time(where.right)))
    if isinstance(where, ast.In):
        return (value in [_time(v) for v in where.values]) != where.negated
    if isinstance(where, ast.Between):
        return (_time(where.low) <= value <= _time(where.high)) != where.negated
    raise QueryError("operation is not supported: STARTS_WITH on a time")


def _text_matches(where: ast.Expr, column: str, value: str) -> bool:
    if isinstance(where, ast.Compare):
        if where.op not in ("=", "!="):
            raise QueryError(f"operation is not supported: operator '{where.op}' on {column}")
        return (value == _text(where.right)) == (where.op == "=")
    if isinstance(where, ast.In):
        return (value in [_text(v) for v in where.values]) != where.negated
    if isinstance(where, ast.StartsWith):
        return value.startswith(_text(where.prefix)) != where.negated
    raise QueryError(f"operation is not supported: BETWEEN on {column}")


def _column(operand: ast.Operand) -> str:
    if isinstance(operand, ast.Literal):
        raise QueryError(f"invalid expression: must be a column name but was the value {operand.value!r}")
    return operand.name


def _text(operand: ast.Operand) -> str:
    if not isinstance(operand, ast.Literal):
        raise QueryError("invalid expression: a value must follow the operator")
    return str(operand.value)


def _time(operand: ast.Operand) -> int:
    micros = parse_datetime(_text(operand))
    if micros is None:
        raise QueryError(f"invalid time: {_text(operand)!r}")
    return micros
