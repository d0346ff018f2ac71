#!/usr/bin/env python3
"""The order and the pace in which a task queue hands out a backlog: priorities, fairness
keys and weights, and a queue rate limit.

    python bench/dispatch_order.py                    # Clepsydra and the reference
    python bench/dispatch_order.py --reference none

Each server (servers.py, on a fresh SQLite file; the reference with fairness on and one
partition, the settings under which its order is exact) runs one workflow that schedules a
backlog of activities on a queue nobody polls yet, then one activity worker takes them one
at a time, recording the order in which they start:

- priorities: 30 activities of priority keys 1, 3 and 5, scheduled lowest priority first;
  reported: how many of the first 10 and 20 started were key 1 and key <= 3;
- fairness: 40 activities of key "heavy" (weight 3) and 40 of key "light" (weight 1),
  all "light" ones scheduled first; reported: the share of "heavy" in the first 40 started
  (a weighted share is 0.75, first-in-first-out 0.0);
- rate limit: 20 activities on a queue limited by UpdateTaskQueueConfig to 5 tasks/s;
  reported: the rate between the first and the last start (one second of burst first).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow
from temporalio.api.taskqueue.v1 import RateLimit
from temporalio.api.workflowservice.v1 import UpdateTaskQueueConfigRequest
from temporalio.client import Client
from temporalio.common import Priority
from temporalio.worker import Worker

sys.path.insert(0, str(Path(__file__).parent))
with workflow.unsafe.imports_passed_through():
    import servers

STARTED: list[str] = []
STARTED_AT: list[float] = []
REFERENCE_SETTINGS = [
    "matching.enableFairness=true",
    "matching.numTaskqueueReadPartitions=1",
    "matching.numTaskqueueWritePartitions=1",
]


@activity.defn
async def step(label: str) -> None:
    STARTED.append(label)
    STARTED_AT.append(time.monotonic())


@workflow.defn
class Backlog:
    @workflow.run
    async def run(self, queue: str, items: list[Any]) -> None:
        """`items`: (label, priority key, fairness key, weight), scheduled in that order."""
        await asyncio.gather(
            *(
                workflow.execute_activity(
                    step,
                    label,
                    task_queue=queue,
                    start_to_close_timeout=timedelta(seconds=60),
                    priority=Priority(
                        priority_key=key or None, fairness_key=fair or None, fairness_weight=weight or None
                    ),
                )
                for label, key, fair, weight in items
            )
        )


async def dispatched(
    client: Client, items: list[Any], rate: float | None = None
) -> tuple[list[str], list[float]]:
    """Schedule `items` while nobody polls their queue, then take them one at a time."""
    queue, workflows = f"order-{uuid.uuid4().hex[:8]}", f"backlog-{uuid.uuid4().hex[:8]}"
    if rate is not None:
        await client.workflow_service.update_task_queue_config(
            UpdateTaskQueueConfigRequest(
                namespace=client.namespace,
                task_queue=queue,
                task_queue_type=2,  # activity
                update_queue_rate_limit=UpdateTaskQueueConfigRequest.RateLimitUpdate(
                    rate_limit=RateLimit(requests_per_second=rate), reason="bench"
                ),
                identity="bench",
            )
        )
    STARTED.clear()
    STARTED_AT.clear()
    async with Worker(client, task_queue=workflows, workflows=[Backlog]):
        handle = await client.start_workflow(
            Backlog.run, args=[queue, items], id=workflows, task_queue=workflows
        )
        while len((await handle.describe()).raw_description.pending_activities) < len(items):
            await asyncio.sleep(0.2)
        async with Worker(client, task_queue=queue, activities=[step], max_concurrent_activities=1):
            await handle.result()
    return list(STARTED), list(STARTED_AT)


async def measure_server(address: str) -> dict[str, float]:
    client = await Client.connect(address)
    keys = [5, 3, 1]
    by_priority = [(f"p{key}", key, "", 0.0) for key in keys for _ in range(10)]
    order, _ = await dispatched(client, by_priority)
    fair = [("light", 0, "light", 1.0)] * 40 + [("heavy", 0, "heavy", 3.0)] * 40
    shared, _ = await dispatched(client, fair)
    _, times = await dispatched(client, [(f"r{i}", 0, "", 0.0) for i in range(20)], rate=5.0)
    after_burst = [t for t in times if t - times[0] >= 1.0]
    return {
        "key 1 among the first 10": order[:10].count("p1"),
        "key <= 3 among the first 20": order[:20].count("p1") + order[:20].count("p3"),
        "heavy share of the first 40": shared[:40].count("heavy") / 40,
        "rate after the burst, tasks/s": (len(after_burst) - 1) / (after_burst[-1] - after_burst[0]),
    }


def measure(kind: servers.ServerKind, workdir: Path) -> dict[str, float]:
    server = servers.RunningServer(kind, workdir)
    try:
        server.wait_ready(60)
        return asyncio.run(measure_server(server.address))
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reference", choices=("file", "none"), default="file")
    args = parser.parse_args()
    kinds = [servers.clepsydra()]
    if args.reference != "none":
        reference = servers.reference(args.reference)
        flags = " ".join(f"--dynamic-config-value {setting}" for setting in REFERENCE_SETTINGS)
        kinds.append(servers.ServerKind(reference.name, f"{reference.command} {flags}"))
    with tempfile.TemporaryDirectory() as directory:
        results = {kind.name: measure(kind, Path(directory)) for kind in kinds}
    names = list(results)
    print("| measure | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for metric in next(iter(results.values())):
        print(f"| {metric} | " + " | ".join(f"{results[n][metric]:.3g}" for n in names) + " |")


if __name__ == "__main__":
    main()
