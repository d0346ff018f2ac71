#!/usr/bin/env python3
"""Nexus operations between namespaces: how many a second, and how long each takes.

    python bench/nexus.py                       # 200 of each kind, Clepsydra and the reference
    python bench/nexus.py --count 50 --reference none

Each server (servers.py, on a fresh SQLite file) gets a handler namespace and an endpoint
targeting it; one SDK worker runs the handlers, another the callers. --count caller
workflows, --concurrency at a time, each call one operation: a sync one (the handler
answers the start request) and one backed by a workflow (started by the handler, its
result delivered to the caller by the completion callback). The table gives operations per
second and the median and 95th percentile of a caller workflow's duration, start to result.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import nexusrpc
import nexusrpc.handler
from temporalio import nexus, workflow
from temporalio.api.nexus.v1 import EndpointSpec, EndpointTarget
from temporalio.api.operatorservice.v1 import CreateNexusEndpointRequest
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

sys.path.insert(0, str(Path(__file__).parent))
import servers

ENDPOINT = "bench-endpoint"
HANDLERS = "bench-handlers"


@nexusrpc.service
class Bench:
    echo: nexusrpc.Operation[str, str]
    run: nexusrpc.Operation[str, str]


@workflow.defn
class Answer:
    @workflow.run
    async def run(self, text: str) -> str:
        return text


@nexusrpc.handler.service_handler(service=Bench)
class BenchHandler:
    @nexusrpc.handler.sync_operation
    async def echo(self, ctx: nexusrpc.handler.StartOperationContext, text: str) -> str:
        return text

    @nexus.workflow_run_operation
    async def run(self, ctx: nexus.WorkflowRunOperationContext, text: str) -> nexus.WorkflowHandle[str]:
        return await ctx.start_workflow(Answer.run, text, id=f"answer-{uuid.uuid4()}")


@workflow.defn
class Call:
    @workflow.run
    async def run(self, operation: str) -> str:
        client = workflow.create_nexus_client(service=Bench, endpoint=ENDPOINT)
        result: str = await client.execute_operation(operation, "x", output_type=str)
        return result


async def setup(address: str) -> tuple[Client, Client]:
    client = await Client.connect(address)
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace=HANDLERS, workflow_execution_retention_period=timedelta(days=1))
    )
    await asyncio.sleep(2)  # the reference takes a moment to know a new namespace
    target = EndpointTarget(worker=EndpointTarget.Worker(namespace=HANDLERS, task_queue="bench-handlers"))
    await client.operator_service.create_nexus_endpoint(
        CreateNexusEndpointRequest(spec=EndpointSpec(name=ENDPOINT, target=target))
    )
    await asyncio.sleep(1)
    return client, await Client.connect(address, namespace=HANDLERS)


async def calls(client: Client, operation: str, count: int, concurrency: int) -> tuple[float, list[float]]:
    """(seconds for all, each call's duration)."""
    slots = asyncio.Semaphore(concurrency)
    durations: list[float] = []

    async def one(i: int) -> None:
        async with slots:
            began = time.monotonic()
            result = await client.execute_workflow(
                Call.run, operation, id=f"call-{operation}-{i}-{uuid.uuid4()}", task_queue="bench-callers"
            )
            assert result == "x"
            durations.append(time.monotonic() - began)

    began = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(count)))
    return time.monotonic() - began, durations


async def bench(address: str, count: int, concurrency: int) -> dict[str, float]:
    callers, handlers = await setup(address)
    runner = UnsandboxedWorkflowRunner()
    results: dict[str, float] = {}
    handler_worker = Worker(
        handlers,
        task_queue="bench-handlers",
        workflows=[Answer],
        nexus_service_handlers=[BenchHandler()],
        workflow_runner=runner,
    )
    caller_worker = Worker(callers, task_queue="bench-callers", workflows=[Call], workflow_runner=runner)
    async with handler_worker, caller_worker:
        await calls(callers, "echo", 5, 5)  # warm up
        for operation, label in (("echo", "sync"), ("run", "workflow-backed")):
            seconds, durations = await calls(callers, operation, count, concurrency)
            durations.sort()
            results[f"{label} ops/s"] = count / seconds
            results[f"{label} median ms"] = statistics.median(durations) * 1000
            results[f"{label} p95 ms"] = durations[int(len(durations) * 0.95) - 1] * 1000
    return results


def measure(kind: servers.ServerKind, workdir: Path, args: argparse.Namespace) -> dict[str, float]:
    server = servers.RunningServer(kind, workdir)
    try:
        server.wait_ready(60)
        return asyncio.run(bench(server.address, args.count, args.concurrency))
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--reference", choices=("file", "none"), default="file")
    args = parser.parse_args()
    kinds = [servers.clepsydra()]
    if args.reference != "none":
        kinds.append(servers.reference(args.reference))
    with tempfile.TemporaryDirectory() as directory:
        results = {kind.name: measure(kind, Path(directory), args) for kind in kinds}
    print(f"`python bench/nexus.py --count {args.count} --concurrency {args.concurrency}`\n")
    names = list(results)
    print("| metric | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for metric in next(iter(results.values())):
        print(f"| {metric} | " + " | ".join(f"{results[n][metric]:.3g}" for n in names) + " |")


if __name__ == "__main__":
    main()
