#!/usr/bin/env python3
"""Soak: kill -9 the server again and again under SDK load; no acknowledged workflow may be lost.

    python scripts/soak.py                          # 5 minutes, a kill every 2 to 8 s
    python scripts/soak.py --minutes 60 --in-flight 50 --kill-every 1:5
    python scripts/soak.py --db-url postgresql://...     # the same on PostgreSQL (migrated)

A Clepsydra server runs as a subprocess on an SQLite file (or a PostgreSQL database); SDK
workers run in processes of their own and stay up across the kills (the SDK reconnects); a
driver keeps `--in-flight` workflows running, each two activities around a durable timer and
a signal, whose result is a function of its input. Every few seconds the server gets SIGKILL
and is started again at once on the same database and port.

After `--minutes`, the kills stop and every workflow whose start the server acknowledged
must complete with the right result within `--drain` seconds. The script prints what it
saw (starts acknowledged, kills, time to answer again after each restart, workflows
completed, lost, wrong) and exits 1 if any acknowledged workflow is lost or wrong, or if the
server ever failed to come back. Starts that were not acknowledged (the kill came first) are
retried under a new id, as a client would; a run they may have left is allowed, not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

TASK_QUEUE = "soak"


@activity.defn
async def double(n: int) -> int:
    await asyncio.sleep(random.random() * 0.2)
    return n * 2


@activity.defn
async def increment(n: int) -> int:
    return n + 1


@workflow.defn
class SoakWorkflow:
    def __init__(self) -> None:
        self.bonus: int | None = None

    @workflow.run
    async def run(self, n: int) -> int:
        # start_to_close is short so that an attempt lost with a kill is retried soon.
        timeout = timedelta(seconds=5)
        doubled = await workflow.execute_activity(double, n, start_to_close_timeout=timeout)
        await workflow.sleep(1)
        await workflow.wait_condition(lambda: self.bonus is not None)
        assert self.bonus is not None
        return await workflow.execute_activity(
            increment, doubled + self.bonus, start_to_close_timeout=timeout
        )

    @workflow.signal
    def add(self, bonus: int) -> None:
        self.bonus = bonus


def expected(n: int) -> int:
    return n * 2 + 7 + 1


def _run_worker(target: str, log: str) -> None:
    with open(log, "ab") as out:  # the SDK's warnings while the server is down go there
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)

    async def main() -> None:
        while True:
            try:
                client = await Client.connect(target)
                break
            except Exception:
                await asyncio.sleep(0.5)
        # Unsandboxed: the sandbox cannot re-import a script run as __main__ in a spawned process.
        worker = Worker(
            client,
            task_queue=TASK_QUEUE,
            workflows=[SoakWorkflow],
            activities=[double, increment],
            workflow_runner=UnsandboxedWorkflowRunner(),
        )
        await worker.run()

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    asyncio.run(main())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    command: list[str]
    log: Path
    target: str
    proc: subprocess.Popen[bytes] | None = None
    recoveries: list[float] = field(default_factory=list)

    async def start(self, timeout: float = 60.0) -> float:
        """Start it and wait until it answers; seconds that took."""
        began = time.monotonic()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}; see {self.log}")
            try:
                client = await Client.connect(self.target)
                await client.workflow_service.get_system_info(GetSystemInfoRequest())
                return time.monotonic() - began
            except Exception:
                if time.monotonic() - began > timeout:
                    raise
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@dataclass
class Tally:
    acknowledged: int = 0
    unacknowledged: int = 0
    completed: int = 0
    lost: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    kills: int = 0


async def _one(client: Client, tally: Tally, n: int, deadline: list[float]) -> None:
    """Start one workflow (again under a new id if the start was not acknowledged), signal
    it, and read its result: the right one, or it counts as lost or wrong."""
    while True:
        workflow_id = f"soak-{n}-{uuid.uuid4().hex[:8]}"
        try:
            handle = await client.start_workflow(SoakWorkflow.run, n, id=workflow_id, task_queue=TASK_QUEUE)
            break
        except Exception:
            tally.unacknowledged += 1
            await asyncio.sleep(0.2)
    tally.acknowledged += 1
    signaled = False
    while True:
        try:
            if not signaled:
                await handle.signal(SoakWorkflow.add, 7)
                signaled = True
            result = await asyncio.wait_for(handle.result(), 10)
            break
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                tally.lost.append(f"{workflow_id}: {error.message}")
                return
        except WorkflowFailureError as error:
            tally.wrong.append(f"{workflow_id}: failed: {error.cause!r}")
            return
        except TimeoutError:
            pass
        if time.monotonic() > deadline[0]:
            tally.lost.append(f"{workflow_id}: not done by the end of the drain")
            return
        await asyncio.sleep(0.2)
    tally.completed += 1
    if result != expected(n):
        tally.wrong.append(f"{workflow_id}: {result} != {expected(n)}")


async def _drive(client: Client, tally: Tally, in_flight: int, until: float, drain: float) -> None:
    """Keep `in_flight` workflows running until `until`, then let the last ones finish."""
    gate = asyncio.Semaphore(in_flight)
    deadline = [float("inf")]

    async def gated(n: int) -> None:
        try:
            await _one(client, tally, n, deadline)
        finally:
            gate.release()

    tasks = set()
    n = 0
    while time.monotonic() < until:
        await gate.acquire()
        n += 1
        task = asyncio.create_task(gated(n))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    deadline[0] = time.monotonic() + drain
    await asyncio.gather(*tasks)


async def _kill_loop(server: Server, tally: Tally, every: tuple[float, float], until: float) -> None:
    while True:
        await asyncio.sleep(random.uniform(*every))
        if time.monotonic() >= until:
            return
        server.kill()
        tally.kills += 1
        server.recoveries.append(await server.start())


async def soak(args: argparse.Namespace) -> int:
    port = _free_port()
    target = f"127.0.0.1:{port}"
    work = Path(tempfile.mkdtemp(prefix="clepsydra-soak-"))
    database = ["--db-url", args.db_url] if args.db_url else ["--db-filename", str(work / "soak.db")]
    kind = "start" if args.db_url else "start-dev"
    command = [sys.executable, "-m", "clepsydra", "server", kind, "--port", str(port), *database,
               "--log-level", "warn", *([] if args.db_url else ["--headless"])]  # fmt: skip
    server = Server(command, work / "server.log", target)
    await server.start()
    context = mp.get_context("spawn")
    workers = [
        context.Process(target=_run_worker, args=(target, str(work / "workers.log")), daemon=True)
        for _ in range(args.workers)
    ]
    for process in workers:
        process.start()
    tally = Tally()
    try:
        client = await Client.connect(target)
        until = time.monotonic() + args.minutes * 60
        low, _, high = args.kill_every.partition(":")
        every = (float(low), float(high or low))
        await asyncio.gather(
            _drive(client, tally, args.in_flight, until, args.drain), _kill_loop(server, tally, every, until)
        )
    finally:
        for process in workers:
            process.terminate()
        server.stop()
    recoveries = server.recoveries or [0.0]
    print(f"soak: {args.minutes} min, kill -9 every {args.kill_every} s, {args.in_flight} in flight")
    print(f"  kills: {tally.kills}; answering again after p50 {statistics.median(recoveries):.2f} s, "
          f"max {max(recoveries):.2f} s")  # fmt: skip
    print(f"  starts acknowledged: {tally.acknowledged}; not acknowledged (retried): {tally.unacknowledged}")
    right = tally.completed - len(tally.wrong)
    print(f"  completed with the right result: {right}; lost: {len(tally.lost)}; wrong: {len(tally.wrong)}")
    for line in (tally.lost + tally.wrong)[:20]:
        print(f"    {line}")
    print(f"  logs: {server.log}, {work / 'workers.log'}")
    return 1 if tally.lost or tally.wrong else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--kill-every", default="2:8", help="seconds between kills: MIN:MAX")
    parser.add_argument("--in-flight", type=int, default=20, help="workflows running at once")
    parser.add_argument("--workers", type=int, default=2, help="SDK worker processes")
    parser.add_argument("--drain", type=float, default=120.0, help="seconds for the last workflows to finish")
    parser.add_argument("--db-url", default=None, help="a migrated PostgreSQL database instead of a file")
    sys.exit(asyncio.run(soak(parser.parse_args())))


if __name__ == "__main__":
    main()
