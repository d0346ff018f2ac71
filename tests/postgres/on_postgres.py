"""A pytest plugin that runs the server-process tests on PostgreSQL instead of SQLite:

    python -m pytest -p tests.postgres.on_postgres tests/integration tests/crash

Every `ServerProcess` then runs `clepsydra server start --db-url` on a fresh database of
its own (created and migrated at its first start, kept across its restarts, dropped at
the end of the session). Not part of the default run: it doubles the suite's time.
"""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from clepsydra.store import factory
from tests.postgres.database import ADMIN_URL, url_of
from tests.server_process import ServerProcess

_created: list[str] = []
_original_start = ServerProcess.start


async def _start(self: ServerProcess, timeout: float = 30.0) -> None:
    if getattr(self, "db_url", None) is None:
        import asyncpg

        name = f"clepsydra_it_{os.getpid()}_{len(_created)}"
        admin = await asyncpg.connect(ADMIN_URL)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        _created.append(name)
        self.db_url = url_of(name)  # type: ignore[attr-defined]
        await factory.migrate(factory.parse(self.db_url))  # type: ignore[attr-defined]
    await _original_start(self, timeout)


def _command(self: ServerProcess) -> list[str]:
    db_url: str = self.db_url  # type: ignore[attr-defined]
    return [sys.executable, "-m", "clepsydra", "server", "start", "--db-url", db_url,
            "--port", str(self.port), "--log-level", "warn", *self.extra_args]  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    os.environ["CLEPSYDRA_TEST_STORE"] = "postgres"  # for tests about the SQLite store itself
    ServerProcess.start = _start  # type: ignore[method-assign]
    ServerProcess.command = _command  # type: ignore[method-assign]


def pytest_sessionfinish(session: pytest.Session) -> None:
    async def drop() -> None:
        import asyncpg

        admin = await asyncpg.connect(ADMIN_URL)
        try:
            for name in _created:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    if _created:
        asyncio.run(drop())
