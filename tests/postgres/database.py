"""Fresh PostgreSQL databases for tests: created for a test run, dropped after it.

The server comes from CLEPSYDRA_TEST_POSTGRES (default: the local one, user postgres,
trust auth, as `.ci/run` starts it). Without a reachable server the PostgreSQL tests
are skipped, except in CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

ADMIN_URL = os.environ.get("CLEPSYDRA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def url_of(database: str) -> str:
    return urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{database}"))


async def _admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        message = f"no PostgreSQL server at {ADMIN_URL}: {error}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


async def create_database(prefix: str = "clepsydra_test") -> str:
    """A new, empty database; its URL."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = await _admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return url_of(name)


async def drop_database(url: str) -> None:
    """Drop the database of `url`, closing its connections first."""
    name = urlsplit(url).path.lstrip("/")
    admin = await _admin()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@asynccontextmanager
async def fresh_database(prefix: str = "clepsydra_test") -> AsyncIterator[str]:
    """The URL of a new, empty database, dropped (with its connections) on the way out."""
    url = await create_database(prefix)
    try:
        yield url
    finally:
        await drop_database(url)
