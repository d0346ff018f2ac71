#!/usr/bin/env python3
"""Drive any Temporal-API server with the official Python SDK and measure it.

    python run.py --address 127.0.0.1:7233 --workload chain --count 300 \
        [--server-pid PID] [--worker-processes W] [--label NAME]

Workers run in separate processes (multiprocessing, spawn); this process only
starts workflows, sends signals and waits for results. CPU seconds of the
worker processes and (with --server-pid) of the server's whole process tree are
read from /proc over the measured window, so Linux is required for those.

Progress goes to stderr; the last line on stdout is one JSON object.

    python run.py --address 127.0.0.1:7233 --wait-ready 60   # exit 0 once the
                                                             # namespace answers
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as _dt
import json
import math
import multiprocessing as mp
import os
import platform
import queue as _queue
import random
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

DEFAULT_COUNTS = {"chain": 300, "signup": 200, "latency": 100, "timers": 2000, "starts": 1000, "mixed": 200}
HEADLINES = {  # workload -> (metric, higher_is_better)
    "chain": ("wf_per_s", True),
    "signup": ("wf_per_s", True),
    "latency": ("latency_ms_p50", False),
    # lateness as the workflow sees it: workflow.now() after the timer minus
    # (workflow.now() when it was set + its duration); see wl_timers
    "timers": ("timer_lateness_ms_p99", False),
    "starts": ("starts_per_s", True),
    "mixed": ("wf_per_s", True),
}


def log(*a) -> None:
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# /proc accounting
# ---------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    return s[s.rfind(")") + 2 :].split()


def _ppid_map() -> dict:
    children: dict = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        fl = _stat_fields(int(d))
        if fl is None:
            continue
        children.setdefault(int(fl[1]), []).append(int(d))
    return children


def tree_pids(root: int) -> list:
    children = _ppid_map()
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_cpu_s(root: int) -> float:
    """utime+stime of the process tree, plus what reaped children used."""
    total = 0
    for p in tree_pids(root):
        fl = _stat_fields(p)
        if fl is not None:
            total += int(fl[11]) + int(fl[12]) + int(fl[13]) + int(fl[14])
    return total / CLK_TCK


def _status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(root: int) -> int:
    return sum(_status_kb(p, "VmRSS") for p in tree_pids(root))


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None


def _listen_inodes(port: int) -> set:
    inodes = set()
    for fn in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(fn) as f:
                next(f, None)
                for line in f:
                    parts = line.split()
                    if len(parts) > 9 and parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(parts[9])
        except OSError:
            pass
    return inodes


def port_owner_pids(port: int):
    """PIDs holding a LISTEN socket on port (None when /proc cannot tell)."""
    want = {f"socket:[{i}]" for i in _listen_inodes(port)}
    if not want:
        return None
    owners = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{d}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{d}/fd/{fd}") in want:
                    owners.add(int(d))
                    break
            except OSError:
                pass
    return owners or None


def check_server_pid(address: str, server_pid: int):
    """True if the server_pid tree owns the listening port of a local address,
    None if that cannot be checked (remote address, no /proc access); raises
    if the port is served by some other process (wrong server measured)."""
    if not os.path.exists(f"/proc/{server_pid}"):
        raise RuntimeError(f"--server-pid {server_pid} is not running")
    host, _, port = address.rpartition(":")
    if host.strip("[]") not in ("127.0.0.1", "localhost", "0.0.0.0", "::1", "::") or not port.isdigit():
        return None
    owners = port_owner_pids(int(port))
    if owners is None:
        return None
    others = owners - set(tree_pids(server_pid))
    if others:  # also catches a second listener sharing the port (SO_REUSEPORT)
        raise RuntimeError(
            f"port {port} is (also) served by pid(s) {sorted(others)}, outside --server-pid {server_pid}"
            " and its children: another server is listening there, the measurements would be wrong"
        )
    return True


class RssSampler(threading.Thread):
    def __init__(self, pids: dict, interval: float = 0.25):
        super().__init__(daemon=True)
        self.pids = pids  # name -> list of root pids
        self.interval = interval
        self.peak = {k: 0 for k in pids}
        self.first = {k: None for k in pids}
        self._stop_evt = threading.Event()

    def sample(self) -> None:
        for k, roots in self.pids.items():
            v = sum(tree_rss_kb(r) for r in roots)
            if self.first[k] is None:
                self.first[k] = v
            self.peak[k] = max(self.peak[k], v)

    def run(self) -> None:
        while not self._stop_evt.is_set():
            self.sample()
            self._stop_evt.wait(self.interval)

    def stop(self) -> None:
        self._stop_evt.set()
        self.join()
        self.sample()


# ---------------------------------------------------------------------------
# worker processes
# ---------------------------------------------------------------------------


def worker_process(cfg: dict, ready, stop, statement_q) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_worker_main(cfg, ready, stop, statement_q))


async def _worker_main(cfg: dict, ready, stop, statement_q) -> None:
    import workloads
    from temporalio.client import Client
    from temporalio.worker import UnsandboxedWorkflowRunner, Worker

    if statement_q is not None:
        workloads.set_statement_sink(lambda wid, cents: statement_q.put((wid, cents)))
    client = await Client.connect(cfg["address"], namespace=cfg["namespace"])
    extra = {}
    if cfg["unsandboxed"]:
        extra["workflow_runner"] = UnsandboxedWorkflowRunner()
    async with Worker(
        client,
        task_queue=cfg["task_queue"],
        workflows=workloads.WORKFLOWS,
        activities=workloads.ACTIVITIES,
        max_concurrent_workflow_tasks=cfg["max_concurrent_workflow_tasks"],
        max_concurrent_activities=cfg["max_concurrent_activities"],
        max_cached_workflows=cfg["max_cached_workflows"],
        graceful_shutdown_timeout=timedelta(seconds=2),
        **extra,
    ):
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    k = (len(v) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def dist_ms(prefix: str, seconds: list) -> dict:
    ms = [s * 1000.0 for s in seconds]
    if not ms:
        return {}
    return {
        f"{prefix}_p50": round(pct(ms, 50), 2),
        f"{prefix}_p95": round(pct(ms, 95), 2),
        f"{prefix}_p99": round(pct(ms, 99), 2),
        f"{prefix}_max": round(max(ms), 2),
        f"{prefix}_mean": round(statistics.fmean(ms), 2),
    }


class Errors:
    def __init__(self):
        self.count = 0
        self.samples: list = []

    def add(self, what: str) -> None:
        self.count += 1
        if len(self.samples) < 5:
            self.samples.append(what[:300])


async def run_all(coros, timeout: float, errors: Errors):
    """Run coroutines concurrently; return their results (None for failures)."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    if not tasks:
        return []
    _done, pending = await asyncio.wait(tasks, timeout=timeout)
    for t in pending:
        t.cancel()
    out = []
    for t in tasks:
        if t in pending:
            errors.add("timeout: not finished within --timeout")
            out.append(None)
        elif t.exception() is not None:
            e = t.exception()
            errors.add(f"{type(e).__name__}: {e}")
            out.append(None)
        else:
            out.append(t.result())
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    return out


# ---------------------------------------------------------------------------
# workloads (each returns (units, metrics); units = workflows for CPU/wf)
# ---------------------------------------------------------------------------


async def wl_chain(client, args, tq, runid, errors, ctx):
    from workloads import ChainWorkflow

    n, k = args.count, args.activities

    async def one(i):
        t0 = time.perf_counter()
        h = await client.start_workflow(ChainWorkflow.run, k, id=f"chain-{runid}-{i}", task_queue=tq)
        t1 = time.perf_counter()
        async with ctx["waiters"]:
            r = await h.result()
        if r != k:
            raise AssertionError(f"chain result {r} != {k}")
        return (t1 - t0, time.perf_counter() - t0)

    t0 = time.perf_counter()
    res = await run_all([one(i) for i in range(n)], args.timeout, errors)
    el = time.perf_counter() - t0
    ok = [r for r in res if r is not None]
    m = {
        "elapsed_s": round(el, 3),
        "completed": len(ok),
        "wf_per_s": round(len(ok) / el, 3),
        "act_per_s": round(len(ok) * k / el, 2),
    }
    m.update(dist_ms("start_call_ms", [r[0] for r in ok]))
    m.update(dist_ms("wf_latency_ms", [r[1] for r in ok]))
    return len(ok), m


async def wl_latency(client, args, tq, runid, errors, ctx):
    from workloads import ChainWorkflow

    k = args.activities
    lat, start_lat = [], []
    t_all = time.perf_counter()
    for i in range(args.count):
        try:
            t0 = time.perf_counter()
            h = await client.start_workflow(ChainWorkflow.run, k, id=f"lat-{runid}-{i}", task_queue=tq)
            t1 = time.perf_counter()
            r = await asyncio.wait_for(h.result(), args.timeout)
            t2 = time.perf_counter()
            if r != k:
                raise AssertionError(f"chain result {r} != {k}")
            lat.append(t2 - t0)
            start_lat.append(t1 - t0)
        except Exception as e:
            errors.add(f"{type(e).__name__}: {e}")
    el = time.perf_counter() - t_all
    m = {"elapsed_s": round(el, 3), "completed": len(lat), "wf_per_s": round(len(lat) / el, 3)}
    m.update(dist_ms("latency_ms", lat))
    m.update(dist_ms("start_call_ms", start_lat))
    return len(lat), m


async def wl_timers(client, args, tq, runid, errors, ctx):
    from workloads import TimerWorkflow

    n, s = args.count, args.timer_seconds

    # Each workflow reads its own clock (workflow.now(), which is the server's
    # WorkflowTaskStarted time of the current task) just before setting the
    # timer and right after waking; the headline lateness compares the wake-up
    # reading with the fire time the server scheduled (TimerStarted + s), see
    # timers_from_history. Here, without history:
    #   timer_lateness_from_set: woke - (set + s), both workflow clock; also
    #       counts the first task's completion (set -> TimerStarted)
    # (No client-side timing: with more workflows than --max-waiters the
    # client learns of some results late, which says nothing about the server.)
    # Start calls are limited to --concurrency in flight (0 = all at once): thousands of
    # simultaneous starts measure the client's and the connection's limits, not the timers.
    starts = asyncio.Semaphore(args.concurrency or n)

    async def one(i):
        try:
            async with starts:
                h = await client.start_workflow(TimerWorkflow.run, s, id=f"timer-{runid}-{i}", task_queue=tq)
        except Exception as e:
            raise RuntimeError(f"start: {type(e).__name__}: {e}") from e
        try:
            async with ctx["waiters"]:
                before, after = await h.result()
        except Exception as e:
            raise RuntimeError(f"result: {type(e).__name__}: {e}") from e
        return (before, after)

    t0 = time.perf_counter()
    res = await run_all([one(i) for i in range(n)], args.timeout + s, errors)
    el = time.perf_counter() - t0
    ok = [r for r in res if r is not None]
    m = {"elapsed_s": round(el, 3), "completed": len(ok), "wf_per_s": round(len(ok) / el, 3)}
    m.update(dist_ms("timer_lateness_from_set_ms", [r[1] - (r[0] + s) for r in ok]))
    ctx["timer_results"] = {f"timer-{runid}-{i}": (r[0], r[1]) for i, r in enumerate(res) if r is not None}
    return len(ok), m


async def timers_from_history(client, args, results: dict, errors) -> dict:
    """After the measured window, from each workflow's history:
    timer_lateness     = woke (workflow.now() after the timer) - (TimerStarted + s)
    timer_fire_lateness = TimerFired - (TimerStarted + s)      (the timer queue alone)
    timer_fired_to_wake = WorkflowTaskStarted after TimerFired - TimerFired  (dispatch)"""
    from temporalio.api.enums.v1 import EventType

    ids = sorted(results)
    if 0 <= args.history_sample < len(ids):
        sample = random.Random(args.seed).sample(ids, args.history_sample)  # not just the first started
    else:
        sample = ids
    sem = asyncio.Semaphore(32)
    s = args.timer_seconds
    late, fire, dispatch, clock_skew = [], [], [], []
    counts = {"timer_woke_early": 0, "timer_fired_early": 0}

    async def one(wid):
        async with sem:
            hist = await client.get_workflow_handle(wid).fetch_history()
        started = fired = wft_after = None
        for ev in hist.events:
            t = (
                ev.event_time.ToNanoseconds() / 1e9
            )  # (ToDatetime() is naive UTC; .timestamp() would read it as local)
            if ev.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
                started = t
            elif ev.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
                fired = t
            elif (
                ev.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
                and fired is not None
                and wft_after is None
            ):
                wft_after = t
        if started is None or fired is None:
            raise AssertionError(f"{wid}: history has no TimerStarted/TimerFired")
        woke = results[wid][1]
        due = started + s
        late.append(woke - due)
        fire.append(fired - due)
        counts["timer_woke_early"] += woke < due
        counts["timer_fired_early"] += fired < due - 0.0005
        if wft_after is not None:
            dispatch.append(wft_after - fired)
            clock_skew.append(abs(woke - wft_after))

    await run_all([one(w) for w in sample], 300, errors)
    m = {"history_sampled": len(late), **counts}
    m.update(dist_ms("timer_lateness_ms", late))
    m.update(dist_ms("timer_fire_lateness_ms", fire))
    m.update(dist_ms("timer_fired_to_wake_ms", dispatch))
    # workflow.now() should be exactly that task's start time; a large value
    # here means the server's clock and its history disagree
    m["workflow_clock_vs_history_max_ms"] = round(max(clock_skew) * 1000.0, 3) if clock_skew else None
    return m


async def wl_starts(client, args, tq, runid, errors, ctx):
    from workloads import ChainWorkflow

    n = args.count
    sem = asyncio.Semaphore(args.concurrency or n)

    async def one(i):
        async with sem:
            t0 = time.perf_counter()
            await client.start_workflow(ChainWorkflow.run, 1, id=f"start-{runid}-{i}", task_queue=tq)
            return time.perf_counter() - t0

    t0 = time.perf_counter()
    res = await run_all([one(i) for i in range(n)], args.timeout, errors)
    el = time.perf_counter() - t0
    ok = [r for r in res if r is not None]
    m = {"elapsed_s": round(el, 3), "completed": len(ok), "starts_per_s": round(len(ok) / el, 3)}
    m.update(dist_ms("start_call_ms", ok))
    ctx["started_ids"] = [f"start-{runid}-{i}" for i, r in enumerate(res) if r is not None]
    return len(ok), m


class SimulatedUsers:
    """The people behind the sign-ups: they read the micro-deposit off their
    bank statement (the worker's activity reports it through a queue) and,
    signal_delay seconds later, type an amount in (signal the workflow).
    Users in `wrong` type a different amount, users in `silent` never answer."""

    def __init__(self, client, args, ids, wrong, silent, statement_q, errors, signal):
        self.client, self.args, self.errors, self.signal = client, args, errors, signal
        self.index = {w: i for i, w in enumerate(ids)}
        self.wrong, self.silent = wrong, silent
        self.q = statement_q
        self.loop = asyncio.get_running_loop()
        self.signalled: set = set()
        self.tasks: set = set()
        self.stats = {"signals_sent": 0, "duplicate_deposit_notices": 0}
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)

    async def _send(self, wid, cents):
        if self.args.signal_delay > 0:
            await asyncio.sleep(self.args.signal_delay)
        try:
            await self.client.get_workflow_handle(wid).signal(self.signal, cents)
            self.stats["signals_sent"] += 1
        except Exception as e:
            self.errors.add(f"signal {type(e).__name__}: {e}")

    def _on_deposit(self, wid, cents):
        i = self.index.get(wid)
        if i is None:
            return
        if wid in self.signalled:  # activity retried: the statement shows it again
            self.stats["duplicate_deposit_notices"] += 1
            return
        self.signalled.add(wid)
        if i in self.silent:
            return  # the user walked away
        typed = (cents % 99) + 1 if i in self.wrong else cents
        t = self.loop.create_task(self._send(wid, typed))
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    def _read(self):
        while not self._stop.is_set():
            try:
                wid, cents = self.q.get(timeout=0.1)
            except _queue.Empty:
                continue
            except (EOFError, OSError, ValueError):
                return
            self.loop.call_soon_threadsafe(self._on_deposit, wid, cents)

    def __enter__(self):
        self._reader.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._reader.join()
        for t in list(self.tasks):
            t.cancel()


def _pick_users(args, n):
    rng = random.Random(args.seed)
    order = list(range(n))
    rng.shuffle(order)
    n_wrong = round(n * args.wrong_fraction)
    n_silent = round(n * args.silent_fraction)
    return set(order[:n_wrong]), set(order[n_wrong : n_wrong + n_silent])


async def wl_signup(client, args, tq, runid, errors, ctx):
    from workloads import SignupInput, SignupSaga

    n = args.count
    wrong, silent = _pick_users(args, n)
    ids = [f"signup-{runid}-{i}" for i in range(n)]

    ok_steps = [
        "create_account",
        "post_micro_deposit",
        "mark_verified",
        "remove_credit",
        "send_welcome_email",
    ]
    comp_steps = ["create_account", "post_micro_deposit", "reverse_deposit", "close_account"]

    async def one(i):
        t0 = time.perf_counter()
        h = await client.start_workflow(
            SignupSaga.run,
            SignupInput(email=f"user{i}@example.com", verify_timeout_s=args.verify_timeout),
            id=ids[i],
            task_queue=tq,
        )
        async with ctx["waiters"]:
            r = await h.result()
        if i in wrong:
            exp = ("compensated", "wrong_amount", comp_steps)
        elif i in silent:
            exp = ("compensated", "timeout", comp_steps)
        else:
            exp = ("verified", "", ok_steps)
        if (r.status, r.reason, r.steps) != exp:
            raise AssertionError(f"{ids[i]}: got {(r.status, r.reason, r.steps)} expected {exp}")
        return (time.perf_counter() - t0, r.status)

    with SimulatedUsers(
        client, args, ids, wrong, silent, ctx["statement_q"], errors, SignupSaga.submit_amount
    ) as users:
        t0 = time.perf_counter()
        res = await run_all([one(i) for i in range(n)], args.timeout + args.verify_timeout, errors)
        el = time.perf_counter() - t0
    ok = [r for r in res if r is not None]
    acts = sum(5 if r[1] == "verified" else 4 for r in ok)
    m = {
        "elapsed_s": round(el, 3),
        "completed": len(ok),
        "verified": sum(1 for r in ok if r[1] == "verified"),
        "compensated": sum(1 for r in ok if r[1] == "compensated"),
        "wf_per_s": round(len(ok) / el, 3),
        "act_per_s": round(acts / el, 2),
        **users.stats,
    }
    m.update(dist_ms("wf_latency_ms", [r[0] for r in ok]))
    return len(ok), m


async def wl_mixed(client, args, tq, runid, errors, ctx):
    """A blend per workflow: sign-up with a signal from the user, one child
    workflow (checks the amount), one durable timer (cool-off), 3 activities."""
    from workloads import MixedInput, MixedSignup

    n = args.count
    wrong, silent = _pick_users(args, n)
    ids = [f"mixed-{runid}-{i}" for i in range(n)]

    async def one(i):
        t0 = time.perf_counter()
        h = await client.start_workflow(
            MixedSignup.run,
            MixedInput(
                email=f"user{i}@example.com",
                verify_timeout_s=args.verify_timeout,
                cool_off_s=args.mixed_timer_seconds,
            ),
            id=ids[i],
            task_queue=tq,
        )
        async with ctx["waiters"]:
            r = await h.result()
        if i in wrong:
            exp = (
                "rejected",
                "wrong_amount",
                ["create_account", "post_micro_deposit", "verify_child", "cool_off", "close_account"],
            )
        elif i in silent:
            exp = (
                "rejected",
                "timeout",
                ["create_account", "post_micro_deposit", "verify_child", "cool_off", "close_account"],
            )
        else:
            exp = (
                "verified",
                "",
                ["create_account", "post_micro_deposit", "verify_child", "cool_off", "send_welcome_email"],
            )
        if (r.status, r.reason, r.steps) != exp:
            raise AssertionError(f"{ids[i]}: got {(r.status, r.reason, r.steps)} expected {exp}")
        return (time.perf_counter() - t0, r.status)

    with SimulatedUsers(
        client, args, ids, wrong, silent, ctx["statement_q"], errors, MixedSignup.submit_amount
    ) as users:
        t0 = time.perf_counter()
        res = await run_all([one(i) for i in range(n)], args.timeout + args.verify_timeout, errors)
        el = time.perf_counter() - t0
    ok = [r for r in res if r is not None]
    m = {
        "elapsed_s": round(el, 3),
        "completed": len(ok),
        "verified": sum(1 for r in ok if r[1] == "verified"),
        "rejected": sum(1 for r in ok if r[1] == "rejected"),
        "wf_per_s": round(len(ok) / el, 3),  # parent workflows; each also ran one child
        "act_per_s": round(3 * len(ok) / el, 2),
        **users.stats,
    }
    m.update(dist_ms("wf_latency_ms", [r[0] for r in ok]))
    return len(ok), m


WORKLOADS = {
    "chain": wl_chain,
    "signup": wl_signup,
    "latency": wl_latency,
    "timers": wl_timers,
    "starts": wl_starts,
    "mixed": wl_mixed,
}


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------


async def wait_ready(address: str, namespace: str, seconds: float) -> int:
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    from temporalio.client import Client

    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            client = await Client.connect(address, namespace=namespace)
            await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
            return 0
        except Exception as e:
            last = e
            await asyncio.sleep(0.25)
    log(f"server at {address} not ready after {seconds}s: {last}")
    return 1


async def amain(args) -> dict:
    import temporalio
    from temporalio.client import Client

    wl = args.workload
    if args.count is None:
        args.count = DEFAULT_COUNTS[wl]
    if args.activities is None:
        args.activities = 1 if wl == "latency" else 3
    server_port_verified = None
    if args.server_pid:
        # refuse to measure a process that is not the one answering on --address
        server_port_verified = check_server_pid(args.address, args.server_pid)
        if server_port_verified is None:
            log(f"note: could not verify that pid {args.server_pid} serves {args.address}")
    runid = uuid.uuid4().hex[:8]
    tq = f"bench-{wl}-{runid}"
    cores = os.cpu_count() or 1
    errors = Errors()
    # Waiting for a result is a long poll, and servers cap concurrent long
    # polls per namespace (with 2000 at once the reference answers some with
    # "namespace concurrent poller limit exceeded"), so hold at most
    # --max-waiters of them; latencies are only taken where count <= that.
    ctx: dict = {"waiters": asyncio.Semaphore(args.max_waiters)}

    # workers, in their own processes
    mpc = mp.get_context("spawn")
    statement_q = mpc.Queue() if wl in ("signup", "mixed") else None
    ctx["statement_q"] = statement_q
    stop = mpc.Event()
    procs, readies = [], []
    n_workers = 0 if wl == "starts" else args.worker_processes
    cfg = {
        "address": args.address,
        "namespace": args.namespace,
        "task_queue": tq,
        "unsandboxed": args.unsandboxed,
        "max_concurrent_workflow_tasks": args.max_concurrent_workflow_tasks,
        "max_concurrent_activities": args.max_concurrent_activities,
        "max_cached_workflows": args.max_cached_workflows,
    }
    for _ in range(n_workers):
        ready = mpc.Event()
        p = mpc.Process(target=worker_process, args=(cfg, ready, stop, statement_q), daemon=True)
        p.start()
        procs.append(p)
        readies.append(ready)
    try:
        for p, r in zip(procs, readies, strict=False):
            t_end = time.monotonic() + 60
            while not r.wait(0.2):
                if not p.is_alive() or time.monotonic() > t_end:
                    raise RuntimeError("worker process failed to start (see stderr)")

        client = await Client.connect(args.address, namespace=args.namespace)
        if n_workers and args.warmup:
            from workloads import ChainWorkflow

            warm = args.warmup * n_workers
            log(f"warm-up: {warm} one-activity workflows")
            await asyncio.gather(
                *[
                    (
                        await client.start_workflow(
                            ChainWorkflow.run, 1, id=f"warm-{runid}-{i}", task_queue=tq
                        )
                    ).result()
                    for i in range(warm)
                ]
            )

        worker_pids = [p.pid for p in procs]
        # the server's own background CPU, with nothing to do: it is part of
        # every per-workflow number below, most of all in slow workloads
        server_idle = None
        if args.server_pid and args.idle_sample > 0:
            c0, w0 = tree_cpu_s(args.server_pid), time.perf_counter()
            await asyncio.sleep(args.idle_sample)
            server_idle = (tree_cpu_s(args.server_pid) - c0) / (time.perf_counter() - w0)
        rss_targets = {"worker": worker_pids}
        if args.server_pid:
            rss_targets["server"] = [args.server_pid]
        sampler = RssSampler(rss_targets)
        sampler.sample()
        sampler.start()

        la0 = loadavg()
        srv0 = tree_cpu_s(args.server_pid) if args.server_pid else None
        wrk0 = sum(tree_cpu_s(p) for p in worker_pids)
        cl0 = os.times()
        log(f"running {wl} count={args.count} against {args.address} (task queue {tq})")
        units, metrics = await WORKLOADS[wl](client, args, tq, runid, errors, ctx)
        cl1 = os.times()
        wrk1 = sum(tree_cpu_s(p) for p in worker_pids)
        srv1 = tree_cpu_s(args.server_pid) if args.server_pid else None
        la1 = loadavg()
        sampler.stop()

        if args.server_pid and not os.path.exists(f"/proc/{args.server_pid}"):
            errors.add(f"server pid {args.server_pid} exited during the run")

        # after the measured window
        if wl == "timers" and ctx.get("timer_results") and args.history_sample != 0:
            metrics.update(await timers_from_history(client, args, ctx["timer_results"], errors))
        if wl == "starts" and args.cleanup and ctx.get("started_ids"):
            sem = asyncio.Semaphore(32)

            async def term(wid):
                async with sem:
                    await client.get_workflow_handle(wid).terminate(reason="benchmark cleanup")

            await asyncio.gather(*[term(w) for w in ctx["started_ids"]], return_exceptions=True)
    finally:
        stop.set()
        for p in procs:
            p.join(15)
            if p.is_alive():
                p.terminate()
                p.join(5)

    el = metrics["elapsed_s"]
    worker_cpu = wrk1 - wrk0 if n_workers else None
    server_cpu = (srv1 - srv0) if args.server_pid else None
    client_cpu = (cl1.user + cl1.system) - (cl0.user + cl0.system)

    def per(x):  # per *completed* workflow (per accepted start for "starts")
        return None if x is None or not units else round(x / units, 6)

    head_metric, higher = HEADLINES[wl]
    out = {
        "label": args.label,
        "workload": wl,
        "address": args.address,
        "count": args.count,
        "params": {
            "activities": args.activities if wl in ("chain", "latency") else None,
            "timer_seconds": args.timer_seconds
            if wl == "timers"
            else (args.mixed_timer_seconds if wl == "mixed" else None),
            "wrong_fraction": args.wrong_fraction if wl in ("signup", "mixed") else None,
            "silent_fraction": args.silent_fraction if wl in ("signup", "mixed") else None,
            "verify_timeout_s": args.verify_timeout if wl in ("signup", "mixed") else None,
            "signal_delay_s": args.signal_delay if wl in ("signup", "mixed") else None,
            "worker_processes": n_workers,
            "max_waiters": args.max_waiters,
            "max_concurrent_workflow_tasks": args.max_concurrent_workflow_tasks,
            "max_concurrent_activities": args.max_concurrent_activities,
            "max_cached_workflows": args.max_cached_workflows,
            "sandboxed": not args.unsandboxed,
        },
        "ok": errors.count == 0 and metrics.get("completed") == args.count,
        "errors": errors.count,
        "error_samples": errors.samples,
        **metrics,
        "server_cpu_s": None if server_cpu is None else round(server_cpu, 3),
        "server_cpu_s_per_wf": per(server_cpu),
        "server_cores_busy": None if server_cpu is None else round(server_cpu / el, 3),
        "server_idle_cores_busy": None if server_idle is None else round(server_idle, 4),
        "worker_cpu_s": None if worker_cpu is None else round(worker_cpu, 3),
        "worker_cpu_s_per_wf": per(worker_cpu),
        "worker_cores_busy": None if worker_cpu is None else round(worker_cpu / el, 3),
        "client_cpu_s": round(client_cpu, 3),
        "client_cpu_s_per_wf": per(client_cpu),
        "cores": cores,
        "server_pid": args.server_pid,
        "server_pid_serves_address": server_port_verified,
        "limit_wf_per_s_if_server_free": (round(cores / (worker_cpu / units), 2) if worker_cpu else None),
        "limit_wf_per_s_if_server_free_incl_client": (
            round(cores / ((worker_cpu + client_cpu) / units), 2) if worker_cpu else None
        ),
        "server_rss_mb_start": round(sampler.first["server"] / 1024, 1) if args.server_pid else None,
        "server_rss_mb_peak": round(sampler.peak["server"] / 1024, 1) if args.server_pid else None,
        "worker_rss_mb_peak": round(sampler.peak["worker"] / 1024, 1) if n_workers else None,
        "loadavg_before": la0,
        "loadavg_after": la1,
        "headline": {"metric": head_metric, "value": metrics.get(head_metric), "higher_is_better": higher},
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "temporalio": getattr(temporalio, "__version__", None),
        "python": platform.python_version(),
    }
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--address", default=os.environ.get("TEMPORAL_ADDRESS", "127.0.0.1:7233"))
    ap.add_argument("--namespace", default="default")
    ap.add_argument("--workload", choices=sorted(WORKLOADS), default="chain")
    ap.add_argument(
        "--count",
        type=int,
        default=None,
        help="workflows (latency: sequential runs); default "
        + ", ".join(f"{k}={v}" for k, v in DEFAULT_COUNTS.items()),
    )
    ap.add_argument(
        "--activities", type=int, default=None, help="activities per chain workflow (chain 3, latency 1)"
    )
    ap.add_argument("--timer-seconds", type=float, default=5.0, help="timers: durable sleep per workflow")
    ap.add_argument(
        "--mixed-timer-seconds", type=float, default=1.0, help="mixed: the cool-off timer per workflow"
    )
    ap.add_argument(
        "--history-sample",
        type=int,
        default=-1,
        help="timers: histories read after the run for the lateness metrics (-1 all, N a random "
        "sample, 0 none: then only timer_lateness_from_set and the e2e lateness are reported)",
    )
    ap.add_argument(
        "--wrong-fraction", type=float, default=0.10, help="signup, mixed: users who type a wrong amount"
    )
    ap.add_argument(
        "--silent-fraction",
        type=float,
        default=0.0,
        help="signup, mixed: users who never answer (timeout path)",
    )
    ap.add_argument(
        "--verify-timeout",
        type=float,
        default=120.0,
        help="signup, mixed: seconds the workflow waits for the amount",
    )
    ap.add_argument(
        "--signal-delay",
        type=float,
        default=0.5,
        help="signup, mixed: seconds between the deposit showing on the statement and the user typing it",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--max-waiters",
        type=int,
        default=500,
        help="most result() long polls in flight at once (servers limit concurrent long polls)",
    )
    ap.add_argument(
        "--concurrency", type=int, default=0, help="starts, timers: most start calls in flight (0 = all)"
    )
    ap.add_argument(
        "--no-cleanup",
        dest="cleanup",
        action="store_false",
        help="starts: leave the started workflows running (default: terminate them after measuring)",
    )
    ap.add_argument(
        "--server-pid", type=int, default=None, help="server process; its whole process tree is measured"
    )
    ap.add_argument("--worker-processes", type=int, default=1)
    ap.add_argument("--max-concurrent-workflow-tasks", type=int, default=100)
    ap.add_argument("--max-concurrent-activities", type=int, default=100)
    ap.add_argument("--max-cached-workflows", type=int, default=10000)
    ap.add_argument("--unsandboxed", action="store_true", help="run workflows without the SDK sandbox")
    ap.add_argument(
        "--warmup", type=int, default=5, help="one-activity workflows per worker before measuring"
    )
    ap.add_argument(
        "--idle-sample",
        type=float,
        default=2.0,
        help="seconds the idle server's CPU is measured before the run (server_idle_cores_busy; 0 skips)",
    )
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds allowed for the measured phase")
    ap.add_argument("--label", default=None, help="free text copied into the JSON")
    ap.add_argument(
        "--wait-ready",
        type=float,
        default=None,
        metavar="SECONDS",
        help="only wait until the server answers DescribeNamespace, then exit",
    )
    args = ap.parse_args(argv)

    if args.wait_ready is not None:
        return asyncio.run(wait_ready(args.address, args.namespace, args.wait_ready))
    out = asyncio.run(amain(args))
    print(json.dumps(out), flush=True)
    return 0 if out["ok"] else 1


def _exit(rc: int) -> None:
    # The interpreter sometimes aborts while finalizing (SIGABRT/SIGSEGV from
    # grpcio's and the SDK's native threads: "PyGILState_Release: thread state
    # must be current"), which would replace our exit status; everything that
    # matters is done and flushed by now, so leave without finalizing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)


def run_main(main: Callable[[], int]) -> None:
    """Run a benchmark's main() as a script: its exit status, and a traceback for a crash."""
    try:
        rc = main()
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
        if e.code is not None and not isinstance(e.code, int):
            log(e.code)
    except KeyboardInterrupt:
        rc = 130
    except BaseException:
        import traceback

        traceback.print_exc()
        rc = 2
    _exit(rc)


if __name__ == "__main__":
    run_main(main)
