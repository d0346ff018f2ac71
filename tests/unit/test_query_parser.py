"""The list filter grammar: structure, literals, keywords, and where syntax errors are reported."""

from __future__ import annotations

import pytest

from clepsydra.visibility import ast
from clepsydra.visibility.query import QueryError, parse


def where(text: str) -> ast.Expr:
    query = parse(text)
    assert query.where is not None
    return query.where


def col(name: str) -> str:
    return name


def shape(node: ast.Expr | ast.Operand) -> object:
    """A compact, position-free rendering of a tree, so that tests read like the query."""
    if isinstance(node, ast.Column):
        return node.name
    if isinstance(node, ast.Literal):
        return node.value
    if isinstance(node, ast.And):
        return ("AND", shape(node.left), shape(node.right))
    if isinstance(node, ast.Or):
        return ("OR", shape(node.left), shape(node.right))
    if isinstance(node, ast.Not):
        return ("NOT", shape(node.operand))
    if isinstance(node, ast.Compare):
        return (node.op, shape(node.left), shape(node.right))
    if isinstance(node, ast.In):
        return ("NOT IN" if node.negated else "IN", shape(node.left), tuple(shape(v) for v in node.values))
    if isinstance(node, ast.Between):
        op = "NOT BETWEEN" if node.negated else "BETWEEN"
        return (op, shape(node.left), shape(node.low), shape(node.high))
    if isinstance(node, ast.StartsWith):
        return ("NOT STARTS_WITH" if node.negated else "STARTS_WITH", shape(node.left), shape(node.prefix))
    if isinstance(node, ast.IsNull):
        return ("IS NOT NULL" if node.negated else "IS NULL", shape(node.left))
    assert isinstance(node, ast.Unsupported)
    return ("UNSUPPORTED", node.what)


def test_an_empty_query_matches_everything() -> None:
    assert parse("") == ast.Query()
    assert parse("   ") == ast.Query()


def test_and_binds_tighter_than_or_and_not_tighter_than_and() -> None:
    assert shape(where("a = 1 OR b = 2 AND NOT c = 3")) == (
        "OR",
        ("=", "a", 1),
        ("AND", ("=", "b", 2), ("NOT", ("=", "c", 3))),
    )


def test_parentheses_group() -> None:
    assert shape(where("(a = 1 OR b = 2) AND c = 3")) == (
        "AND",
        ("OR", ("=", "a", 1), ("=", "b", 2)),
        ("=", "c", 3),
    )


def test_keywords_are_case_insensitive_and_names_are_not() -> None:
    assert shape(where("MyKw is not null and x not between 1 and 2 or y starts_with 'p'")) == (
        "OR",
        ("AND", ("IS NOT NULL", "MyKw"), ("NOT BETWEEN", "x", 1, 2)),
        ("STARTS_WITH", "y", "p"),
    )


def test_names_that_begin_with_a_keyword_are_names() -> None:
    assert shape(where("ORDERS = 1 AND NOTE = 2 AND Android IN (1)")) == (
        "AND",
        ("AND", ("=", "ORDERS", 1), ("=", "NOTE", 2)),
        ("IN", "Android", (1,)),
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("'it''s'", "it's"),
        (r"'it\'s'", "it's"),
        ('"double"', "double"),
        ('"say ""hi"""', 'say "hi"'),
        (r"'a\nb'", "a\nb"),
        ("-5", -5),
        ("+5", 5),
        ("1.5", 1.5),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("TRUE", True),
        ("false", False),
    ],
)
def test_literals(text: str, value: object) -> None:
    assert shape(where(f"x = {text}")) == ("=", "x", value)


def test_backticks_quote_names() -> None:
    assert shape(where("`My Attribute` = 'x'")) == ("=", "My Attribute", "x")


def test_not_equal_has_two_spellings() -> None:
    assert shape(where("x <> 1")) == shape(where("x != 1")) == ("!=", "x", 1)


def test_in_lists_and_negations() -> None:
    assert shape(where("x IN ('a', 'b')")) == ("IN", "x", ("a", "b"))
    assert shape(where("x NOT IN (1)")) == ("NOT IN", "x", (1,))
    assert shape(where("x NOT STARTS_WITH 'a'")) == ("NOT STARTS_WITH", "x", "a")


def test_order_by_and_group_by() -> None:
    query = parse("WorkflowType = 'a' ORDER BY StartTime DESC, WorkflowId")
    assert [(o.column.name, o.descending) for o in query.order_by] == [
        ("StartTime", True),
        ("WorkflowId", False),
    ]
    assert [c.name for c in parse("GROUP BY ExecutionStatus").group_by] == ["ExecutionStatus"]
    assert parse("ORDER BY StartTime asc").order_by[0].descending is False


def test_constructs_kept_only_to_be_rejected_clearly() -> None:
    assert shape(where("x LIKE 'a%'")) == ("UNSUPPORTED", "operator 'LIKE'")
    assert shape(where("x")) == ("UNSUPPORTED", "incomplete expression")


def test_limit_is_rejected_as_the_reference_does() -> None:
    with pytest.raises(QueryError, match="operation is not supported: 'LIMIT' clause"):
        parse("x = 1 LIMIT 2")


def test_positions_point_into_the_query() -> None:
    compare = where("  WorkflowId = 'x'")
    assert isinstance(compare, ast.Compare)
    assert isinstance(compare.left, ast.Column) and compare.left.position == 3
    assert isinstance(compare.right, ast.Literal) and compare.right.position == 16


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x == 1", "syntax error at position 4 near '='"),
        ("x = 1 AND", "syntax error at position 10: unexpected end of query"),
        ("x = 1 ANDy = 2", "syntax error at position 7 near 'ANDy'"),
        ("x = 1 LIMITS 2", "syntax error at position 7 near 'LIMITS'"),
        ("x IN ()", "syntax error at position 7 near ')'"),
        ("x = (1)", "syntax error at position 5 near '('"),
        ("(x = 1", "unexpected end of query"),
        ("x = 'open", "syntax error at position 5"),
        ("x IS 1", "syntax error at position 6 near '1'"),
    ],
)
def test_syntax_errors_say_where(text: str, message: str) -> None:
    with pytest.raises(QueryError, match="malformed SQL query") as error:
        parse(text)
    assert message in str(error.value)
