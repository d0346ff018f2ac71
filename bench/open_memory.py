#!/usr/bin/env python3
"""Memory per open workflow: the server's RSS as open workflows grow, with small and large inputs.

    python bench/open_memory.py                                   # 100 B and 2 MB inputs
    python bench/open_memory.py --input-bytes 2000000 --counts 50,100,200,400 --cache-size-mb 64

For each input size, a fresh dev server on an SQLite file; workflows are started (and left
open: nobody polls their task queue) in rounds up to each count, and after each round the
server's RSS is read from /proc. The cache of workflow state is the one thing that grows
with open workflows, so with a byte-bounded cache the RSS should level off at about the
cache's size (plus the server's own), whatever the inputs hold. `--cache-size-mb` is
passed on only when given (a server without the option takes none).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from temporalio.api.common.v1 import Payload, Payloads, WorkflowType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest, StartWorkflowExecutionRequest
from temporalio.client import Client

MB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def _connect(target: str, proc: subprocess.Popen[bytes]) -> Client:
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            client = await Client.connect(target)
            await client.workflow_service.get_system_info(GetSystemInfoRequest())
            return client
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _measure(
    input_bytes: int, counts: list[int], cache_mb: int | None, concurrency: int
) -> list[tuple[int, float]]:
    port = _free_port()
    with tempfile.TemporaryDirectory() as work:
        command = [sys.executable, "-m", "clepsydra", "server", "start-dev", "--headless",
                   "--port", str(port), "--db-filename", os.path.join(work, "memory.db"),
                   "--log-level", "warn"]  # fmt: skip
        if cache_mb is not None:
            command += ["--cache-size-mb", str(cache_mb)]
        proc = subprocess.Popen(command)
        try:
            client = await _connect(f"127.0.0.1:{port}", proc)
            payloads = Payloads(
                payloads=[Payload(metadata={"encoding": b"binary/plain"}, data=os.urandom(input_bytes))]
            )
            gate = asyncio.Semaphore(concurrency)

            async def start() -> None:
                async with gate:
                    await client.workflow_service.start_workflow_execution(
                        StartWorkflowExecutionRequest(
                            namespace="default",
                            workflow_id=f"open-{uuid.uuid4()}",
                            workflow_type=WorkflowType(name="Open"),
                            task_queue=TaskQueue(name="nobody-polls"),
                            request_id=str(uuid.uuid4()),
                            input=payloads,
                        )
                    )

            await asyncio.sleep(1)
            samples = [(0, _rss_mb(proc.pid))]
            started = 0
            for count in counts:
                await asyncio.gather(*(start() for _ in range(count - started)))
                started = count
                await asyncio.sleep(1)
                samples.append((count, _rss_mb(proc.pid)))
                print(f"  {input_bytes} B inputs: {count} open, RSS {samples[-1][1]:.1f} MB", flush=True)
            return samples
        finally:
            proc.terminate()
            proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--input-bytes", default="100,2000000", help="input sizes to try, comma-separated")
    parser.add_argument("--counts", default=None, help="open workflows after each round (default by size)")
    parser.add_argument("--cache-size-mb", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    print("python bench/open_memory.py " + " ".join(sys.argv[1:]))
    print("| input | open workflows | server RSS MB | MB per workflow since the last row |")
    print("|---:|---:|---:|---:|")
    rows = []
    for size in (int(s) for s in args.input_bytes.split(",")):
        default = "1000,5000,10000,20000" if size < 100_000 else "25,50,100,200,400"
        counts = [int(c) for c in (args.counts or default).split(",")]
        samples = asyncio.run(_measure(size, counts, args.cache_size_mb, args.concurrency))
        for (n0, rss0), (n1, rss1) in itertools.pairwise(samples):
            rows.append(f"| {size:,} B | {n1:,} | {rss1:.0f} | {(rss1 - rss0) / (n1 - n0):.3f} |")
    print("| input | open workflows | server RSS MB | MB per workflow since the last row |")
    print("|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
