"""List filters evaluated over records in memory (the worker registry's)."""

import pytest

from clepsydra.visibility.in_memory import matches
from clepsydra.visibility.query import QueryError, parse
from clepsydra.visibility.values import parse_datetime

NOON = parse_datetime("2026-12-04T12:00:00Z")
WORKER = {
    "TaskQueue": "payments",
    "BuildId": "",
    "HostName": "vm-1",
    "StartTime": NOON,
    "HeartbeatTime": None,
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", True),
        ("TaskQueue = 'payments'", True),
        ("TaskQueue != 'payments'", False),
        ("TaskQueue IN ('orders', 'payments')", True),
        ("HostName STARTS_WITH 'vm-'", True),
        ("HostName NOT STARTS_WITH 'vm-'", False),
        ("BuildId IS NULL", True),
        ("HeartbeatTime IS NULL AND BuildId IS NULL", True),
        ("StartTime > '2026-12-04T11:00:00Z' AND StartTime <= '2026-12-04T12:00:00Z'", True),
        ("StartTime BETWEEN '2026-12-01T00:00:00Z' AND '2026-12-02T00:00:00Z'", False),
        ("NOT (TaskQueue = 'orders' OR HostName = 'vm-2')", True),
        ("HeartbeatTime > '2026-01-01T00:00:00Z'", False),  # unset: no comparison holds
        ("Unknown = 'x'", False),
    ],
)
def test_a_query_selects_the_records_it_names(query: str, expected: bool) -> None:
    assert matches(parse(query).where, WORKER) is expected


@pytest.mark.parametrize(
    "query",
    ["TaskQueue > 'a'", "StartTime STARTS_WITH '2026'", "StartTime = 'yesterday'", "HostName LIKE 'vm%'"],
)
def test_what_a_column_cannot_take_is_refused(query: str) -> None:
    with pytest.raises(QueryError):
        matches(parse(query).where, WORKER)
