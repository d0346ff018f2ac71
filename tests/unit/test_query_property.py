"""Property: the SQL the compiler writes selects exactly the runs that a straightforward
Python evaluation of the same filter selects, in the same order, page after page."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.api.common.v1 import Payload, SearchAttributes

from clepsydra.engine.codec import from_micros
from clepsydra.engine.state import ExecutionKey
from clepsydra.store.base import VisibilityRecord
from clepsydra.store.sqlite import SqliteStore
from clepsydra.visibility.attributes import AttrType, Schema
from clepsydra.visibility.compiler import STATUS_NAMES, compile_query
from tests.unit.visibility_model import Run, default_order, evaluate, render_value, sort_by

NAMESPACE = "ns"
CUSTOM = {
    "MyKeyword": "Keyword",
    "MyText": "Text",
    "MyInt": "Int",
    "MyDouble": "Double",
    "MyBool": "Bool",
    "MyDatetime": "Datetime",
    "MyKeywordList": "KeywordList",
}
TYPES = {
    **CUSTOM,
    "WorkflowId": "Keyword",
    "WorkflowType": "Keyword",
    "ExecutionStatus": "Status",
    "StartTime": "Datetime",
    "CloseTime": "Datetime",
    "BatcherUser": "Keyword",  # predefined: kept in the JSON column
    "TemporalChangeVersion": "KeywordList",
}
BASE = 1_714_564_800_000_000  # 2024-05-01T12:00:00Z in microseconds
KEYWORDS = ["a", "ab", "Ab", "b", "b_c", "%", "é", ""]
PREFIXES = ["", "a", "A", "b_", "%", "é"]
TEXTS = ["Hello big World", "hello there", "worldwide", "Wörld-peace", "a_b", "!!"]
TEXT_TERMS = [
    "hello",
    "world",
    "Hello-big",
    "wörld",
    "!!",
    "big world",
    "there hello",
    "peace worldwide",
    "b a",
]
TIMES = [BASE + k * 3_600_000_000 + k for k in range(5)]
VALUES: dict[str, Any] = {
    "Keyword": st.sampled_from(KEYWORDS),
    "Int": st.sampled_from([-3, 0, 1, 2, 10]),
    "Double": st.sampled_from([-1.5, 0.0, 2.5, 3.0]),
    "Bool": st.booleans(),
    "Datetime": st.sampled_from(TIMES),
    "Text": st.sampled_from(TEXTS),
    "KeywordList": st.lists(st.sampled_from(["a", "b", "c"]), unique=True, max_size=3),
    "Status": st.sampled_from(list(range(1, 8))),
}
OPERATORS = {
    "Keyword": ["=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN", "BETWEEN", "NOT BETWEEN", "STARTS_WITH",
                "NOT STARTS_WITH", "IS NULL", "IS NOT NULL"],
    "Int": ["=", "!=", "<", ">=", "IN", "NOT IN", "BETWEEN", "NOT BETWEEN", "IS NULL"],
    "Double": ["=", "!=", "<=", ">", "IN", "BETWEEN", "IS NOT NULL"],
    "Bool": ["=", "!=", ">", "IS NULL"],
    "Datetime": ["=", "!=", "<", ">", "<=", ">=", "BETWEEN", "IS NULL", "IS NOT NULL"],
    "Text": ["=", "!=", "IS NULL", "IS NOT NULL"],
    "KeywordList": ["=", "!=", "IN", "NOT IN", "IS NULL"],
    "Status": ["=", "!=", ">", "IN", "NOT IN"],
}  # fmt: skip


@st.composite
def runs(draw: st.DrawFn) -> list[Run]:
    out = []
    for i in range(draw(st.integers(0, 14))):
        status = draw(VALUES["Status"])
        start = draw(st.sampled_from(TIMES))
        attributes = {
            name: draw(VALUES[type_])
            for name, type_ in {
                **CUSTOM,
                "BatcherUser": "Keyword",
                "TemporalChangeVersion": "KeywordList",
            }.items()
            if draw(st.booleans())
        }
        out.append(
            Run(
                run_id=f"run-{i:02d}",
                workflow_id=draw(st.sampled_from(KEYWORDS[:4])),
                workflow_type=draw(st.sampled_from(["A", "B"])),
                status=status,
                start_micros=start,
                close_micros=None if status == 1 else start + draw(st.integers(0, 3)) * 1_000_000,
                attributes=attributes,
            )
        )
    return out


@st.composite
def predicates(draw: st.DrawFn) -> tuple[tuple[Any, ...], str]:
    """(model tree, query text) of one predicate."""
    name = draw(st.sampled_from(sorted(TYPES)))
    type_ = TYPES[name]
    op = draw(st.sampled_from(OPERATORS[type_]))
    if op in ("IS NULL", "IS NOT NULL"):
        return ("pred", name, op, None), f"{name} {op}"
    if type_ == "Text":
        term = draw(st.sampled_from(TEXT_TERMS))
        return ("pred", name, op, term), f"{name} {op} {render_value(term, 'Text')}"
    if "STARTS_WITH" in op:
        prefix = draw(st.sampled_from(PREFIXES))
        return ("pred", name, op, prefix), f"{name} {op} {render_value(prefix, 'Keyword')}"
    scalar = "Keyword" if type_ == "KeywordList" else type_
    draw_value = VALUES[scalar] if type_ != "KeywordList" else st.sampled_from(["a", "b", "c", "d"])
    if op in ("IN", "NOT IN"):
        values = draw(st.lists(draw_value, min_size=1, max_size=3))
        text = ", ".join(_render(v, scalar) for v in values)
        return ("pred", name, op, values), f"{name} {op} ({text})"
    if "BETWEEN" in op:
        low, high = draw(draw_value), draw(draw_value)
        return (
            "pred",
            name,
            op,
            (low, high),
        ), f"{name} {op} {_render(low, scalar)} AND {_render(high, scalar)}"
    value = draw(draw_value)
    return ("pred", name, op, value), f"{name} {op} {_render(value, scalar)}"


def _render(value: Any, type_: str) -> str:
    if type_ == "Status":
        names = {v: k for k, v in STATUS_NAMES.items()}
        return f"'{names[value]}'"
    return render_value(value, type_)


def filters(depth: int = 3) -> st.SearchStrategy[tuple[tuple[Any, ...], str]]:
    if depth == 0:
        return predicates()
    inner = filters(depth - 1)
    return st.one_of(
        predicates(),
        st.tuples(st.sampled_from(["and", "or"]), inner, inner).map(
            lambda t: ((t[0], t[1][0], t[2][0]), f"({t[1][1]}) {t[0].upper()} ({t[2][1]})")
        ),
        inner.map(lambda t: (("not", t[0]), f"NOT ({t[1]})")),
    )


def record(run: Run) -> VisibilityRecord:
    fields = {}
    for name, value in run.attributes.items():
        if TYPES[name] == "Datetime":
            value = from_micros(value).isoformat().replace("+00:00", "Z")
        fields[name] = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())
    start = from_micros(run.start_micros)
    return VisibilityRecord(
        key=ExecutionKey(NAMESPACE, run.workflow_id, run.run_id),
        workflow_type=run.workflow_type,
        task_queue="tq",
        status=run.status,
        start_time=start,
        execution_time=start,
        close_time=from_micros(run.close_micros) if run.close_micros is not None else None,
        history_length=2,
        history_size_bytes=100,
        state_transition_count=1,
        memo=b"",
        search_attributes=SearchAttributes(indexed_fields=fields).SerializeToString(),
    )


@pytest.fixture(scope="module")
def store() -> Iterator[SqliteStore]:
    store = SqliteStore(None)
    asyncio.run(_open(store))
    yield store
    asyncio.run(store.close())


async def _open(store: SqliteStore) -> None:
    await store.open()
    await store.add_custom_search_attributes(NAMESPACE, {n: AttrType(t) for n, t in CUSTOM.items()})


async def _fill(store: SqliteStore, rows: list[Run]) -> None:
    def fill() -> None:
        store.conn.execute("DELETE FROM executions_visibility")
        for run in rows:
            store._upsert_visibility(record(run))

    await store._run(fill)


async def _list_all(store: SqliteStore, query: str, page_size: int) -> list[str]:
    schema = Schema(
        {column: name for name, column in (await store.custom_search_attributes(NAMESPACE)).items()}
    )
    compiled = compile_query(query, schema)
    seen: list[str] = []
    after: Any = None
    for _ in range(100):  # more pages than any example has runs: a paging bug must not loop forever
        page = await store.list_visibility(NAMESPACE, compiled, page_size, after)
        seen += [r.key.run_id for r in page]
        if len(page) < page_size:
            return seen
        after = len(seen) if compiled.order_by else store.keyset(page[-1])
    raise AssertionError(f"paging never ended: {seen}")


async def _count(store: SqliteStore, query: str) -> int:
    schema = Schema(
        {column: name for name, column in (await store.custom_search_attributes(NAMESPACE)).items()}
    )
    rows = await store.count_visibility(NAMESPACE, compile_query(query, schema, counting=True))
    return sum(count for _, count in rows)


ORDERABLE = [n for n, t in TYPES.items() if t not in ("Text", "KeywordList")]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=runs(),
    condition=filters(),
    page_size=st.integers(1, 6),
    order=st.one_of(st.none(), st.tuples(st.sampled_from(ORDERABLE), st.booleans())),
)
def test_sql_selects_what_the_model_selects(
    store: SqliteStore,
    rows: list[Run],
    condition: tuple[tuple[Any, ...], str],
    page_size: int,
    order: tuple[str, bool] | None,
) -> None:
    tree, text = condition
    model_types = {n: ("Keyword" if t == "Status" else t) for n, t in TYPES.items()}
    matching = [r for r in rows if evaluate(tree, r, model_types) is True]
    if order is None:
        expected = default_order(matching)
        query = text
    else:
        expected = sort_by(matching, order[0], order[1])
        query = f"{text} ORDER BY {order[0]} {'DESC' if order[1] else 'ASC'}"

    async def scenario() -> tuple[list[str], int]:
        await _fill(store, rows)
        return await _list_all(store, query, page_size), await _count(store, text)

    listed, counted = asyncio.run(scenario())
    assert listed == [r.run_id for r in expected], query
    assert counted == len(expected), query


def _every_predicate() -> Iterator[tuple[tuple[Any, ...], str]]:
    """Each operator of each attribute with each value of its domain (what random draws may miss)."""
    for name, type_ in sorted(TYPES.items()):
        scalar = "Keyword" if type_ == "KeywordList" else type_
        domain = {
            "Keyword": KEYWORDS,
            "KeywordList": ["a", "b", "c", "d"],
            "Int": [-3, 0, 1, 2, 10, 1.5],
            "Double": [-1.5, 0.0, 2.5, 3.0, 2],
            "Bool": [True, False],
            "Datetime": TIMES,
            "Status": list(range(1, 8)),
            "Text": TEXT_TERMS,
        }[type_]
        for op in OPERATORS[type_]:
            if op in ("IS NULL", "IS NOT NULL"):
                yield ("pred", name, op, None), f"{name} {op}"
            elif "STARTS_WITH" in op:
                for prefix in PREFIXES:
                    yield ("pred", name, op, prefix), f"{name} {op} {render_value(prefix, 'Keyword')}"
            elif op in ("IN", "NOT IN"):
                yield (
                    ("pred", name, op, domain[:2]),
                    f"{name} {op} ({', '.join(_render(v, scalar) for v in domain[:2])})",
                )
            elif "BETWEEN" in op:
                low, high = domain[0], domain[len(domain) // 2]
                yield (
                    ("pred", name, op, (low, high)),
                    f"{name} {op} {_render(low, scalar)} AND {_render(high, scalar)}",
                )
            else:
                for value in domain:
                    yield ("pred", name, op, value), f"{name} {op} {_render(value, scalar)}"


def test_every_predicate_on_a_fixed_data_set(store: SqliteStore) -> None:
    rows = _fixed_runs()
    model_types = {n: ("Keyword" if t == "Status" else t) for n, t in TYPES.items()}
    cases = list(_every_predicate())

    async def scenario() -> list[tuple[str, list[str], list[str]]]:
        await _fill(store, rows)
        out = []
        for tree, text in cases:
            expected = [r.run_id for r in default_order(rows) if evaluate(tree, r, model_types) is True]
            out.append((text, await _list_all(store, text, 1000), expected))
        return out

    mismatches = [(text, got, want) for text, got, want in asyncio.run(scenario()) if got != want]
    assert not mismatches
    assert len(cases) > 300


def _fixed_runs() -> list[Run]:
    """Twenty-odd runs that between them hold every value of every domain."""
    rows = []
    for i in range(24):
        status = 1 + i % 7
        start = TIMES[i % len(TIMES)]
        attributes: dict[str, Any] = {}
        if i % 4 != 3:
            attributes["MyKeyword"] = KEYWORDS[i % len(KEYWORDS)]
            attributes["BatcherUser"] = KEYWORDS[(i + 3) % len(KEYWORDS)]
        if i % 5 != 4:
            attributes["MyText"] = TEXTS[i % len(TEXTS)]
            attributes["MyInt"] = [-3, 0, 1, 2, 10][i % 5]
            attributes["MyDouble"] = [-1.5, 0.0, 2.5, 3.0][i % 4]
        if i % 3 != 2:
            attributes["MyBool"] = i % 2 == 0
            attributes["MyDatetime"] = TIMES[(i * 3) % len(TIMES)]
            attributes["MyKeywordList"] = [["a"], ["b", "c"], [], ["a", "b", "c"]][i % 4]
            attributes["TemporalChangeVersion"] = [["c"], [], ["a", "b"]][i % 3]
        rows.append(
            Run(
                run_id=f"run-{i:02d}",
                workflow_id=KEYWORDS[i % 4],
                workflow_type="AB"[i % 2],
                status=status,
                start_micros=start,
                close_micros=None if status == 1 else start + (i % 3) * 1_000_000,
                attributes=attributes,
            )
        )
    return rows


def test_model_and_sql_agree_on_a_known_case(store: SqliteStore) -> None:
    rows = [
        Run("r1", "w", "A", 1, TIMES[0], None, {"MyKeyword": "alpha", "MyText": "Hello big World"}),
        Run("r2", "w", "A", 2, TIMES[1], TIMES[2], {"MyKeyword": "Alpha", "MyKeywordList": ["a"]}),
        Run("r3", "w", "B", 5, TIMES[0], TIMES[3], {}),
    ]

    async def scenario() -> list[str]:
        await _fill(store, rows)
        return await _list_all(store, "MyKeyword STARTS_WITH 'AL' OR MyText = 'world'", 10)

    # Open first, then by close time, newest first; STARTS_WITH is ASCII case-insensitive.
    assert asyncio.run(scenario()) == ["r1", "r2"]


def test_times_render_as_rfc3339() -> None:
    assert render_value(BASE, "Datetime") == "'2024-05-01T14:00:00+02:00'"
    assert datetime(2024, 5, 1, 12, tzinfo=UTC) + timedelta(0) == from_micros(BASE)
