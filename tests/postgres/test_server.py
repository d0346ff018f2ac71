"""The official SDK against `clepsydra server start` on PostgreSQL: workflows, activities,
timers, and a kill -9 with workflows in flight (the schema rules are in test_cli.py)."""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from clepsydra.store import factory
from tests.crash import test_kill_restart as crash
from tests.postgres.database import fresh_database
from tests.postgres.server import PostgresServerProcess
from tests.postgres.workflows import Greeting, greet, shout
from tests.server_process import free_port

# The crash test of the SQLite server, collected here again: in this module its `server`
# fixture is the one below, a server on a fresh PostgreSQL database.
test_kill_while_workflows_are_in_flight = crash.test_kill_while_workflows_are_in_flight
steps = crash.steps
worker = crash.worker


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[PostgresServerProcess]:
    async with fresh_database() as url:
        await factory.migrate(factory.parse(url))
        proc = PostgresServerProcess(url, tmp_path / "server.log")
        await proc.start()
        try:
            yield proc
        finally:
            proc.stop()


@pytest.fixture
async def client(server: PostgresServerProcess) -> Client:
    return await Client.connect(server.target)


async def test_workflows_with_activities_and_a_timer_complete(client: Client) -> None:
    task_queue = f"tq-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[Greeting], activities=[greet, shout]):
        handles = [
            await client.start_workflow(
                Greeting.run, f"n{i}", id=f"greet-{i}-{uuid.uuid4()}", task_queue=task_queue
            )
            for i in range(5)
        ]
        results = [await handle.result() for handle in handles]
    assert results[0] == ["Hello, n0!", "HELLO, N0! 0", "HELLO, N0! 1", "HELLO, N0! 2"]
    assert [r[0] for r in results] == [f"Hello, n{i}!" for i in range(5)]
    listed = [w.id async for w in client.list_workflows(f"TaskQueue = '{task_queue}'")]
    assert sorted(listed) == sorted(h.id for h in handles)


async def test_the_http_api_is_served_when_asked_for(tmp_path: Path) -> None:
    http_port = free_port()
    async with fresh_database() as url:
        await factory.migrate(factory.parse(url))
        proc = PostgresServerProcess(url, tmp_path / "server.log", "--http-port", str(http_port))
        await proc.start()
        try:
            body = await asyncio.to_thread(_get_json, f"http://127.0.0.1:{http_port}/api/v1/namespaces")
        finally:
            proc.stop()
    assert "default" in [n["namespaceInfo"]["name"] for n in body["namespaces"]]


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)
