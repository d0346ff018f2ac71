"""A straightforward in-Python evaluation of list filters, to check the SQL the compiler
writes against: SQL's three-valued logic spelled out, one operator at a time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from clepsydra.visibility.values import tokenize

Truth = bool | None  # None: SQL's unknown


@dataclass
class Run:
    run_id: str
    workflow_id: str
    workflow_type: str
    status: int
    start_micros: int
    close_micros: int | None
    # Attribute name → value (Datetime as microseconds, KeywordList as a list); absent: not set.
    attributes: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        system = {
            "WorkflowId": self.workflow_id,
            "RunId": self.run_id,
            "WorkflowType": self.workflow_type,
            "ExecutionStatus": self.status,
            "StartTime": self.start_micros,
            "CloseTime": self.close_micros,
        }
        if name in system:
            return system[name]
        value = self.attributes.get(name)
        return None if value == [] else value


# -- predicates: (kind, attribute, operator, operand) trees -------------------------------------


def evaluate(node: tuple[Any, ...], run: Run, types: dict[str, str]) -> Truth:
    kind = node[0]
    if kind == "and":
        return _and(evaluate(node[1], run, types), evaluate(node[2], run, types))
    if kind == "or":
        return _or(evaluate(node[1], run, types), evaluate(node[2], run, types))
    if kind == "not":
        inner = evaluate(node[1], run, types)
        return None if inner is None else not inner
    _, name, op, operand = node
    value = run.get(name)
    type_ = types[name]
    if op == "IS NULL":
        return value is None
    if op == "IS NOT NULL":
        return value is not None
    if type_ == "Text":
        matched = value is not None and _text_matches(value, operand)
        return matched if op == "=" else not matched
    if type_ == "KeywordList":
        wanted = operand if isinstance(operand, list) else [operand]
        contains = value is not None and any(v in value for v in wanted)
        return contains if op in ("=", "IN") else not contains
    if value is None:
        return None
    if op == "IN":
        return value in operand
    if op == "NOT IN":
        return value not in operand
    if op == "BETWEEN":
        return operand[0] <= value <= operand[1]
    if op == "NOT BETWEEN":
        return not operand[0] <= value <= operand[1]
    if op in ("STARTS_WITH", "NOT STARTS_WITH"):
        starts = _ascii_lower(value).startswith(_ascii_lower(operand))
        return starts if op == "STARTS_WITH" else not starts
    return {
        "=": value == operand,
        "!=": value != operand,
        "<": value < operand,
        "<=": value <= operand,
        ">": value > operand,
        ">=": value >= operand,
    }[op]


def _and(a: Truth, b: Truth) -> Truth:
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def _or(a: Truth, b: Truth) -> Truth:
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def _text_matches(text: str, query: str) -> bool:
    """Any whitespace-separated term's words appear consecutively among the text's words."""
    words = tokenize(text)
    for term in query.split():
        phrase = tokenize(term)
        if phrase and any(words[i : i + len(phrase)] == phrase for i in range(len(words))):
            return True
    return False


def _ascii_lower(text: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in text)


def default_order(runs: list[Run]) -> list[Run]:
    """Open runs first (newest start first), then closed ones (last closed first)."""
    never = 2**63 - 1
    return sorted(
        runs,
        key=lambda r: (r.close_micros if r.close_micros is not None else never, r.start_micros, r.run_id),
        reverse=True,
    )


def sort_by(runs: list[Run], name: str, descending: bool) -> list[Run]:
    """SQLite's ORDER BY: NULLs first ascending, last descending; ties by run id."""
    by_run = sorted(runs, key=lambda r: r.run_id)
    with_value = [r for r in by_run if r.get(name) is not None]
    without = [r for r in by_run if r.get(name) is None]
    ordered = sorted(with_value, key=lambda r: r.get(name), reverse=descending)
    return ordered + without if descending else without + ordered


def render_value(value: Any, type_: str) -> str:
    if type_ == "Datetime":  # RFC 3339, in another time zone than UTC for good measure
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)
        return "'" + moment.astimezone(timezone(timedelta(hours=2))).isoformat() + "'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)
