"""Several server processes on one PostgreSQL database: SIGKILL two of three while
workflows are in flight, and the last one finishes all of them, each exactly once; and
any process answers any RPC about any workflow, whichever process its worker polls.

Each server process gets a worker of its own (in the test's event loop, all on one task
queue). The workers of killed processes just fail to poll until they are shut down at
the end. A killed process's shards are taken over once its leases expire, so failover
takes several seconds; the timeouts below only guard against hanging.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.worker import Worker

from tests.crash.test_kill_restart import (
    RUNNER,
    CrashWorkflow,
    Job,
    Steps,
    assert_one_completed_run,
    expected_result,
)

# The sandbox re-imports this module for the workflow below: these are taken as they
# are (re-importing asyncpg's C extensions there would crash the test process).
with workflow.unsafe.imports_passed_through():
    from clepsydra.store import factory
    from tests.postgres.database import fresh_database
    from tests.postgres.server import PostgresServerProcess

SHARDS = 8
# Only guards against hanging; nothing here asserts on how long things take.
GUARD = 120.0
# A workflow task sent to the sticky queue of a worker whose server died goes back to the
# normal queue after this; the SDK's default (10 s) would only make failover slower.
STICKY_TIMEOUT = timedelta(seconds=3)


@asynccontextmanager
async def cluster(tmp_path: Path, processes: int) -> AsyncIterator[list[PostgresServerProcess]]:
    """`processes` server processes on one fresh, migrated database; their logs' tails are
    printed at the end (pytest shows them when the test fails)."""
    async with fresh_database("clepsydra_failover") as url:
        await factory.migrate(factory.parse(url), SHARDS)
        servers = [PostgresServerProcess(url, tmp_path / f"server-{i}.log") for i in range(processes)]
        try:
            await asyncio.gather(*(server.start() for server in servers))
            yield servers
        finally:
            for i, server in enumerate(servers):
                if server.proc is not None:
                    server.stop()
                if server.log_path.exists():
                    tail = server.log_path.read_text(errors="replace").splitlines()[-40:]
                    print(f"--- server {i} ({server.target}) log tail ---", *tail, sep="\n")


class Workers:
    """One worker per client, each run as a task of its own: a worker whose server was
    killed may fail, which must not take the test down with it."""

    def __init__(self) -> None:
        self.running: list[tuple[Worker, asyncio.Task[None]]] = []

    def start(self, client: Client, task_queue: str, steps: Steps) -> asyncio.Task[None]:
        worker = Worker(
            client,
            task_queue=task_queue,
            workflows=[CrashWorkflow, Tally],
            activities=[steps.add, steps.multiply],
            workflow_runner=RUNNER,
            sticky_queue_schedule_to_start_timeout=STICKY_TIMEOUT,
            graceful_shutdown_timeout=timedelta(seconds=1),
        )
        task = asyncio.create_task(worker.run())
        self.running.append((worker, task))
        return task

    async def shutdown(self) -> dict[int, BaseException]:
        """Shut every worker down; what the failed ones raised, by their order of start."""
        errors: dict[int, BaseException] = {}
        for i, (worker, task) in enumerate(self.running):
            if not task.done():
                await worker.shutdown()
            try:
                await task
            except Exception as error:
                errors[i] = error
        return errors


async def activity_events_are_paired(handle: WorkflowHandle[CrashWorkflow, int]) -> dict[str, int]:
    """Assert that each scheduled activity was started and completed exactly once in the
    history; the attempt each one completed with, by activity id."""
    history = await handle.fetch_history()
    scheduled: dict[int, str] = {}
    started: Counter[int] = Counter()
    completed: Counter[int] = Counter()
    attempts: dict[str, int] = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled[event.event_id] = event.activity_task_scheduled_event_attributes.activity_id
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attributes = event.activity_task_started_event_attributes
            started[attributes.scheduled_event_id] += 1
            attempts[scheduled[attributes.scheduled_event_id]] = attributes.attempt
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            completed[event.activity_task_completed_event_attributes.scheduled_event_id] += 1
    assert len(scheduled) == 3, f"{handle.id}: {len(scheduled)} activities scheduled"
    for event_id, activity_id in scheduled.items():
        what = f"{handle.id} activity {activity_id}"
        assert started[event_id] == 1, f"{what}: started {started[event_id]} times"
        assert completed[event_id] == 1, f"{what}: completed {completed[event_id]} times"
    assert set(started) == set(completed) == set(scheduled)
    return attempts


async def results_through(client: Client, ids: list[str], worker: asyncio.Task[None]) -> list[int]:
    """The workflows' results, read through `client`; fails early if `worker` stops, and
    on the guard's timeout tells how many completed and where some others are stuck."""
    waits = [
        asyncio.ensure_future(client.get_workflow_handle_for(CrashWorkflow.run, i).result()) for i in ids
    ]
    try:
        async with asyncio.timeout(GUARD):
            remaining: set[asyncio.Future[object]] = set(waits)
            while remaining:
                done, remaining = await asyncio.wait(
                    {*remaining, worker}, return_when=asyncio.FIRST_COMPLETED
                )
                assert worker not in done, f"the worker polling the survivor stopped: {worker}"
                remaining.discard(worker)
    except TimeoutError:
        stuck = [i for i, wait in zip(ids, waits, strict=True) if not wait.done()]
        where = [await whereabouts(client, i) for i in stuck[:5]]
        raise AssertionError(
            f"{len(stuck)} of {len(ids)} workflows not completed after {GUARD:.0f} s: {where}"
        ) from None
    finally:
        for wait in waits:
            wait.cancel()
    return [wait.result() for wait in waits]


async def whereabouts(client: Client, workflow_id: str) -> str:
    """Where a workflow is: its status, last event and pending activities."""
    try:
        handle = client.get_workflow_handle(workflow_id)
        description = await handle.describe()
        events = (await handle.fetch_history()).events
    except Exception as error:
        return f"{workflow_id}: {error!r}"
    pending = [(a.activity_id, a.attempt, a.state) for a in description.raw_description.pending_activities]
    last = EventType.Name(events[-1].event_type) if events else "no events"
    status = description.status.name if description.status else "?"
    return f"{workflow_id}: {status}, {len(events)} events, last {last}, pending activities {pending}"


async def test_the_last_live_process_finishes_every_workflow_after_two_are_killed(tmp_path: Path) -> None:
    await run_and_kill(tmp_path, processes=3, kills=2, count=200)


async def run_and_kill(tmp_path: Path, processes: int, kills: int, count: int) -> None:
    """Start `count` workflows spread over `processes` processes, SIGKILL the first `kills`
    of them a few seconds apart while the workflows are in flight, and check that the last
    one completed every workflow exactly once."""
    steps = Steps()
    workers = Workers()
    task_queue = f"failover-{uuid.uuid4()}"
    async with cluster(tmp_path, processes) as servers:
        clients = [await Client.connect(server.target) for server in servers]
        survivor, live = servers[-1], clients[-1]
        tasks = [workers.start(client, task_queue, steps) for client in clients]
        try:
            async with asyncio.timeout(GUARD):
                # The first activity takes 0..1.9 s and a 2 s timer follows it, so at each
                # kill workflows are at every stage.
                handles = await asyncio.gather(
                    *(
                        clients[n % len(clients)].start_workflow(
                            CrashWorkflow.run,
                            Job(n=n, first_step_seconds=0.1 * (n % 20), sleep_seconds=2.0),
                            id=f"failover-{n}-{uuid.uuid4()}",
                            task_queue=task_queue,
                        )
                        for n in range(count)
                    )
                )
                while len(steps.executions) < count // 2:
                    await asyncio.sleep(0.05)
                executions_at_first_kill = len(steps.executions)
                for i in range(kills):
                    if i:
                        await asyncio.sleep(3.0)
                    servers[i].kill()
            # Results come from the survivor, whichever process each workflow started on.
            results = await results_through(live, [h.id for h in handles], tasks[-1])
        finally:
            failures = await workers.shutdown()
        assert len(servers) - 1 not in failures, f"the survivor's worker failed: {failures}"
        retried = sum(1 for e in steps.executions if e.attempt > 1)
        print(f"workers of killed processes ended with: {failures}")
        print(f"{len(steps.executions)} activity executions, {retried} of them retries")

        assert survivor.proc is not None and survivor.proc.poll() is None, "the survivor died"
        assert executions_at_first_kill < count * 3, "the first kill came after all the work was done"
        assert results == [expected_result(n) for n in range(count)]

        executed = Counter((e.workflow_id, e.activity_id, e.attempt) for e in steps.executions)
        twice = [key for key, times in executed.items() if times > 1]
        assert not twice, f"executed to completion more than once: {twice[:10]}"

        for handle in handles:
            on_survivor = live.get_workflow_handle_for(
                CrashWorkflow.run, handle.id, first_execution_run_id=handle.first_execution_run_id
            )
            await assert_one_completed_run(on_survivor)
            for activity_id, attempt in (await activity_events_are_paired(on_survivor)).items():
                assert (handle.id, activity_id, attempt) in executed, (
                    f"{handle.id} activity {activity_id}: the history's attempt {attempt} never ran"
                )


@workflow.defn
class Tally:
    """Counts what it is sent, by signal and by update; an update closes it."""

    def __init__(self) -> None:
        self.total = 0
        self.closed = False

    @workflow.run
    async def run(self, start: int) -> int:
        self.total += start
        await workflow.wait_condition(lambda: self.closed)
        return self.total

    @workflow.signal
    def add(self, amount: int) -> None:
        self.total += amount

    @workflow.query
    def current(self) -> int:
        return self.total

    @workflow.update
    def close(self, amount: int) -> int:
        self.total += amount
        self.closed = True
        return self.total


async def test_any_process_answers_any_rpc(tmp_path: Path) -> None:
    workers = Workers()
    task_queue = f"any-rpc-{uuid.uuid4()}"
    async with cluster(tmp_path, 2) as (a, b):
        via_a, via_b = await Client.connect(a.target), await Client.connect(b.target)
        # The only worker polls process A; several workflow ids, so that both processes'
        # shards hold some of them.
        workers.start(via_a, task_queue, Steps())
        try:
            async with asyncio.timeout(GUARD):
                started = [
                    await via_a.start_workflow(
                        Tally.run, n, id=f"tally-{n}-{uuid.uuid4()}", task_queue=task_queue
                    )
                    for n in range(6)
                ]
                for n, handle in enumerate(started):
                    on_b = via_b.get_workflow_handle_for(Tally.run, handle.id)
                    description = await on_b.describe()
                    assert description.run_id == handle.first_execution_run_id
                    assert description.status == WorkflowExecutionStatus.RUNNING
                    await on_b.signal(Tally.add, 100)
                    # Queries are answered once the worker has seen the signal.
                    while await on_b.query(Tally.current) != n + 100:
                        await asyncio.sleep(0.1)
                    assert await on_b.execute_update(Tally.close, 1000) == n + 1100
                    assert await on_b.result() == n + 1100
                    assert (await on_b.describe()).status == WorkflowExecutionStatus.COMPLETED
                    assert await handle.result() == n + 1100
        finally:
            failures = await workers.shutdown()
        assert not failures
