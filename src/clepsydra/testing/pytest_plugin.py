"""pytest fixtures for testing Temporal workflows on an in-process Clepsydra server.

Loaded through the `pytest11` entry point, so installing Clepsydra is enough:

| fixture                       | scope    | gives                                                        |
|-------------------------------|----------|--------------------------------------------------------------|
| `clepsydra_server`            | session  | an `InProcessServer`, shared by the session's tests          |
| `clepsydra_client`            | function | a `temporalio.client.Client` of that server                  |
| `clepsydra_env`               | function | a `WorkflowEnvironment` on that server (real time)           |
| `clepsydra_time_skipping_env` | function | a `WorkflowEnvironment` on a fresh time-skipping server      |
| `clepsydra_task_queue`        | function | a task queue name of the test's own                          |

The normal server is shared because starting workflows on it is all tests need;
unique task queues and workflow ids keep them apart. A time-skipping server's clock
is global to it, so each test gets its own, so that no test moves another's time.
The async fixtures need an async plugin: pytest-asyncio (they follow its configured
loop scope) or anyio.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from temporalio.client import Client

    from clepsydra.testing import ClepsydraEnvironment, InProcessServer, TimeSkippingEnvironment

try:  # in pytest-asyncio's strict mode, async fixtures must be declared through it
    import pytest_asyncio

    async_fixture: Any = pytest_asyncio.fixture
except ImportError:  # pragma: no cover - e.g. with anyio's plugin
    async_fixture = pytest.fixture


@pytest.fixture(scope="session")
def clepsydra_server() -> Iterator[InProcessServer]:
    """An in-process Clepsydra server for the whole session (real time)."""
    from clepsydra.testing import InProcessServer

    with InProcessServer() as server:
        yield server


@async_fixture
async def clepsydra_client(clepsydra_server: InProcessServer) -> Client:
    """A client of the session's server, in the "default" namespace."""
    return await clepsydra_server.connect()


@async_fixture
async def clepsydra_env(clepsydra_server: InProcessServer) -> AsyncIterator[ClepsydraEnvironment]:
    """A `WorkflowEnvironment` on the session's server: what `start_local()` gives, shared."""
    from clepsydra.testing import environment

    env = await environment(clepsydra_server)
    yield env
    await env.shutdown()


@async_fixture
async def clepsydra_time_skipping_env() -> AsyncIterator[TimeSkippingEnvironment]:
    """A `WorkflowEnvironment` with time skipping, on a server of the test's own."""
    from clepsydra.testing import start_time_skipping

    env = await start_time_skipping()
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def clepsydra_task_queue(request: pytest.FixtureRequest) -> str:
    """A task queue name no other test uses, so that tests sharing a server stay apart."""
    name = re.sub(r"[^\w.-]+", "-", request.node.name)[:80]
    return f"{name}-{uuid.uuid4().hex[:12]}"
