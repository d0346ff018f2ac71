#!/usr/bin/env python3
"""Many open durable timers, and many coming due at once: memory and lateness.

    python bench/open_timers.py                   # phase A then B, on one Clepsydra server
    python bench/open_timers.py --quick           # a smoke test (seconds, not a measurement)
    python bench/open_timers.py --phase b --reference    # phase B on the reference too

Phase A (open timers): --workflows W each set --timers-per-workflow K long timers (a day
and more; 1,000 x 1,000 by default) in their first workflow task, then wait. Once every
workflow's history shows its K TimerStarted events, the workers stop and the server,
holding W x K pending timers, is left alone for a while: its RSS then (and at its peak
while the timers were created) is the number to watch, since the server keeps in memory
only the timers due within the next minute. It is then restarted on the same database
(unless --no-restart), which shows the memory of a server that has to recover that many
timers rather than the one that just created them, and how long recovery takes.

Phase B (due rate): --due-workflows set timers whose due times are spread evenly over
--due-seconds at --due-rate per second (20 s at 1,000/s over 200 workflows by default),
all set a --lead of some seconds before the first comes due; workers stay up to take the
workflow tasks each firing schedules. Each timer's lateness is read from history
afterwards: TimerFired's event time minus (TimerStarted's event time + its
start_to_fire_timeout), i.e. against the fire time the server itself scheduled. With
--phase both, B runs on the server that still holds A's timers.

Both phases start the server (servers.py) on an SQLite file, run the SDK workers in
their own processes, and read the server's RSS and CPU from /proc (run.py's helpers).
The command line that produced a table is printed with it, and so are the warning and
error lines of the servers' logs. The machine is shared by the server, the workers and
anything else running: the table gives the cores each used, and phase B's lateness second
by second next to the cores busy in that second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing as mp
import shlex
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import workflow
from temporalio.client import Client

with workflow.unsafe.imports_passed_through():  # the worker's sandbox re-imports this module
    from compare import machine
    from run import CLK_TCK, RssSampler, dist_ms, loadavg, log, pct, run_main, tree_cpu_s, tree_rss_kb
    from servers import CLEPSYDRA_CMD, RunningServer, ServerKind, reference

OPEN_TIMER_DAYS = 1  # phase A's timers: never due while the benchmark runs
MIN_TIMER_S = 0.001  # a timer set after its intended due time still gets a (tiny) duration
TARGET_RSS_MB = 1024.0
TARGET_P99_MS = 100.0
QUICK = {
    "workflows": 20,
    "timers_per_workflow": 50,
    "settle": 5.0,
    "due_rate": 100.0,
    "due_seconds": 5.0,
    "due_workflows": 20,
    "lead": 5.0,
}
Metrics = dict[str, Any]


# ---------------------------------------------------------------------------
# workflows (run by the worker processes, inside the SDK's sandbox)
# ---------------------------------------------------------------------------


@workflow.defn(name="OpenTimers")
class OpenTimersWorkflow:
    """Sets `timers` durable timers at once, the first due in `first_s` seconds, and waits."""

    @workflow.run
    async def run(self, timers: int, first_s: float) -> None:
        await asyncio.gather(*(asyncio.sleep(first_s + i) for i in range(timers)))


@workflow.defn(name="DueTimers")
class DueTimersWorkflow:
    """Sets one timer per due time (seconds since the epoch) and returns, once all have
    fired, how many of them were set after their due time (they say the --lead was short)."""

    @workflow.run
    async def run(self, due: list[float]) -> int:
        now = workflow.now().timestamp()
        durations = [max(MIN_TIMER_S, t - now) for t in due]
        await asyncio.gather(*(asyncio.sleep(d) for d in durations))
        return sum(t - now < MIN_TIMER_S for t in due)


# ---------------------------------------------------------------------------
# worker processes
# ---------------------------------------------------------------------------


def worker_process(cfg: dict[str, Any], ready: Any, stop: Any) -> None:
    """Entry point of a spawned worker process (an Event each for ready and stop)."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_worker_main(cfg, ready, stop))


async def _worker_main(cfg: dict[str, Any], ready: Any, stop: Any) -> None:
    # Imported by name, not as __mp_main__: the sandbox re-imports the workflows' module.
    import open_timers
    from temporalio.worker import Worker

    client = await Client.connect(cfg["address"])
    async with Worker(
        client,
        task_queue=cfg["task_queue"],
        workflows=[open_timers.OpenTimersWorkflow, open_timers.DueTimersWorkflow],
        max_concurrent_workflow_tasks=cfg["max_concurrent_workflow_tasks"],
        max_cached_workflows=cfg["max_cached_workflows"],
        graceful_shutdown_timeout=timedelta(seconds=2),
    ):
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)


@contextlib.contextmanager
def workers(address: str, task_queue: str, count: int, cached: int, tasks: int) -> Iterator[list[int]]:
    """`count` worker processes polling `task_queue`; yields their pids once all poll."""
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    cfg = {
        "address": address,
        "task_queue": task_queue,
        "max_cached_workflows": cached,
        "max_concurrent_workflow_tasks": tasks,
    }
    procs = []
    try:
        for _ in range(count):
            ready = ctx.Event()
            proc = ctx.Process(target=worker_process, args=(cfg, ready, stop), daemon=True)
            proc.start()
            procs.append(proc)
            deadline = time.monotonic() + 60
            while not ready.wait(0.2):
                if not proc.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("a worker process failed to start (see stderr)")
        yield [p.pid for p in procs if p.pid is not None]
    finally:
        stop.set()
        for proc in procs:
            proc.join(15)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


@dataclass
class Server:
    """A running server and what a phase needs to know of it."""

    kind: ServerKind
    running: RunningServer
    db: Path | None  # the SQLite file whose timers table can be counted (Clepsydra's)
    problems: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.running.pid

    @property
    def address(self) -> str:
        return self.running.address

    def rss_mb(self) -> float:
        return tree_rss_kb(self.pid) / 1024

    def cpu_s(self) -> float:
        return tree_cpu_s(self.pid)

    def stop(self) -> None:
        self.running.stop()
        self.problems += log_problems(self.running.log_path)


def start_server(kind: ServerKind, workdir: Path, db: Path | None, ready_timeout: float) -> Server:
    running = RunningServer(kind, workdir)
    try:
        running.wait_ready(ready_timeout)
    except BaseException:
        running.stop()
        raise
    log(f"[{kind.name}] at {running.address} (pid {running.pid}), log {running.log_path}")
    return Server(kind, running, db)


def log_problems(path: Path) -> list[str]:
    """The server log's warning and error lines (both servers log nothing else at the level used)."""
    if not path.exists():
        return []
    lines = path.read_text(errors="replace").splitlines()
    words = ("warn", "error", "traceback", "exception", "panic")
    return [line for line in lines if any(w in line.lower() for w in words)]


def timers_in_store(db: Path | None) -> Metrics:
    """The pending timers Clepsydra holds durably: its timers table's user timers (task keys
    `t1:...`) and all its rows (workflow task timeouts too, until they fire as no-ops)."""
    if db is None or not db.exists():
        return {}
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)) as conn:
            user, rows = conn.execute("SELECT sum(task_key LIKE 't1:%'), count(*) FROM timers").fetchone()
    except sqlite3.Error as e:
        log(f"could not count the stored timers: {e}")
        return {}
    return {"user_timers_in_store": int(user or 0), "timer_rows_in_store": int(rows)}


async def in_flight(limit: int, coros: list[Awaitable[Any]]) -> list[Any]:
    """Await all, at most `limit` at a time; exceptions are returned, not raised."""
    sem = asyncio.Semaphore(limit)

    async def one(c: Awaitable[Any]) -> Any:
        async with sem:
            return await c

    return await asyncio.gather(*(one(c) for c in coros), return_exceptions=True)


async def history_length(client: Client, workflow_id: str) -> int:
    description = await client.get_workflow_handle(workflow_id).describe()
    return int(description.raw_description.workflow_execution_info.history_length)


async def wait_first_tasks(
    client: Client,
    ids: asyncio.Queue[str | None],
    events: int,
    deadline: float,
    progress: Callable[[int], None],
) -> int:
    """Wait until each started workflow's history has `events` events (its first workflow
    task completed); returns how many did before `deadline` (time.monotonic()).

    Workers take workflows in about the order they were started, so only the oldest few
    unconfirmed ones are asked about at a time."""
    unconfirmed: list[str] = []
    confirmed = 0
    more = True
    while more or unconfirmed:
        while not ids.empty():
            wid = ids.get_nowait()
            if wid is None:
                more = False
            else:
                unconfirmed.append(wid)
        if time.monotonic() > deadline:
            break
        probe = unconfirmed[:16]  # (describing is work for the server too)
        lengths = await in_flight(16, [history_length(client, w) for w in probe])
        done = {w for w, n in zip(probe, lengths, strict=True) if isinstance(n, int) and n >= events}
        unconfirmed = [w for w in unconfirmed if w not in done]
        confirmed += len(done)
        progress(confirmed)
        if len(done) < len(probe) / 2 or not probe:
            await asyncio.sleep(0.5)
    return confirmed


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (all processes, not idle or iowait): other
    work on the machine takes cores from the server too."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / CLK_TCK


class CpuMeter(threading.Thread):
    """CPU seconds of the server's and the workers' process trees and of the whole machine,
    read every second: the cores each kept busy, overall and second by second (other work on
    the machine takes cores from the server too, which lateness alone cannot tell from a
    server falling behind)."""

    def __init__(self, server_pid: int, worker_pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.server_pid, self.worker_pids = server_pid, worker_pids
        self.samples: list[tuple[float, float, float, float]] = []  # time.time(), server, workers, machine
        self._done = threading.Event()

    def _read(self) -> None:
        workers_s = sum(tree_cpu_s(p) for p in self.worker_pids)
        self.samples.append((time.time(), tree_cpu_s(self.server_pid), workers_s, machine_busy_s()))

    def begin(self) -> None:
        self._read()
        self.start()

    def end(self) -> None:
        self._done.set()
        self.join()
        self._read()

    def run(self) -> None:
        while not self._done.wait(1.0):
            self._read()

    def server_s(self) -> float:
        return self.samples[-1][1] - self.samples[0][1]

    def cores(self, suffix: str = "") -> Metrics:
        first, last = self.samples[0], self.samples[-1]
        span = max(last[0] - first[0], 1e-9)
        names = ("server", "worker", "machine")
        return {
            f"{n}_cores_busy{suffix}": round((last[i] - first[i]) / span, 3) for i, n in enumerate(names, 1)
        }

    def by_second(self, start: float) -> dict[int, tuple[float, float]]:
        """(server, machine) cores busy in each reading's interval, by the second from `start`
        it began in."""
        out = {}
        for (ta, sa, _, ma), (tb, sb, _, mb) in itertools.pairwise(self.samples):
            if ta >= start and tb > ta:
                out[int(ta - start)] = (round((sb - sa) / (tb - ta), 2), round((mb - ma) / (tb - ta), 2))
        return out


def per_second(times: list[float], start: float, seconds: float) -> list[int]:
    """How many of `times` fall in each whole second from `start` on, for `seconds` seconds."""
    counts = Counter(int(t - start) for t in times if t >= start)
    return [counts[i] for i in range(max(1, int(seconds)))]


def event_seconds(event: Any) -> float:
    return float(event.event_time.ToNanoseconds()) / 1e9


# ---------------------------------------------------------------------------
# phase A: open timers
# ---------------------------------------------------------------------------


async def phase_a(server: Server, args: argparse.Namespace) -> Metrics:
    w, k = args.workflows, args.timers_per_workflow
    tq = f"open-timers-{uuid.uuid4().hex[:8]}"
    client = await Client.connect(server.address)
    m: Metrics = {"workflows": w, "timers_per_workflow": k, "server_rss_mb_before": round(server.rss_mb(), 1)}
    tasks = args.max_concurrent_workflow_tasks
    with workers(server.address, tq, args.worker_processes, args.max_cached_workflows, tasks) as pids:
        sampler = RssSampler({"server": [server.pid], "worker": pids}, interval=1.0)
        sampler.start()
        meter = CpuMeter(server.pid, pids)
        meter.begin()
        t0 = time.monotonic()
        started: asyncio.Queue[str | None] = asyncio.Queue()
        last_log = [t0]

        async def start(i: int) -> None:
            wid = f"open-{tq}-{i}"
            await client.start_workflow(
                "OpenTimers",
                args=[k, OPEN_TIMER_DAYS * 86400.0],
                id=wid,
                task_queue=tq,
            )
            started.put_nowait(wid)

        async def start_all() -> list[Any]:
            try:
                return await in_flight(args.concurrency, [start(i) for i in range(w)])
            finally:
                started.put_nowait(None)

        def progress(confirmed: int) -> None:
            if time.monotonic() - last_log[0] >= 10 or confirmed == w:
                last_log[0] = time.monotonic()
                el = last_log[0] - t0
                log(
                    f"[{server.kind.name}] A: {confirmed}/{w} workflows, {confirmed * k:,} timers set in"
                    f" {el:.0f}s ({confirmed * k / el:,.0f}/s), server RSS {server.rss_mb():.0f} MB"
                )

        starting = asyncio.create_task(start_all())
        confirmed = await wait_first_tasks(client, started, k + 4, t0 + args.timeout, progress)
        elapsed = time.monotonic() - t0
        meter.end()
        starting.cancel()  # when the deadline passed first
        try:
            outcomes = await starting
        except asyncio.CancelledError:
            outcomes = []
        start_errors = [r for r in outcomes if isinstance(r, BaseException)]
        sampler.stop()
    m.update(
        {
            "complete": confirmed == w,
            "timers_open": confirmed * k,
            "create_s": round(elapsed, 1),
            "timers_per_s": round(confirmed * k / elapsed, 1),
            "start_errors": len(start_errors),
            "server_cpu_s_create": round(meter.server_s(), 1),
            "server_cpu_ms_per_timer_set": round(meter.server_s() * 1000 / max(confirmed * k, 1), 4),
            **meter.cores("_create"),
            "server_rss_mb_peak_create": round(sampler.peak["server"] / 1024, 1),
            "worker_rss_mb_peak": round(sampler.peak["worker"] / 1024, 1),
        }
    )
    if start_errors:
        log(f"[{server.kind.name}] A: {len(start_errors)} start calls failed, e.g. {start_errors[0]!r}")
    if confirmed < w:
        m["projected_full_create_s"] = round(w * k / max(m["timers_per_s"], 1e-9), 0)
    m.update(await settle(server, args.settle, "steady"))
    m.update(timers_in_store(server.db))
    return m


async def settle(server: Server, seconds: float, tag: str) -> Metrics:
    """Leave the server alone for `seconds`: its RSS at the end and at most, its CPU meanwhile."""
    log(f"[{server.kind.name}] leaving the server alone for {seconds:.0f}s")
    sampler = RssSampler({"server": [server.pid]}, interval=1.0)
    sampler.start()
    cpu0, t0 = server.cpu_s(), time.monotonic()
    await asyncio.sleep(seconds)
    cores = (server.cpu_s() - cpu0) / (time.monotonic() - t0)
    sampler.stop()
    return {
        f"server_rss_mb_{tag}": round(server.rss_mb(), 1),
        f"server_rss_mb_peak_{tag}": round(sampler.peak["server"] / 1024, 1),
        f"server_cores_busy_{tag}": round(cores, 3),
    }


def restart(server: Server, workdir: Path, args: argparse.Namespace) -> tuple[Server, float]:
    """The same server on the same database, e.g. to see what recovering the timers costs."""
    server.stop()
    t0 = time.monotonic()
    kind = ServerKind(f"{server.kind.name}-restarted", server.kind.command)
    again = start_server(kind, workdir, server.db, args.ready_timeout)
    again.problems = server.problems
    return again, time.monotonic() - t0


# ---------------------------------------------------------------------------
# phase B: due rate
# ---------------------------------------------------------------------------


async def phase_b(server: Server, args: argparse.Namespace) -> Metrics:
    from temporalio.api.enums.v1 import EventType

    n = round(args.due_rate * args.due_seconds)
    w = min(args.due_workflows, n)
    tq = f"due-timers-{uuid.uuid4().hex[:8]}"
    client = await Client.connect(server.address)
    first_due = time.time() + args.lead
    # Timer j of all (0..n-1) is due at first_due + j / rate; workflow i takes every w-th.
    due = [[first_due + j / args.due_rate for j in range(i, n, w)] for i in range(w)]
    ids = [f"due-{tq}-{i}" for i in range(w)]
    m: Metrics = {"timers": n, "workflows": w, "due_rate": args.due_rate, "due_seconds": args.due_seconds}
    log(
        f"[{server.kind.name}] B: {n:,} timers in {w} workflows,"
        f" due at {args.due_rate:g}/s from {args.lead:.0f}s on"
    )
    cached = max(args.max_cached_workflows, w)
    tasks = args.max_concurrent_workflow_tasks
    with workers(server.address, tq, args.worker_processes, cached, tasks) as pids:
        handles = await in_flight(
            args.concurrency,
            [
                client.start_workflow("DueTimers", d, id=wid, task_queue=tq)
                for wid, d in zip(ids, due, strict=True)
            ],
        )
        failed = [h for h in handles if isinstance(h, BaseException)]
        if failed:
            raise RuntimeError(f"{len(failed)} start calls failed, e.g. {failed[0]!r}")
        # Asked for now: the long polls then wait on the server, rather than arriving with the
        # first timers.
        waiting = asyncio.create_task(in_flight(len(handles), [h.result() for h in handles]))
        await asyncio.sleep(max(0.0, first_due - time.time()))
        sampler = RssSampler({"server": [server.pid], "worker": pids}, interval=1.0)
        sampler.start()
        meter = CpuMeter(server.pid, pids)
        meter.begin()
        results = await asyncio.wait_for(waiting, args.due_seconds + args.timeout)
        meter.end()
        sampler.stop()
    m.update(meter.cores())
    m["cores_by_second"] = meter.by_second(first_due)
    m["loadavg_after"] = loadavg()
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        log(f"[{server.kind.name}] B: {len(errors)} workflows failed, e.g. {errors[0]!r}")
    m["workflow_errors"] = len(errors)
    m["timers_set_late"] = sum(r for r in results if isinstance(r, int))
    m["server_rss_mb_peak"] = round(sampler.peak["server"] / 1024, 1)

    late: list[float] = []
    fired_at: list[float] = []
    due_at: list[float] = []

    async def read(wid: str) -> None:
        started: dict[int, float] = {}
        async for ev in client.get_workflow_handle(wid).fetch_history_events():
            if ev.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
                attrs = ev.timer_started_event_attributes
                started[ev.event_id] = event_seconds(ev) + attrs.start_to_fire_timeout.ToNanoseconds() / 1e9
            elif ev.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
                t = started.pop(ev.timer_fired_event_attributes.started_event_id)
                late.append(event_seconds(ev) - t)
                fired_at.append(event_seconds(ev))
                due_at.append(t)

    read_errors = [r for r in await in_flight(16, [read(wid) for wid in ids]) if isinstance(r, BaseException)]
    if read_errors:
        log(f"[{server.kind.name}] B: {len(read_errors)} histories unreadable, e.g. {read_errors[0]!r}")
    m["timers_fired"] = len(late)
    # Unlike lateness, hardly changed by other work on the machine.
    m["server_cpu_ms_per_fire"] = round(meter.server_s() * 1000 / max(len(late), 1), 3)
    if late:
        m.update(dist_ms("lateness_ms", late))
        # Whether lateness built up (fires falling behind) or came in bursts.
        by_second: dict[int, list[float]] = {}
        for t, x in zip(due_at, late, strict=True):
            by_second.setdefault(int(t - first_due), []).append(x * 1000)
        m["lateness_ms_p99_by_second"] = {s: round(pct(v, 99), 1) for s, v in sorted(by_second.items())}
        m["fired_early"] = sum(x < -0.0005 for x in late)
        m["fired_over_target"] = sum(x * 1000 > TARGET_P99_MS for x in late)
        # Per second of the intended window: a timer is due TimerStarted + its duration, and
        # TimerStarted comes a workflow task's processing after the workflow's clock read.
        due_counts = per_second(due_at, first_due, args.due_seconds)
        fired_counts = per_second(fired_at, first_due, args.due_seconds)
        m["due_per_s"] = statistics.median(due_counts)
        m["due_max_in_1s"] = max(due_counts)
        m["due_after_window_s"] = round(max(due_at) - (first_due + (n - 1) / args.due_rate), 3)
        m["fired_per_s"] = statistics.median(fired_counts)
        m["fired_max_in_1s"] = max(Counter(int(t - first_due) for t in fired_at).values())
    return m


# ---------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------

ROWS_A = [
    ("timers open (histories)", "timers_open"),
    ("user timers in the store", "user_timers_in_store"),
    ("timer rows in the store (all kinds)", "timer_rows_in_store"),
    ("workflows x timers", None),
    ("time to set them (s)", "create_s"),
    ("timers set per second", "timers_per_s"),
    ("projected time for all (s)", "projected_full_create_s"),
    ("server CPU while setting (s)", "server_cpu_s_create"),
    ("  server CPU per timer set (ms)", "server_cpu_ms_per_timer_set"),
    ("  server cores busy meanwhile", "server_cores_busy_create"),
    ("  worker cores busy meanwhile", "worker_cores_busy_create"),
    ("  all processes' cores busy (machine)", "machine_cores_busy_create"),
    ("server RSS before (MB)", "server_rss_mb_before"),
    ("server RSS peak while setting (MB)", "server_rss_mb_peak_create"),
    ("server RSS, left alone (MB)", "server_rss_mb_steady"),
    ("server cores busy, left alone", "server_cores_busy_steady"),
    ("restart: time to answer (s)", "restart_s"),
    ("restart: server RSS (MB)", "server_rss_mb_restarted"),
    ("restart: server cores busy", "server_cores_busy_restarted"),
    ("worker RSS peak (MB)", "worker_rss_mb_peak"),
]
ROWS_B = [
    ("timers (workflows)", None),
    ("open timers meanwhile", "open_timers"),
    ("due per second (median second)", "due_per_s"),
    ("most due in one second", "due_max_in_1s"),
    ("last due after the window (s)", "due_after_window_s"),
    ("fired per second (median second)", "fired_per_s"),
    ("most fired in one second", "fired_max_in_1s"),
    ("lateness p50 (ms)", "lateness_ms_p50"),
    ("lateness p99 (ms)", "lateness_ms_p99"),
    ("lateness max (ms)", "lateness_ms_max"),
    (f"fired > {TARGET_P99_MS:g} ms late", "fired_over_target"),
    ("fired early", "fired_early"),
    ("timers set after due (lead short)", "timers_set_late"),
    ("server CPU per timer fired (ms)", "server_cpu_ms_per_fire"),
    ("server cores busy", "server_cores_busy"),
    ("worker cores busy", "worker_cores_busy"),
    ("all processes' cores busy (machine)", "machine_cores_busy"),
    ("server RSS peak (MB)", "server_rss_mb_peak"),
]


def cell(m: Metrics, key: str | None, phase: str) -> str:
    if key is None:
        if phase == "A":
            return f"{m['workflows']:,} x {m['timers_per_workflow']:,}"
        return f"{m['timers']:,} ({m['workflows']:,})"
    v = m.get(key)
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"


def table(results: dict[str, dict[str, Metrics]], markdown: bool) -> str:
    out: list[str] = []
    for phase, rows in (("A", ROWS_A), ("B", ROWS_B)):
        names = [name for name, by_phase in results.items() if phase in by_phase]
        if not names:
            continue
        title = "A: open timers" if phase == "A" else "B: timers coming due"
        body = [[label] + [cell(results[n][phase], key, phase) for n in names] for label, key in rows]
        body = [r for r in body if any(c != "-" for c in r[1:])]
        head = [title, *names]
        if markdown:
            out += ["| " + " | ".join(head) + " |", "|---" + "|---:" * len(names) + "|"]
            out += ["| " + " | ".join(r) + " |" for r in body]
        else:
            widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
            for r in [head, *body]:
                out.append(
                    "  ".join(
                        [r[0].ljust(widths[0])]
                        + [c.rjust(wd) for c, wd in zip(r[1:], widths[1:], strict=True)]
                    )
                )
        out.append("")
    return "\n".join(out)


def seconds_table(name: str, b: Metrics) -> str:
    """Phase B second by second, from the first due time: lateness against cores busy."""
    late = b["lateness_ms_p99_by_second"]
    cores = b.get("cores_by_second", {})
    seconds = sorted(set(late) | set(cores))
    rows = [
        ["second", *(str(s) for s in seconds)],
        ["p99 lateness (ms)", *(f"{late[s]:.0f}" if s in late else "-" for s in seconds)],
        ["server cores", *(f"{cores[s][0]:.2f}" if s in cores else "-" for s in seconds)],
        ["machine cores", *(f"{cores[s][1]:.2f}" if s in cores else "-" for s in seconds)],
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [f"{name}, B, second by second (timers by due time; cores busy in that second):"]
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [c.rjust(wd) for c, wd in zip(r[1:], widths[1:], strict=True)]
        lines.append("  " + " ".join(cells))
    return "\n".join(lines)


def verdicts(results: dict[str, dict[str, Metrics]]) -> list[str]:
    """The two targets, for Clepsydra."""
    out = []
    a = results.get("clepsydra", {}).get("A")
    if a is not None:
        rss = max(
            a.get(k) or 0.0
            for k in ("server_rss_mb_peak_create", "server_rss_mb_steady", "server_rss_mb_restarted")
        )
        ok = a["complete"] and a["timers_open"] >= 1_000_000 and rss < TARGET_RSS_MB
        out.append(
            f"(a) {a['timers_open']:,} open timers, server RSS at most {rss:,.0f} MB"
            f" (target: 1,000,000 under {TARGET_RSS_MB:,.0f} MB): {'met' if ok else 'not met'}"
        )
    b = results.get("clepsydra", {}).get("B")
    if b is not None and b.get("lateness_ms_p99") is not None:
        ok = (
            b["lateness_ms_p99"] < TARGET_P99_MS
            and b["due_rate"] >= 1000
            and b["timers_fired"] == b["timers"]
        )
        out.append(
            f"(b) {b['due_per_s']:,.0f} timers due per second, p99 lateness {b['lateness_ms_p99']:,.1f} ms"
            f" (target: 1,000/s under {TARGET_P99_MS:g} ms): {'met' if ok else 'not met'}"
        )
    return out


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------


async def run_server(
    kind: ServerKind, db: Path | None, phases: str, workdir: Path, args: argparse.Namespace
) -> tuple[dict[str, Metrics], list[str]]:
    """The phases on one server, started fresh; returns their metrics and the log's problems."""
    out: dict[str, Metrics] = {}
    server = start_server(kind, workdir, db, args.ready_timeout)
    try:
        if "a" in phases:
            out["A"] = await phase_a(server, args)
            if args.restart:
                server, took = restart(server, workdir, args)
                out["A"]["restart_s"] = round(took, 1)
                out["A"].update(await settle(server, args.settle, "restarted"))
        if "b" in phases:
            out["B"] = await phase_b(server, args)
            out["B"]["open_timers"] = out["A"]["timers_open"] if "A" in out else 0
    finally:
        server.stop()
    return out, server.problems


async def amain(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="clepsydra-open-timers-"))
    db = args.db.resolve() if args.db is not None else workdir / "clepsydra.db"
    if any(c.isspace() for c in str(db)):
        raise SystemExit(f"the database path may not contain spaces: {db}")
    log(f"machine: {machine()}; logs in {workdir}")
    kinds: list[tuple[ServerKind, Path | None, str]] = []
    if args.reference:
        ref_phases = args.phase if args.reference_open_timers else args.phase.replace("a", "")
        if ref_phases:
            # on a file of ours, so that a restart finds the same database
            ref = reference("file", args.temporal_bin)
            ref_db = str(workdir / "reference.db")
            kinds.append((ServerKind(ref.name, ref.command.replace("{db}", ref_db)), None, ref_phases))
    kinds.append((ServerKind("clepsydra", CLEPSYDRA_CMD.replace("{db}", str(db))), db, args.phase))
    results: dict[str, dict[str, Metrics]] = {}
    problems: dict[str, list[str]] = {}
    try:
        for kind, kind_db, phases in kinds:
            results[kind.name], problems[kind.name] = await run_server(kind, kind_db, phases, workdir, args)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{machine()}")
    print(f"python bench/open_timers.py {shlex.join(sys.argv[1:])}\n")
    print(table(results, args.markdown))
    for name, by_phase in results.items():
        if "lateness_ms_p99_by_second" in by_phase.get("B", {}):
            print(seconds_table(name, by_phase["B"]))
    print()
    for line in verdicts(results):
        print(line)
    for name, lines in problems.items():
        if lines:
            print(f"\n{name}: {len(lines)} warning/error lines in its log, e.g.:")
            print("\n".join(f"  {line[:300]}" for line in lines[:5]))
    if args.out is not None:
        with open(args.out, "a") as f:
            f.write(json.dumps({"argv": sys.argv[1:], "results": results, "log_problems": problems}) + "\n")
    incomplete = [
        name
        for name, by_phase in results.items()
        if not by_phase.get("A", {"complete": True})["complete"]
        or by_phase.get("B", {}).get("timers_fired") != by_phase.get("B", {}).get("timers")
    ]
    if incomplete:
        log(f"not every timer was set or fired on: {', '.join(incomplete)}")
    return 1 if incomplete else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phase", choices=["a", "b", "both"], default="both")
    ap.add_argument("--workflows", type=int, default=1000, help="A: workflows")
    ap.add_argument("--timers-per-workflow", type=int, default=1000, help="A: timers each workflow sets")
    ap.add_argument("--due-rate", type=float, default=1000.0, help="B: timers due per second")
    ap.add_argument("--due-seconds", type=float, default=20.0, help="B: for how long")
    ap.add_argument("--due-workflows", type=int, default=200, help="B: workflows the timers are spread over")
    ap.add_argument(
        "--lead", type=float, default=15.0, help="B: seconds from the first start to the first due time"
    )
    ap.add_argument(
        "--settle",
        type=float,
        default=40.0,
        help="A: seconds the server is left alone before its RSS is read",
    )
    ap.add_argument(
        "--no-restart",
        dest="restart",
        action="store_false",
        help="A: do not restart the server on the same database",
    )
    ap.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        help="A: seconds allowed for setting the timers (B: for the fires)",
    )
    ap.add_argument("--concurrency", type=int, default=100, help="start calls in flight")
    ap.add_argument("--worker-processes", type=int, default=1)
    ap.add_argument(
        "--max-cached-workflows",
        type=int,
        default=100,
        help="per worker (B: at least its workflows); a sandboxed workflow with 1,000 timers takes MBs",
    )
    ap.add_argument(
        "--max-concurrent-workflow-tasks",
        type=int,
        default=10,
        help="per worker: A's tasks each set --timers-per-workflow timers, so many at once all finish late",
    )
    ap.add_argument(
        "--db", type=Path, default=None, help="Clepsydra's SQLite file, kept (default: a temporary one)"
    )
    ap.add_argument(
        "--reference", action="store_true", help="run phase B against `temporal server start-dev` too"
    )
    ap.add_argument(
        "--reference-open-timers", action="store_true", help="with --reference: phase A too (slow)"
    )
    ap.add_argument("--temporal-bin", default="temporal")
    ap.add_argument("--ready-timeout", type=float, default=120.0)
    ap.add_argument("--quick", action="store_true", help="small numbers: a smoke test, not a measurement")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    ap.add_argument("--out", type=Path, default=None, help="append the results as a JSON line to this file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, database)")
    argv = sys.argv[1:] if argv is None else argv
    args = ap.parse_args(argv)
    if args.quick:
        given = {a.split("=")[0] for a in argv}
        for name, value in QUICK.items():
            if f"--{name.replace('_', '-')}" not in given:
                setattr(args, name, value)
    args.phase = {"both": "ab"}.get(args.phase, args.phase)
    return asyncio.run(amain(args))


if __name__ == "__main__":
    run_main(main)
