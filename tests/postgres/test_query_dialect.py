"""The list-filter property test of `tests/unit/test_query_property.py`, on PostgreSQL: the
translated SQL selects exactly what the Python model of the filter selects, in the same
order, page after page, for random filters and for every operator on a fixed data set."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Iterator
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clepsydra.store.postgres import PostgresStore
from clepsydra.visibility.attributes import AttrType
from tests.postgres.database import create_database, drop_database
from tests.unit import test_query_property as sqlite_case
from tests.unit.visibility_model import Run, default_order, evaluate, sort_by

T = TypeVar("T")


class _Loop:
    """An event loop on a thread of its own, so that synchronous hypothesis tests can use
    one asyncpg pool (bound to its loop) across examples."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Awaitable[T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)  # type: ignore[arg-type]

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


@pytest.fixture(scope="module")
def pg() -> Iterator[tuple[_Loop, PostgresStore]]:
    loop = _Loop()
    url = loop.run(create_database("clepsydra_query"))
    store = PostgresStore(url, migrate=True, pool_size=2)
    try:
        loop.run(store.open())
        loop.run(
            store.add_custom_search_attributes(
                sqlite_case.NAMESPACE, {n: AttrType(t) for n, t in sqlite_case.CUSTOM.items()}
            )
        )
        yield loop, store
    finally:
        loop.run(store.close())
        loop.run(drop_database(url))
        loop.stop()


async def _fill(store: PostgresStore, rows: list[Run]) -> None:
    async with store.pool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM executions_visibility")
        for run in rows:
            await store._upsert_visibility(conn, sqlite_case.record(run))


MODEL_TYPES = {n: ("Keyword" if t == "Status" else t) for n, t in sqlite_case.TYPES.items()}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=sqlite_case.runs(),
    condition=sqlite_case.filters(),
    page_size=st.integers(1, 6),
    order=st.one_of(st.none(), st.tuples(st.sampled_from(sqlite_case.ORDERABLE), st.booleans())),
)
def test_sql_selects_what_the_model_selects(
    pg: tuple[_Loop, PostgresStore],
    rows: list[Run],
    condition: tuple[tuple[Any, ...], str],
    page_size: int,
    order: tuple[str, bool] | None,
) -> None:
    loop, store = pg
    tree, text = condition
    matching = [r for r in rows if evaluate(tree, r, MODEL_TYPES) is True]
    if order is None:
        expected, query = default_order(matching), text
    else:
        expected = sort_by(matching, order[0], order[1])
        query = f"{text} ORDER BY {order[0]} {'DESC' if order[1] else 'ASC'}"

    async def scenario() -> tuple[list[str], int]:
        await _fill(store, rows)
        return await sqlite_case._list_all(store, query, page_size), await sqlite_case._count(store, text)  # type: ignore[arg-type]

    listed, counted = loop.run(scenario())
    assert listed == [r.run_id for r in expected], query
    assert counted == len(expected), query


def test_every_predicate_on_a_fixed_data_set(pg: tuple[_Loop, PostgresStore]) -> None:
    loop, store = pg
    rows = sqlite_case._fixed_runs()
    cases = list(sqlite_case._every_predicate())

    async def scenario() -> list[tuple[str, list[str], list[str]]]:
        await _fill(store, rows)
        out = []
        for tree, text in cases:
            expected = [r.run_id for r in default_order(rows) if evaluate(tree, r, MODEL_TYPES) is True]
            out.append((text, await sqlite_case._list_all(store, text, 1000), expected))  # type: ignore[arg-type]
        return out

    mismatches = [(text, got, want) for text, got, want in loop.run(scenario()) if got != want]
    assert not mismatches
    assert len(cases) > 300
