"""Compiling filters to SQL: values only ever travel as parameters, and bad queries are
rejected with the reference's messages."""

from __future__ import annotations

import pytest

from clepsydra.visibility.attributes import Schema
from clepsydra.visibility.compiler import compile_query
from clepsydra.visibility.query import QueryError

SCHEMA = Schema(
    {
        "Keyword01": "MyKeyword",
        "Text01": "MyText",
        "Int01": "MyInt",
        "Double01": "MyDouble",
        "Bool01": "MyBool",
        "Datetime01": "MyDatetime",
        "KeywordList01": "MyKeywordList",
    }
)


def test_values_are_parameters_never_sql_text() -> None:
    hostile = "x'); DROP TABLE executions; --"
    escaped = hostile.replace("'", "''")
    compiled = compile_query(
        f"MyKeyword = '{escaped}' OR MyText = '{escaped}' OR MyKeywordList IN ('{escaped}')"
        f" OR WorkflowId STARTS_WITH '{escaped}'",
        SCHEMA,
    )
    assert "DROP" not in compiled.where
    assert hostile in compiled.params
    assert compiled.where.count("?") == len(compiled.params)


def test_custom_attributes_use_their_columns() -> None:
    compiled = compile_query("MyInt > 1 AND MyBool = true AND ExecutionStatus = 'Completed'", SCHEMA)
    assert compiled.where == "(((Int01 > ?) AND (Bool01 = ?)) AND (status = ?))"
    assert compiled.params == [1, 1, 2]


def test_times_and_durations_become_integers() -> None:
    compiled = compile_query(
        "StartTime > '2024-05-01T12:00:00.5Z' AND MyDatetime < 1714564800000000000"
        " AND ExecutionDuration > '1m30s' AND CloseTime <= '2024-05-01T14:00:00+02:00'",
        SCHEMA,
    )
    assert compiled.params == [1714564800500000, 1714564800000000, 90_000_000_000, 1714564800000000]


def test_order_by_is_supported_beyond_the_reference() -> None:
    compiled = compile_query("ORDER BY MyInt DESC, StartTime", SCHEMA)
    assert compiled.order_by == [("Int01", True), ("start_time", False)]


def test_group_by_counts_by_status_only() -> None:
    assert compile_query("GROUP BY ExecutionStatus", SCHEMA, counting=True).group_by_status
    with pytest.raises(
        QueryError, match="'GROUP BY' clause is not supported for search attribute WorkflowType"
    ):
        compile_query("GROUP BY WorkflowType", SCHEMA, counting=True)
    with pytest.raises(QueryError, match="supports only a single field"):
        compile_query("GROUP BY ExecutionStatus, WorkflowType", SCHEMA, counting=True)


def test_divided_runs_are_left_out_unless_asked_for() -> None:
    assert not compile_query("WorkflowType = 'x'", SCHEMA).mentions_division
    assert compile_query("TemporalNamespaceDivision = 'x'", SCHEMA).mentions_division


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("Nope = 1", "invalid search attribute: Nope"),
        ("myint = 1", "invalid search attribute: myint"),
        ("MyInt = '1'", 'invalid value type for search attribute MyInt of type Int: "1" (type: string)'),
        (
            "MyKeyword = 1",
            "invalid value type for search attribute MyKeyword of type Keyword: 1 (type: int64)",
        ),
        ("MyKeyword = 1.5", "of type Keyword: 1.5 (type: float64)"),
        ("MyBool = 'true'", 'of type Bool: "true" (type: string)'),
        ("MyDouble = true", "of type Double: true (type: bool)"),
        ("MyDatetime > '2024-05-01'", "unable to parse datetime '2024-05-01'"),
        ("StartTime = 'yesterday'", "unable to parse datetime 'yesterday'"),
        ("ExecutionStatus = 'running'", "invalid ExecutionStatus value 'running'"),
        ("ExecutionStatus = 99", "invalid ExecutionStatus value 99"),
        ("ExecutionDuration > 'soon'", "invalid duration value for search attribute ExecutionDuration: soon"),
        ("ExecutionDuration > 1.5", "unexpected value type float64 for search attribute ExecutionDuration"),
        ("MyText > 'a'", "operator '>' not supported for Text type search attribute 'MyText'"),
        ("MyText IN ('a')", "operator 'IN' not supported for Text type search attribute 'MyText'"),
        ("MyText STARTS_WITH 'a'", "operator 'STARTS_WITH' not supported for Text type"),
        ("MyText = '  '", "no tokens found filtering on Text type search attribute MyText"),
        ("MyText BETWEEN 'a' AND 'b'", "cannot do range condition on search attribute 'MyText' of type Text"),
        ("MyKeywordList > 'a'", "operator '>' not supported for KeywordList type"),
        (
            "MyKeywordList BETWEEN 'a' AND 'b'",
            "cannot do range condition on search attribute 'MyKeywordList'",
        ),
        (
            "MyKeyword LIKE 'a%'",
            "operator 'LIKE' not supported for Keyword type search attribute 'MyKeyword'",
        ),
        ("MyKeyword", "incomplete expression"),
        ("'MyInt' = 1", 'must be a column name but was the value "MyInt" (at position 1)'),
        (
            "MyInt = MyInt",
            'column name on the right side of comparison expression (did you forget to quote "MyInt"?)',
        ),
        ("MyInt = NULL", "unexpected NULL value for search attribute MyInt (use IS NULL)"),
        ("ORDER BY MyText", "cannot ORDER BY search attribute 'MyText' of type Text"),
    ],
)
def test_bad_queries_say_what_is_wrong(query: str, message: str) -> None:
    with pytest.raises(QueryError) as error:
        compile_query(query, SCHEMA)
    assert message in str(error.value)


def test_huge_integers_still_compare() -> None:
    assert compile_query("MyInt = 9223372036854775808", SCHEMA).params == [9.223372036854775808e18]
