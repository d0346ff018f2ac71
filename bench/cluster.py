#!/usr/bin/env python3
"""Throughput of Clepsydra on PostgreSQL with 1, 2, 3... server processes on one database.

    python bench/cluster.py                                # 300 workflows on 1, 2 and 3 processes
    python bench/cluster.py --workflows 100 --processes 1,3

For each process count P: a fresh database (created on --db-url's server, migrated with
--shards, dropped afterwards), P `clepsydra server start` processes on it, and one SDK
worker process per server process, polling it (run.py's worker). The workload is run.py's
chain (ChainWorkflow, 3 activities in sequence), all workflows started at once, spread
round-robin over the processes; each result is awaited through the process the workflow
was started on. Measurement starts once every process holds shards and a warm-up has
run through each one. The table gives completed workflows/s, start-to-result latency
p50/p99, and CPU per workflow (all server processes together; all workers together).

On one machine the processes share its cores, so this measures the cost of the cluster
(forwarding, leases, notifications) at least as much as any gain from it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from run import Errors, dist_ms, log, run_all, run_main, tree_cpu_s, worker_process
from servers import RunningServer, ServerKind

DEFAULT_DB_URL = os.environ.get("CLEPSYDRA_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
SERVER_CMD = f"{sys.executable} -m clepsydra server start --db-url {{url}} --port {{port}} --log-level warn"
WARMUP_PER_PROCESS = 5
Result = dict[str, Any]


# ---------------------------------------------------------------------------
# the database and the servers (the parent process)
# ---------------------------------------------------------------------------


def database_url(base: str, name: str) -> str:
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


async def _admin(base: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(base, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_database(base: str, shards: int) -> str:
    """A new database on `base`'s server, migrated with `shards` shards; its URL."""
    name = f"clepsydra_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(base, f'CREATE DATABASE "{name}"'))
    url = database_url(base, name)
    migrate = [sys.executable, "-m", "clepsydra", "db", "migrate", "--db-url", url, "--shards", str(shards)]
    subprocess.run(migrate, check=True, stdout=subprocess.DEVNULL)
    return url


def drop_database(base: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    asyncio.run(_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _live_owners(url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(DISTINCT owner) FROM shards WHERE lease_expires > clock_timestamp()"
            )
        )
    finally:
        await conn.close()


def wait_balanced(url: str, processes: int, timeout: float) -> bool:
    """Wait until every process holds shards: a newcomer gets its share only after the
    others give theirs back, a few lease renewals after it started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if asyncio.run(_live_owners(url)) >= processes:
            return True
        time.sleep(0.5)
    return False


def run_cluster(processes: int, args: argparse.Namespace, workdir: Path) -> Result | None:
    """One measured run on `processes` server processes: its driver's JSON result."""
    url = create_database(args.db_url, args.shards)
    servers: list[RunningServer] = []
    try:
        command = SERVER_CMD.replace("{url}", url)
        for i in range(processes):
            servers.append(RunningServer(ServerKind(f"p{processes}-server{i + 1}", command), workdir))
        for server in servers:
            server.wait_ready(args.ready_timeout)
        if not wait_balanced(url, processes, args.ready_timeout):
            log(f"[{processes}] a process holds no shard after {args.ready_timeout:.0f} s; measuring anyway")
        addresses = ",".join(server.address for server in servers)
        pids = ",".join(str(server.pid) for server in servers)
        log(f"[{processes}] servers at {addresses}")
        argv = [sys.executable, str(Path(__file__).resolve()), "--drive", "--addresses", addresses]
        argv += ["--server-pids", pids, "--workflows", str(args.workflows)]
        argv += ["--activities", str(args.activities), "--timeout", str(args.timeout)]
        done = subprocess.run(argv, stdout=subprocess.PIPE, text=True)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if not lines:
            tails = "\n".join(f"{s.address}:\n{s.log_tail()}" for s in servers)
            log(f"[{processes}] the driver gave no result; server logs:\n{tails}")
            return None
        result: Result = json.loads(lines[-1])
        result["processes"] = processes
        return result
    finally:
        for server in servers:
            server.stop()
        drop_database(args.db_url, url)


# ---------------------------------------------------------------------------
# the driver (a process of its own per run, as run.py is for compare.py)
# ---------------------------------------------------------------------------


async def drive(args: argparse.Namespace) -> Result:
    """Workers (one process per server), a warm-up through every server, then the chain
    workload spread over the servers."""
    from temporalio.client import Client
    from workloads import ChainWorkflow

    addresses: list[str] = args.addresses.split(",")
    server_pids = [int(p) for p in args.server_pids.split(",")] if args.server_pids else []
    runid = uuid.uuid4().hex[:8]
    task_queue = f"bench-cluster-{runid}"
    context = mp.get_context("spawn")
    stop = context.Event()
    workers: list[Any] = []
    for address in addresses:
        config = {
            "address": address,
            "namespace": "default",
            "task_queue": task_queue,
            "unsandboxed": False,
            "max_concurrent_workflow_tasks": 100,
            "max_concurrent_activities": 100,
            "max_cached_workflows": 10_000,
        }
        ready = context.Event()
        process = context.Process(target=worker_process, args=(config, ready, stop, None), daemon=True)
        process.start()
        workers.append((process, ready))
    try:
        for process, ready in workers:
            deadline = time.monotonic() + 60
            while not ready.wait(0.2):
                if not process.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("a worker process failed to start (see stderr)")
        clients = [await Client.connect(address) for address in addresses]
        n, k = args.workflows, args.activities
        errors = Errors()

        async def chain(i: int, activities: int, prefix: str) -> tuple[float, float]:
            client = clients[i % len(clients)]
            t0 = time.perf_counter()
            handle = await client.start_workflow(
                ChainWorkflow.run, activities, id=f"{prefix}-{runid}-{i}", task_queue=task_queue
            )
            t1 = time.perf_counter()
            result = await handle.result()
            if result != activities:
                raise AssertionError(f"chain result {result} != {activities}")
            return t1 - t0, time.perf_counter() - t0

        warm = WARMUP_PER_PROCESS * len(clients)
        log(f"warm-up: {warm} one-activity workflows")
        await asyncio.gather(*(chain(i, 1, "warm") for i in range(warm)))

        worker_pids = [process.pid for process, _ in workers]
        server0 = sum(tree_cpu_s(pid) for pid in server_pids)
        worker0 = sum(tree_cpu_s(pid) for pid in worker_pids)
        log(f"running chain: {n} workflows of {k} activities over {len(clients)} server(s)")
        t0 = time.perf_counter()
        results = await run_all([chain(i, k, "chain") for i in range(n)], args.timeout, errors)
        elapsed = time.perf_counter() - t0
        server_cpu = sum(tree_cpu_s(pid) for pid in server_pids) - server0
        worker_cpu = sum(tree_cpu_s(pid) for pid in worker_pids) - worker0
        ok = [r for r in results if r is not None]
        for pid in server_pids:
            if not os.path.exists(f"/proc/{pid}"):
                errors.add(f"server pid {pid} exited during the run")
        out: Result = {
            "workload": "chain",
            "workflows": n,
            "activities": k,
            "completed": len(ok),
            "elapsed_s": round(elapsed, 3),
            "wf_per_s": round(len(ok) / elapsed, 3),
            "server_cpu_ms_per_wf": round(1000 * server_cpu / len(ok), 2) if ok and server_pids else None,
            "worker_cpu_ms_per_wf": round(1000 * worker_cpu / len(ok), 2) if ok else None,
            "errors": errors.count,
            "error_samples": errors.samples,
            "ok": errors.count == 0 and len(ok) == n,
        }
        out.update(dist_ms("start_call_ms", [r[0] for r in ok]))
        out.update(dist_ms("wf_latency_ms", [r[1] for r in ok]))
        return out
    finally:
        stop.set()
        for process, _ in workers:
            process.join(15)
            if process.is_alive():
                process.kill()


# ---------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------

COLUMNS = [
    ("processes", "processes"),
    ("completed", "completed"),
    ("wf/s", "wf_per_s"),
    ("latency p50 ms", "wf_latency_ms_p50"),
    ("latency p99 ms", "wf_latency_ms_p99"),
    ("server CPU ms/wf", "server_cpu_ms_per_wf"),
    ("worker CPU ms/wf", "worker_cpu_ms_per_wf"),
    ("errors", "errors"),
]


def table(results: Sequence[Result], markdown: bool) -> str:
    header = [label for label, _ in COLUMNS]
    rows = [[_cell(result.get(key)) for _, key in COLUMNS] for result in results]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---:"] * len(header)) + "|"]
        return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(len(header))]
    return "\n".join(
        "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in [header, *rows]
    )


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if value >= 10 else f"{value:.2f}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workflows", type=int, default=300, help="chain workflows per run (default 300)")
    ap.add_argument(
        "--processes", default="1,2,3", help="server process counts to run, in order (default 1,2,3)"
    )
    ap.add_argument(
        "--db-url",
        default=DEFAULT_DB_URL,
        help="a PostgreSQL server to create (and drop) a database per run on; default the local one "
        "(or CLEPSYDRA_BENCH_POSTGRES)",
    )
    ap.add_argument("--shards", type=int, default=8, help="shards of each run's database (default 8)")
    ap.add_argument("--activities", type=int, default=3, help="activities per chain workflow (default 3)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds allowed for the measured phase")
    ap.add_argument("--ready-timeout", type=float, default=60.0)
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    ap.add_argument("--out", type=Path, default=None, help="append every run's JSON line to this file")
    ap.add_argument("--keep", action="store_true", help="keep the servers' logs")
    # The driver of one run, started by the parent with the servers' addresses.
    ap.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--addresses", help=argparse.SUPPRESS)
    ap.add_argument("--server-pids", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.drive:
        print(json.dumps(asyncio.run(drive(args))), flush=True)
        return 0
    counts = [int(p) for p in args.processes.split(",") if p.strip()]
    workdir = Path(tempfile.mkdtemp(prefix="clepsydra-cluster-"))
    log(f"logs in {workdir}")
    results: list[Result] = []
    ok = True
    for processes in counts:
        result = run_cluster(processes, args, workdir)
        if result is None:
            ok = False
            results.append({"processes": processes})
            continue
        ok = ok and result["ok"]
        if result["error_samples"]:
            log(f"[{processes}] {result['errors']} errors, e.g. {result['error_samples']}")
        results.append(result)
        if args.out is not None:
            with open(args.out, "a") as out:
                out.write(json.dumps(result) + "\n")
    if not args.keep:
        subprocess.run(["rm", "-rf", str(workdir)])
    print(f"\nchain ({args.activities} activities), {args.workflows} workflows, {args.shards} shards, "
          f"{os.cpu_count()} cores; one worker process per server process\n")  # fmt: skip
    print(table(results, args.markdown))
    return 0 if ok else 1


if __name__ == "__main__":
    run_main(main)
