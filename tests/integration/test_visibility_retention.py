"""Closed runs are deleted once their namespace's retention has passed, and deleted namespaces
are emptied and removed, also across a restart. In-process servers on a clock the test moves."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.api.namespace.v1 import NamespaceFilter
from temporalio.api.workflowservice.v1 import ListNamespacesRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from clepsydra.server.app import Server, ServerConfig
from tests.integration.visibility_support import clepsydra_only, eventually, list_ids

pytestmark = clepsydra_only


class ManualClock:
    def __init__(self) -> None:
        self.time = datetime.now(UTC)

    def now(self) -> datetime:
        return self.time

    def advance(self, delta: timedelta) -> None:
        self.time += delta

    def skip_to(self, when: datetime) -> bool:
        return False

    def on_change(self, callback: Callable[[], None]) -> None:
        pass


async def started(db: Path, clock: ManualClock, *namespaces: str) -> tuple[Server, Client]:
    server = Server(ServerConfig(port=0, db_filename=str(db), namespaces=list(namespaces)), clock=clock)
    await server.start()
    return server, await Client.connect(server.address)


async def assert_gone(client: Client, workflow_id: str) -> None:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as error:
        assert error.status == RPCStatusCode.NOT_FOUND
    else:
        raise AssertionError(f"{workflow_id} is still there")


async def test_closed_runs_are_deleted_after_the_retention_period(tmp_path: Path) -> None:
    clock = ManualClock()
    server, client = await started(tmp_path / "retention.db", clock)
    try:
        kept_open = await client.start_workflow("Open", id="open", task_queue="nowhere")
        closed = await client.start_workflow("Closed", id="closed", task_queue="nowhere")
        await closed.terminate("done")

        clock.advance(timedelta(hours=23))  # the dev namespace keeps closed runs 24 h
        assert await server.parts.jobs.retention.sweep() == 0
        assert sorted(await list_ids(client, "")) == ["closed", "open"]

        clock.advance(timedelta(hours=2))
        assert await server.parts.jobs.retention.sweep() == 1
        await assert_gone(client, "closed")
        assert await list_ids(client, "") == ["open"]
        assert (await kept_open.describe()).status is not None  # open runs are never expired
        # The id is free for a new run once the old one is gone.
        again = await client.start_workflow("Closed", id="closed", task_queue="nowhere")
        assert (await again.describe()).run_id == again.result_run_id
    finally:
        await server.stop()


async def test_a_sweep_at_start_up_catches_up(tmp_path: Path) -> None:
    clock = ManualClock()
    db = tmp_path / "restart.db"
    server, client = await started(db, clock)
    handle = await client.start_workflow("Closed", id="closed-before-restart", task_queue="nowhere")
    await handle.terminate("done")
    await server.stop()

    clock.advance(timedelta(days=2))  # expired while the server was down
    server, client = await started(db, clock)
    try:
        await eventually(lambda: assert_gone(client, "closed-before-restart"))
    finally:
        await server.stop()


async def test_a_deleted_namespace_is_emptied_even_across_a_restart(tmp_path: Path) -> None:
    clock = ManualClock()
    db = tmp_path / "namespaces.db"
    server, client = await started(db, clock, "doomed")
    doomed = await Client.connect(server.address, namespace="doomed")
    for i in range(3):
        await doomed.start_workflow("Doomed", id=f"doomed-{i}", task_queue="nowhere")
    # Marked deleted, then the process dies before the runs are deleted.
    new_name = await server.namespaces.mark_deleted("doomed")
    namespace_id = (await server.namespaces.describe(new_name)).namespace_info.id
    await server.stop()

    server, client = await started(db, clock)  # "doomed" is not a start-up namespace any more
    try:

        async def removed() -> None:
            everything = await client.workflow_service.list_namespaces(
                ListNamespacesRequest(namespace_filter=NamespaceFilter(include_deleted=True))
            )
            assert namespace_id not in [n.namespace_info.id for n in everything.namespaces]
            assert await server.store.runs_of_namespace(namespace_id, 10) == []

        await eventually(removed)
    finally:
        await server.stop()
