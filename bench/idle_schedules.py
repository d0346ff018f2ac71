#!/usr/bin/env python3
"""The cost of many idle schedules: creating them, the memory they hold, the CPU they use.

    python bench/idle_schedules.py                    # 1,000 schedules, Clepsydra and the reference
    python bench/idle_schedules.py --count 200 --idle 10 --reference none    # a quick look

Each server (servers.py, on a fresh SQLite file) gets --count schedules, each firing once
a day at its own minute (so none fires during the run: they are idle, as most schedules are
most of the time), created --concurrency at a time through the SDK's schedule client. The
table gives the creation rate, the server's RSS before and after, and the CPU the server
used per minute while the schedules sat idle for --idle seconds, read from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleCalendarSpec,
    ScheduleRange,
    ScheduleSpec,
)

sys.path.insert(0, str(Path(__file__).parent))
import run
import servers


async def create_all(address: str, count: int, concurrency: int) -> float:
    """Create the schedules; the seconds it took."""
    client = await Client.connect(address)
    slots = asyncio.Semaphore(concurrency)

    async def create(i: int) -> None:
        spec = ScheduleSpec(
            calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(3)], minute=[ScheduleRange(i % 60)])]
        )
        action = ScheduleActionStartWorkflow("Nightly", id=f"nightly-{i}", task_queue="nobody-polls")
        async with slots:
            await client.create_schedule(f"idle-{i}", Schedule(action=action, spec=spec))

    began = time.monotonic()
    await asyncio.gather(*(create(i) for i in range(count)))
    return time.monotonic() - began


def measure(kind: servers.ServerKind, workdir: Path, args: argparse.Namespace) -> dict[str, float]:
    server = servers.RunningServer(kind, workdir)
    try:
        server.wait_ready(60)
        rss_before = run.tree_rss_kb(server.pid) / 1024
        seconds = asyncio.run(create_all(server.address, args.count, args.concurrency))
        time.sleep(2)  # let the last writes settle
        cpu_start, idle_start = run.tree_cpu_s(server.pid), time.monotonic()
        time.sleep(args.idle)
        cpu = run.tree_cpu_s(server.pid) - cpu_start
        idle = time.monotonic() - idle_start
        return {
            "schedules/s": args.count / seconds,
            "RSS before MB": rss_before,
            "RSS after MB": run.tree_rss_kb(server.pid) / 1024,
            "idle CPU s/min": cpu / idle * 60,
        }
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds the schedules sit idle")
    parser.add_argument("--reference", choices=("file", "none"), default="file")
    args = parser.parse_args()
    kinds = [servers.clepsydra()]
    if args.reference != "none":
        kinds.append(servers.reference(args.reference))
    with tempfile.TemporaryDirectory() as directory:
        results = {kind.name: measure(kind, Path(directory), args) for kind in kinds}
    command = f"python bench/idle_schedules.py --count {args.count} --idle {args.idle:g}"
    print(f"`{command}`: {args.count} schedules\n")
    names = list(results)
    print("| metric | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for metric in next(iter(results.values())):
        print(f"| {metric} | " + " | ".join(f"{results[n][metric]:.3g}" for n in names) + " |")


if __name__ == "__main__":
    main()
