"""Compile a parsed list filter into a parameterised SQL condition over the visibility table.

Every literal becomes a `?` parameter; only column names and operators from this
module's own tables are written into the SQL text. The semantics are the reference
server's on SQLite:
- comparisons follow SQL's three-valued logic, so `X != 'a'` and `NOT X = 'a'` leave
  out runs where X is not set;
- Text matches whole words, case-insensitively: `T = 'a b'` holds if T has the word
  `a` or the word `b`; a term with punctuation (`'a-b'`) must appear as that phrase;
  `!=` is its negation and so includes runs without the attribute;
- KeywordList `=` means "contains"; `!=` means "does not contain" (unset included);
- STARTS_WITH is SQL LIKE with the prefix escaped: ASCII case-insensitive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from temporalio.api.enums.v1 import WorkflowExecutionStatus

from clepsydra.visibility import ast
from clepsydra.visibility.attributes import Attribute, AttrType, Schema, Storage
from clepsydra.visibility.query import QueryError, parse
from clepsydra.visibility.values import parse_datetime, parse_duration, tokenize

_RANGE_OPS = {">", ">=", "<", "<="}
_NOT_ORDERABLE = {AttrType.TEXT, AttrType.KEYWORD_LIST}
# 'Running' → 1, ...: the names the reference accepts for ExecutionStatus.
STATUS_NAMES: dict[str, int] = {
    "".join(part.capitalize() for part in name.removeprefix("WORKFLOW_EXECUTION_STATUS_").split("_")): value
    for name, value in WorkflowExecutionStatus.items()
}
DIVISION = "TemporalNamespaceDivision"


@dataclass
class Compiled:
    where: str = "1"
    params: list[Any] = field(default_factory=list)
    # (SQL expression, descending) for ORDER BY; empty: the default order.
    order_by: list[tuple[str, bool]] = field(default_factory=list)
    group_by_status: bool = False
    # Whether the query names TemporalNamespaceDivision; if not, divided runs are left out.
    mentions_division: bool = False


def compile_query(text: str, schema: Schema, *, counting: bool = False) -> Compiled:
    """Raises QueryError if the query is malformed or does not fit the schema."""
    return compile_ast(parse(text), schema, counting=counting)


def compile_ast(query: ast.Query, schema: Schema, *, counting: bool = False) -> Compiled:
    compiler = _Compiler(schema)
    out = Compiled()
    if query.where is not None:
        out.where = compiler.expr(query.where)
        out.params = compiler.params
    out.mentions_division = compiler.mentions_division
    if counting:
        out.group_by_status = _group_by(query.group_by, schema)
    else:
        out.order_by = [compiler.order_item(item) for item in query.order_by]
    return out


def _group_by(columns: tuple[ast.Column, ...], schema: Schema) -> bool:
    if not columns:
        return False
    if len(columns) > 1:
        raise QueryError("operation is not supported: 'GROUP BY' clause supports only a single field")
    name = columns[0].name
    if schema.get(name) is None:
        raise QueryError(f"invalid search attribute: {name}")
    if name != "ExecutionStatus":
        raise QueryError(
            f"operation is not supported: 'GROUP BY' clause is not supported for search attribute {name}"
        )
    return True


class _Compiler:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.params: list[Any] = []
        self.mentions_division = False

    # -- structure ----------------------------------------------------------------------------

    def expr(self, node: ast.Expr) -> str:
        if isinstance(node, ast.And):
            return f"({self.expr(node.left)} AND {self.expr(node.right)})"
        if isinstance(node, ast.Or):
            return f"({self.expr(node.left)} OR {self.expr(node.right)})"
        if isinstance(node, ast.Not):
            return f"(NOT {self.expr(node.operand)})"
        if isinstance(node, ast.Unsupported):
            attribute = self.attribute(node.left)
            if node.what == "incomplete expression":
                raise QueryError("invalid expression: incomplete expression")
            raise QueryError(_not_supported(node.what, attribute))
        attribute = self.attribute(node.left)
        if isinstance(node, ast.IsNull):
            return f"({self.scalar(attribute)} IS {'NOT ' if node.negated else ''}NULL)"
        if isinstance(node, ast.Compare):
            return self.compare(attribute, node.op, node.right)
        if isinstance(node, ast.In):
            return self.in_(attribute, node)
        if isinstance(node, ast.Between):
            return self.between(attribute, node)
        return self.starts_with(attribute, node)

    def attribute(self, operand: ast.Operand) -> Attribute:
        if isinstance(operand, ast.Literal):
            raise QueryError(
                f"invalid expression: must be a column name but was the value {_show(operand.value)}"
                f" (at position {operand.position})"
            )
        attribute = self.schema.get(operand.name)
        if attribute is None:
            raise QueryError(f"invalid search attribute: {operand.name}")
        if operand.name == DIVISION:
            self.mentions_division = True
        return attribute

    def order_item(self, item: ast.OrderBy) -> tuple[str, bool]:
        attribute = self.attribute(item.column)
        if attribute.type in _NOT_ORDERABLE:
            raise QueryError(
                f"operation is not supported: cannot ORDER BY search attribute "
                f"'{attribute.name}' of type {attribute.type.value}"
            )
        return self.scalar(attribute), item.descending

    # -- predicates ---------------------------------------------------------------------------

    def compare(self, a: Attribute, op: str, right: ast.Operand) -> str:
        if a.type is AttrType.TEXT:
            if op not in ("=", "!="):
                raise QueryError(_not_supported(f"operator '{op}'", a))
            return self.text_match(a, self.value(a, right), negated=op == "!=")
        if a.type is AttrType.KEYWORD_LIST:
            if op not in ("=", "!="):
                raise QueryError(_not_supported(f"operator '{op}'", a))
            return self.list_contains(a, [self.value(a, right)], negated=op == "!=")
        return f"({self.scalar(a)} {op} {self.param(self.value(a, right))})"

    def in_(self, a: Attribute, node: ast.In) -> str:
        if a.type is AttrType.TEXT:
            raise QueryError(_not_supported("operator 'IN'", a))
        values = [self.value(a, v) for v in node.values]
        if a.type is AttrType.KEYWORD_LIST:
            return self.list_contains(a, values, negated=node.negated)
        placeholders = ", ".join(self.param(v) for v in values)
        return f"({self.scalar(a)} {'NOT ' if node.negated else ''}IN ({placeholders}))"

    def between(self, a: Attribute, node: ast.Between) -> str:
        if a.type in _NOT_ORDERABLE:
            raise QueryError(
                f"invalid expression: cannot do range condition on search attribute "
                f"'{a.name}' of type {a.type.value}"
            )
        low, high = self.param(self.value(a, node.low)), self.param(self.value(a, node.high))
        return f"({self.scalar(a)} {'NOT ' if node.negated else ''}BETWEEN {low} AND {high})"

    def starts_with(self, a: Attribute, node: ast.StartsWith) -> str:
        if a.type is not AttrType.KEYWORD or a.name == "ExecutionStatus":
            raise QueryError(_not_supported("operator 'STARTS_WITH'", a))
        prefix = self.value(a, node.prefix)
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        negation = "NOT " if node.negated else ""
        return f"({self.scalar(a)} {negation}LIKE {self.param(pattern)} ESCAPE '\\')"

    def text_match(self, a: Attribute, text: str, negated: bool) -> str:
        """Any whitespace-separated term of `text` appears in the value as a phrase of words."""
        terms = text.split()
        if not terms:
            raise QueryError(
                f"invalid expression: no tokens found filtering on Text type search attribute {a.name}"
            )
        tests = []
        for term in terms:
            words = tokenize(term)
            if words:
                tests.append(f"instr({self.scalar(a)}, {self.param(' ' + ' '.join(words) + ' ')}) > 0")
        matched = f"COALESCE({' OR '.join(tests)}, 0)" if tests else "0"
        return f"(NOT {matched})" if negated else f"({matched})"

    def list_contains(self, a: Attribute, values: list[str], negated: bool) -> str:
        placeholders = ", ".join(self.param(v) for v in values)
        exists = f"EXISTS (SELECT 1 FROM {self.elements(a)} WHERE value IN ({placeholders}))"
        return f"(NOT {exists})" if negated else f"({exists})"

    # -- columns and values -------------------------------------------------------------------

    def scalar(self, a: Attribute) -> str:
        if a.storage is Storage.COLUMN:
            return a.column
        return f"json_extract(predefined, '$.\"{a.column}\"')"

    def elements(self, a: Attribute) -> str:
        if a.storage is Storage.COLUMN:
            return f"json_each({a.column})"
        return f"json_each(predefined, '$.\"{a.column}\"')"

    def param(self, value: Any) -> str:
        self.params.append(value)
        return "?"

    def value(self, a: Attribute, operand: ast.Operand) -> Any:
        """The literal converted to what the attribute's column holds."""
        if isinstance(operand, ast.Column):
            raise QueryError(
                "operation is not supported: column name on the right side of comparison expression"
                f' (did you forget to quote "{operand.name}"?)'
            )
        v = operand.value
        if v is None:
            raise QueryError(
                f"invalid expression: unexpected NULL value for search attribute {a.name} (use IS NULL)"
            )
        if a.name == "ExecutionStatus":
            return _status(v)
        if a.name == "ExecutionDuration" and not isinstance(v, bool):
            return _duration(v)
        t = a.type
        if t in (AttrType.KEYWORD, AttrType.TEXT, AttrType.KEYWORD_LIST) and isinstance(v, str):
            return v
        if t is AttrType.INT and isinstance(v, int | float) and not isinstance(v, bool):
            return _fit_int64(v)
        if t is AttrType.DOUBLE and isinstance(v, int | float) and not isinstance(v, bool):
            return float(v)
        if t is AttrType.BOOL and isinstance(v, bool):
            return 1 if v else 0
        if t is AttrType.DATETIME and isinstance(v, str):
            micros = parse_datetime(v)
            if micros is None:
                raise QueryError(f"invalid expression: unable to parse datetime '{v}'")
            return micros
        if t is AttrType.DATETIME and isinstance(v, int) and not isinstance(v, bool):
            return _fit_int64(v // 1000)  # nanoseconds since the epoch
        raise QueryError(
            f"invalid expression: invalid value type for search attribute {a.name} of type "
            f"{t.value}: {_show(v)} (type: {_go_type(v)})"
        )


def _fit_int64(v: int | float) -> int | float:
    """SQLite integers are 64-bit; a larger literal still compares, as a real."""
    if isinstance(v, int) and not -(2**63) <= v < 2**63:
        return float(v)
    return v


def _status(v: Any) -> int:
    if isinstance(v, str) and v in STATUS_NAMES:
        return STATUS_NAMES[v]
    if isinstance(v, int) and not isinstance(v, bool) and v in STATUS_NAMES.values():
        return v
    shown = f"'{v}'" if isinstance(v, str) else _show(v)
    raise QueryError(f"invalid expression: invalid ExecutionStatus value {shown}")


def _duration(v: Any) -> int | float:
    if isinstance(v, int):
        return _fit_int64(v)
    if isinstance(v, float):
        raise QueryError(
            "invalid expression: unexpected value type float64 for search attribute ExecutionDuration"
        )
    nanos = parse_duration(v)
    if nanos is None or not -(2**63) <= nanos < 2**63:  # Go's durations are 64-bit nanoseconds
        raise QueryError(
            f"invalid expression: invalid duration value for search attribute ExecutionDuration: {v}"
        )
    return nanos


def _not_supported(what: str, a: Attribute) -> str:
    return (
        f"operation is not supported: {what} not supported for {a.type.value} type"
        f" search attribute '{a.name}'"
    )


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    return str(v)


def _go_type(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "float64"
    return "string"
