"""The parsed form of a list filter: a tree of conditions, plus GROUP BY and ORDER BY."""

from __future__ import annotations

from dataclasses import dataclass, field

# A literal as written: text, a number, true/false, or NULL (None).
Value = str | int | float | bool | None


@dataclass(frozen=True)
class Column:
    """An attribute name; also what a column on the wrong side of an operator parses to."""

    name: str
    position: int  # 1-based column in the query text, for messages


@dataclass(frozen=True)
class Literal:
    value: Value
    position: int


Operand = Column | Literal


@dataclass(frozen=True)
class Compare:
    left: Operand
    op: str  # one of = != > >= < <=
    right: Operand


@dataclass(frozen=True)
class In:
    left: Operand
    values: tuple[Operand, ...]
    negated: bool = False


@dataclass(frozen=True)
class Between:
    left: Operand
    low: Operand
    high: Operand
    negated: bool = False


@dataclass(frozen=True)
class StartsWith:
    left: Operand
    prefix: Operand
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    left: Operand
    negated: bool = False


@dataclass(frozen=True)
class Unsupported:
    """A construct the grammar knows only to reject it clearly (LIKE, a bare column)."""

    left: Operand
    what: str


@dataclass(frozen=True)
class And:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Or:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not:
    operand: Expr


Expr = Compare | In | Between | StartsWith | IsNull | Unsupported | And | Or | Not


@dataclass(frozen=True)
class OrderBy:
    column: Column
    descending: bool


@dataclass(frozen=True)
class Query:
    where: Expr | None = None
    group_by: tuple[Column, ...] = field(default_factory=tuple)
    order_by: tuple[OrderBy, ...] = field(default_factory=tuple)
