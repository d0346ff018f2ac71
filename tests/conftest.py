from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client

from tests.server_process import ServerProcess


@pytest.fixture(scope="session")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServerProcess]:
    """One server for the session, on a real SQLite file."""
    work = tmp_path_factory.mktemp("server")
    proc = ServerProcess(work / "clepsydra.db", work / "server.log")
    await proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
async def client(server: ServerProcess) -> Client:
    return await Client.connect(server.target)


@pytest.fixture
def task_queue() -> str:
    """A task queue of the test's own, so that tests sharing a server never see each other's tasks."""
    return f"tq-{uuid.uuid4()}"


@pytest.fixture
def workflow_id(request: pytest.FixtureRequest) -> str:
    return f"{request.node.name}-{uuid.uuid4()}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every test is async and shares the session's event loop with the session fixtures.
    for item in items:
        if inspect.iscoroutinefunction(getattr(item, "function", None)):
            item.add_marker(pytest.mark.asyncio(loop_scope="session"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
