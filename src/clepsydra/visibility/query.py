"""Parse a list filter ("WorkflowType = 'x' AND StartTime > '...' ORDER BY StartTime") into `ast`.

The grammar (grammar.lark) is parsed by lark's LALR parser, built once. Syntax errors
say where: "syntax error at position 12 near 'AND'".
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any, cast

from lark import Lark, Token, Transformer, exceptions

from clepsydra.visibility import ast


class QueryError(ValueError):
    """A query that cannot be run; the message says what is wrong (and where)."""


def parse(text: str) -> ast.Query:
    if not text.strip():
        return ast.Query()
    try:
        tree = _parser().parse(text)
    except exceptions.UnexpectedInput as error:
        raise QueryError(_syntax_message(text, error)) from None
    except exceptions.VisitError as error:
        if isinstance(error.orig_exc, QueryError):
            raise error.orig_exc from None
        raise
    assert isinstance(tree, ast.Query)
    return tree


def _syntax_message(text: str, error: exceptions.UnexpectedInput) -> str:
    if isinstance(error, exceptions.UnexpectedEOF) or (
        isinstance(error, exceptions.UnexpectedToken) and error.token.type == "$END"
    ):
        return f"malformed SQL query: syntax error at position {len(text) + 1}: unexpected end of query"
    position = error.pos_in_stream + 1 if error.pos_in_stream is not None else 0
    if isinstance(error, exceptions.UnexpectedToken):
        near = str(error.token)
    else:
        # lark declares pos_in_stream as always None; UnexpectedCharacters sets an int.
        start = cast(int, error.pos_in_stream)
        near = text[start : start + 10]
    return f"malformed SQL query: syntax error at position {position} near '{near}'"


@cache
def _parser() -> Lark:
    grammar = resources.files(__package__).joinpath("grammar.lark").read_text()
    return Lark(grammar, parser="lalr", transformer=_ToAst(), maybe_placeholders=False)


def _position(token: Token) -> int:
    return (token.start_pos or 0) + 1


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b", "Z": "\x1a"}


def _unquote(token: Token) -> str:
    """A SQL string literal's value: doubled quotes and backslash escapes resolved."""
    quote, body = token[0], token[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
        elif char == quote and body[i + 1 : i + 2] == quote:
            out.append(quote)
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _number(token: Token) -> int | float:
    text = str(token)
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)


class _ToAst(Transformer[Token, ast.Query]):
    """Builds `ast` nodes bottom-up as the LALR parser reduces.

    lark passes a rule its children as a list; where they mix tokens and nodes it is `list[Any]`,
    and the grammar fixes what sits at each position.
    """

    # operands
    def name(self, children: list[Token]) -> ast.Column:
        return ast.Column(str(children[0]), _position(children[0]))

    def quoted_name(self, children: list[Token]) -> ast.Column:
        return ast.Column(str(children[0])[1:-1], _position(children[0]))

    def string(self, children: list[Token]) -> ast.Literal:
        return ast.Literal(_unquote(children[0]), _position(children[0]))

    def number(self, children: list[Token]) -> ast.Literal:
        return ast.Literal(_number(children[0]), _position(children[0]))

    def true(self, children: list[Token]) -> ast.Literal:
        return ast.Literal(True, _position(children[0]))

    def false(self, children: list[Token]) -> ast.Literal:
        return ast.Literal(False, _position(children[0]))

    def null(self, children: list[Token]) -> ast.Literal:
        return ast.Literal(None, 0)

    # predicates
    def compare(self, c: list[Any]) -> ast.Compare:
        op = "!=" if str(c[1]) == "<>" else str(c[1])
        return ast.Compare(c[0], op, c[2])

    def values(self, c: list[ast.Operand]) -> tuple[ast.Operand, ...]:
        return tuple(c)

    def in_(self, c: list[Any]) -> ast.In:
        return ast.In(c[0], c[1])

    def not_in(self, c: list[Any]) -> ast.In:
        return ast.In(c[0], c[1], negated=True)

    def between(self, c: list[ast.Operand]) -> ast.Between:
        return ast.Between(c[0], c[1], c[2])

    def not_between(self, c: list[ast.Operand]) -> ast.Between:
        return ast.Between(c[0], c[1], c[2], negated=True)

    def starts_with(self, c: list[ast.Operand]) -> ast.StartsWith:
        return ast.StartsWith(c[0], c[1])

    def not_starts_with(self, c: list[ast.Operand]) -> ast.StartsWith:
        return ast.StartsWith(c[0], c[1], negated=True)

    def is_null(self, c: list[ast.Operand]) -> ast.IsNull:
        return ast.IsNull(c[0])

    def is_not_null(self, c: list[ast.Operand]) -> ast.IsNull:
        return ast.IsNull(c[0], negated=True)

    def like(self, c: list[Any]) -> ast.Unsupported:
        return ast.Unsupported(c[0], "operator 'LIKE'")

    def bare(self, c: list[ast.Operand]) -> ast.Unsupported:
        return ast.Unsupported(c[0], "incomplete expression")

    # boolean structure
    def and_(self, c: list[ast.Expr]) -> ast.And:
        return ast.And(c[0], c[1])

    def or_(self, c: list[ast.Expr]) -> ast.Or:
        return ast.Or(c[0], c[1])

    def not_(self, c: list[ast.Expr]) -> ast.Not:
        return ast.Not(c[0])

    # clauses
    def group_by(self, c: list[ast.Column]) -> tuple[str, tuple[ast.Column, ...]]:
        return ("group", tuple(c))

    def order_item(self, c: list[Any]) -> ast.OrderBy:
        descending = len(c) > 1 and str(c[1]).upper() == "DESC"
        return ast.OrderBy(c[0], descending)

    def order_by(self, c: list[ast.OrderBy]) -> tuple[str, tuple[ast.OrderBy, ...]]:
        return ("order", tuple(c))

    def limit(self, c: list[Token]) -> None:
        raise QueryError("operation is not supported: 'LIMIT' clause")

    def start(self, c: list[Any]) -> ast.Query:
        where, group_by, order_by = None, (), ()
        for child in c:
            if isinstance(child, tuple) and child and child[0] == "group":
                group_by = child[1]
            elif isinstance(child, tuple) and child and child[0] == "order":
                order_by = child[1]
            else:
                where = child
        return ast.Query(where, group_by, order_by)
