"""PostgreSQL text for a list filter that `visibility/compiler.py` wrote in SQLite's dialect.

The compiler writes a small, fixed vocabulary (its own column names, operators, `?`
parameters and a handful of SQLite functions) and every literal is a parameter, so a
token-level rewrite is enough and keeps one compiler for both stores:

- `?` becomes `$n` with an explicit cast from the parameter's Python type, since
  PostgreSQL, unlike SQLite, will not compare an integer column with a text parameter
  (and asyncpg needs to know each parameter's type);
- `json_extract(predefined, '$."X"')` becomes `predefined ->> 'X'` cast to X's type, and
  `json_each(...)` becomes `jsonb_array_elements_text(...)` (its column is also `value`);
- `instr` becomes `strpos`; `LIKE` becomes `ILIKE`, as SQLite's LIKE ignores ASCII case
  (on the bytewise "C" collation PostgreSQL folds ASCII letters only, the same);
- SQLite's integer truth values (`1`, `COALESCE(..., 0)`) become `true`/`false`;
- ORDER BY says where NULLs go: first when ascending, last when descending, as in SQLite.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from clepsydra.visibility.attributes import PREDEFINED, AttrType
from clepsydra.visibility.compiler import Compiled

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<param>\?)|(?P<name>[A-Za-z_][A-Za-z_0-9]*)"
    r"|(?P<number>\d+(?:\.\d+)?)|(?P<op>!=|<>|<=|>=|[=<>(),.*+-]))"
)
_JSON_KEY = re.compile(r"""'\$\."(?P<key>[^"]+)"'""")
_COMPARISON = {"=", "!=", "<>", "<", "<=", ">", ">="}
_CASTS = {AttrType.INT: "bigint", AttrType.DATETIME: "bigint", AttrType.BOOL: "integer"}
_CASTS[AttrType.DOUBLE] = "double precision"


class DialectError(ValueError):
    """The compiler wrote something this module does not know how to translate."""


@dataclass
class PostgresQuery:
    where: str
    params: list[Any]
    order_by: str  # "" for the default order


def translate(compiled: Compiled, first_param: int) -> PostgresQuery:
    """The compiled query in PostgreSQL's dialect, its parameters numbered from `first_param`."""
    params: list[Any] = []
    where = _Rewriter(compiled.params, params, first_param).rewrite(compiled.where)
    items = []
    for sql, descending in compiled.order_by:
        expression = _Rewriter([], params, first_param).rewrite(sql)
        items.append(f"{expression} {'DESC NULLS LAST' if descending else 'ASC NULLS FIRST'}")
    return PostgresQuery(where, params, ", ".join(items))


def _cast(value: Any) -> str:
    if isinstance(value, bool):
        return "integer"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, float):
        return "double precision"
    if isinstance(value, str):
        return "text"
    raise DialectError(f"unexpected query parameter {value!r}")


def _json_key(literal: str) -> str:
    match = _JSON_KEY.fullmatch(literal)
    if match is None:
        raise DialectError(f"unexpected JSON path {literal}")
    return match.group("key")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _predefined_scalar(key: str) -> str:
    attribute = PREDEFINED.get(key)
    if attribute is None:
        raise DialectError(f"unknown predefined search attribute {key}")
    if attribute.type is AttrType.KEYWORD_LIST:
        return f"(predefined -> {_quote(key)})"
    if attribute.type in _CASTS:
        return f"((predefined ->> {_quote(key)})::{_CASTS[attribute.type]})"
    return f'((predefined ->> {_quote(key)}) COLLATE "C")'


class _Rewriter:
    def __init__(self, source_params: list[Any], out_params: list[Any], first_param: int) -> None:
        self.source = iter(source_params)
        self.out = out_params
        self.first = first_param

    def rewrite(self, sql: str) -> str:
        tokens = _tokens(sql)
        out: list[str] = []
        i = 0
        while i < len(tokens):
            kind, text = tokens[i]
            lowered = text.lower()
            if kind == "param":
                value = next(self.source)
                self.out.append(value)
                out.append(f"${self.first + len(self.out) - 1}::{_cast(value)}")
            elif kind == "name" and lowered in ("json_extract", "json_each"):
                arguments, i = _call_arguments(tokens, i)
                out.append(self._json_call(lowered, arguments))
                continue
            elif kind == "name" and lowered == "instr":
                out.append("strpos")
            elif kind == "name" and lowered == "like":
                out.append("ILIKE")
            elif kind == "number" and text in ("0", "1") and _is_truth_value(tokens, i):
                out.append("true" if text == "1" else "false")
            else:
                out.append(text)
            i += 1
        return " ".join(out).replace("( ", "(").replace(" )", ")").replace(" ,", ",")

    def _json_call(self, function: str, arguments: list[str]) -> str:
        if function == "json_extract":
            if len(arguments) != 2 or arguments[0].lower() != "predefined":
                raise DialectError(f"unexpected json_extract({', '.join(arguments)})")
            return _predefined_scalar(_json_key(arguments[1]))
        if len(arguments) == 1:
            return f"jsonb_array_elements_text({arguments[0]})"
        if len(arguments) == 2 and arguments[0].lower() == "predefined":
            return f"jsonb_array_elements_text(predefined -> {_quote(_json_key(arguments[1]))})"
        raise DialectError(f"unexpected json_each({', '.join(arguments)})")


def _tokens(sql: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    sql = sql.rstrip()
    while position < len(sql):
        match = _TOKEN.match(sql, position)
        if match is None or match.end() == position:
            raise DialectError(f"cannot read the query SQL at {sql[position:]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _call_arguments(tokens: list[tuple[str, str]], i: int) -> tuple[list[str], int]:
    """The plain arguments (names, strings) of the call at tokens[i]; the index after it."""
    if i + 1 >= len(tokens) or tokens[i + 1][1] != "(":
        raise DialectError(f"{tokens[i][1]} is not called")
    arguments: list[str] = []
    j = i + 2
    while j < len(tokens) and tokens[j][1] != ")":
        kind, text = tokens[j]
        if kind not in ("name", "string"):
            raise DialectError(f"unexpected argument {text!r} of {tokens[i][1]}")
        arguments.append(text)
        j += 1
        if j < len(tokens) and tokens[j][1] == ",":
            j += 1
    return arguments, j + 1


def _is_truth_value(tokens: list[tuple[str, str]], i: int) -> bool:
    """Whether a 0 or 1 stands for a boolean (SQLite has none) rather than a number."""
    before = tokens[i - 1][1].upper() if i > 0 else "("
    after = tokens[i + 1][1].upper() if i + 1 < len(tokens) else ")"
    return before in ("(", ",", "NOT", "AND", "OR") and after in (")", "AND", "OR")
