#!/usr/bin/env python3
"""What TLS, mutual TLS and bearer tokens cost per RPC, against plaintext.

    python bench/security.py                          # 3 rounds of 2,000 calls of each kind
    python bench/security.py --calls 300 --rounds 1   # a smoke test

One Clepsydra server process per configuration (in memory, on fresh certificates and keys
made by `tests/security_support.py`): plaintext; mutual TLS; an RS256 token; both. One SDK
client (one gRPC connection, as a worker or an application has) makes the calls one after
another: DescribeNamespace (the cheapest RPC that is checked) and StartWorkflowExecution (a
durable write). The table gives the client-side latency and the server's CPU per call,
read from /proc before and after, each the median of the rounds (the configurations take
turns in each round, so that a busy moment of the machine does not fall on one alone).
Connection set-up (the TLS handshake) is paid once per connection and is not in the
figures; the token is verified once and its claims kept (`security/tokens.py`), which the
last rows measure by sending a different token with each call.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.api.common.v1 import WorkflowType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    GetSystemInfoRequest,
    StartWorkflowExecutionRequest,
)
from temporalio.client import Client, TLSConfig

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.security_support import Pki, make_pki
from tests.server_process import free_port

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


async def start_server(args: list[str], log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    command = [sys.executable, "-m", "clepsydra", "server", "start-dev", "--headless", "--port", str(port)]
    command += ["--http-port", str(free_port()), "--log-level", "warn", *args]
    with open(log, "ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    return process, port


async def connect(port: int, tls: TLSConfig | bool, token: str | None) -> Client:
    for _ in range(300):
        try:
            client = await Client.connect(f"127.0.0.1:{port}", tls=tls, api_key=token)
            await client.workflow_service.get_system_info(GetSystemInfoRequest())
            return client
        except Exception:
            await asyncio.sleep(0.1)
    raise TimeoutError("the server did not start")


async def measure(
    pid: int, calls: int, call: Callable[[int], Awaitable[object]]
) -> tuple[float, float, float]:
    """(p50 ms, p99 ms, server CPU µs per call) of `calls` calls made one after another."""
    for i in range(min(100, calls)):  # warm up
        await call(-i - 1)
    latencies = []
    cpu_before = cpu_seconds(pid)
    for i in range(calls):
        started = time.perf_counter()
        await call(i)
        latencies.append(time.perf_counter() - started)
    cpu = cpu_seconds(pid) - cpu_before
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)]
    return statistics.median(latencies) * 1e3, p99 * 1e3, cpu / calls * 1e6


async def run_configuration(name: str, pki: Pki, directory: Path, calls: int) -> dict[str, tuple]:
    tls, token = "tls" in name, "jwt" in name
    args: list[str] = []
    if tls:
        args += ["--tls-cert-file", str(pki.server_cert), "--tls-key-file", str(pki.server_key)]
        args += ["--tls-client-ca-file", str(pki.ca)]
    if token:
        args += ["--auth-jwks-file", str(pki.jwks)]
    client_tls: TLSConfig | bool = False
    if tls:
        client_tls = TLSConfig(
            server_root_ca_cert=pki.ca.read_bytes(),
            domain="localhost",
            client_cert=pki.client_cert.read_bytes(),
            client_private_key=pki.client_key.read_bytes(),
        )
    process, port = await start_server(args, directory / f"{name}.log")
    try:
        client = await connect(port, client_tls, pki.signer.token("default:write") if token else None)
        service = client.workflow_service
        results = {}
        results["describe"] = await measure(
            process.pid,
            calls,
            lambda _: service.describe_namespace(DescribeNamespaceRequest(namespace="default")),
        )
        queue = f"bench-{uuid.uuid4().hex[:6]}"

        def start(i: int) -> Awaitable[object]:
            return service.start_workflow_execution(
                StartWorkflowExecutionRequest(
                    namespace="default",
                    workflow_id=f"{queue}-{i}",
                    workflow_type=WorkflowType(name="Bench"),
                    task_queue=TaskQueue(name=queue),
                    request_id=str(uuid.uuid4()),
                )
            )

        results["start"] = await measure(process.pid, calls, start)
        if token:  # a new token with every call: the signature checked each time
            tokens = [pki.signer.token("default:write", subject=f"s{i}") for i in range(calls + 100)]

            async def cold(i: int) -> object:
                request = DescribeNamespaceRequest(namespace="default")
                return await service.describe_namespace(
                    request, metadata={"authorization": f"Bearer {tokens[i]}"}
                )

            results["describe, new token each call"] = await measure(process.pid, calls, cold)
        return results
    finally:
        process.terminate()
        process.wait(timeout=15)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    names = ("plaintext", "mtls", "jwt", "mtls+jwt")
    rounds: dict[str, list[dict[str, tuple]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as work:
        directory = Path(work)
        pki = make_pki(directory)
        for _ in range(options.rounds):
            for name in names:
                rounds[name].append(await run_configuration(name, pki, directory, options.calls))
    table = {
        name: {
            rpc: tuple(statistics.median(result[rpc][i] for result in results) for i in range(3))
            for rpc in results[0]
        }
        for name, results in rounds.items()
    }
    print(f"    python bench/security.py --calls {options.calls} --rounds {options.rounds}\n")
    print("| RPC | configuration | p50 ms | p99 ms | server CPU µs/call |")
    print("|---|---|---:|---:|---:|")
    for rpc in ("describe", "start", "describe, new token each call"):
        for name, results in table.items():
            if rpc in results:
                p50, p99, cpu = results[rpc]
                print(f"| {rpc} | {name} | {p50:.3f} | {p99:.3f} | {cpu:.0f} |")


if __name__ == "__main__":
    asyncio.run(main())
