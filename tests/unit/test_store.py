import pytest

from clepsydra.engine.state import ExecutionKey
from clepsydra.errors import ConditionFailed
from clepsydra.store.base import CurrentWrite, ExecutionWrite
from clepsydra.store.sqlite import SqliteStore

KEY = ExecutionKey("ns", "wf", "run")


@pytest.fixture
async def store(tmp_path):  # type: ignore[no-untyped-def]
    s = SqliteStore(str(tmp_path / "store.db"))
    await s.open()
    yield s
    await s.close()


async def test_a_write_applies_only_to_the_version_it_was_computed_from(store: SqliteStore) -> None:
    await store.commit(ExecutionWrite(KEY, b"v1", 0, current=CurrentWrite("run", "run", 1, "r", None)))
    await store.commit(ExecutionWrite(KEY, b"v2", 1))
    with pytest.raises(ConditionFailed):
        await store.commit(ExecutionWrite(KEY, b"stale", 1))
    assert await store.get_execution(KEY) == (b"v2", 2)


async def test_concurrent_writes_share_a_commit_and_fail_alone(store: SqliteStore) -> None:
    import asyncio

    keys = [ExecutionKey("ns", f"wf{i}", "run") for i in range(20)]
    writes = [store.commit(ExecutionWrite(k, b"s", 0)) for k in keys]
    writes.append(store.commit(ExecutionWrite(keys[0], b"duplicate", 0)))
    outcomes = await asyncio.gather(*writes, return_exceptions=True)
    assert outcomes[:20] == [None] * 20
    assert isinstance(outcomes[20], ConditionFailed)
    for key in keys:
        assert await store.get_execution(key) == (b"s", 1)


async def test_reopening_keeps_data_and_schema(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "again.db")
    first = SqliteStore(path)
    await first.open()
    await first.commit(ExecutionWrite(KEY, b"kept", 0))
    await first.close()
    second = SqliteStore(path)
    await second.open()
    assert await second.get_execution(KEY) == (b"kept", 1)
    await second.close()
