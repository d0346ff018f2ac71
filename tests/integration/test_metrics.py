"""Prometheus metrics on --metrics-port: a real server, real RPCs, a real scrape."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import grpc
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import ResourceExhaustedScope
from temporalio.api.errordetails.v1 import NotFoundFailure, ResourceExhaustedFailure
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    DescribeWorkflowExecutionRequest,
    PollActivityTaskQueueRequest,
    PollWorkflowTaskQueueRequest,
)
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from clepsydra.server.metrics import caller_error, error_type
from clepsydra.testing import InProcessServer
from tests.server_process import ServerProcess, free_port, use_reference

# The reference's start-dev serves metrics on a port of its choosing even without the flag,
# and counts its own system workflows' calls too: these counts are Clepsydra's.
pytestmark = pytest.mark.skipif(use_reference(), reason="about Clepsydra's metrics endpoint")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(url: str) -> Samples:
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    response.raise_for_status()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample of that name and labels (the frontend's, unless another service is named)."""
    labels.setdefault("service_name", "frontend")
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str) -> float:
    return sum(v for (sample_name, _), v in samples.items() if sample_name == name)


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process `pid` listens on (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().name
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return {port for port, inode in _listening_sockets() if inode in inodes}


def _listening_sockets() -> Iterator[tuple[int, str]]:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                yield int(fields[1].rsplit(":", 1)[1], 16), fields[9]


linux_only = pytest.mark.skipif(sys.platform != "linux", reason="reads a process's sockets from /proc")


async def test_each_rpc_is_counted_and_timed_and_each_error_by_type_and_code(tmp_path: Path) -> None:
    metrics_port = free_port()
    server = ServerProcess(tmp_path / "m.db", tmp_path / "server.log", "--metrics-port", str(metrics_port))
    await server.start()
    try:
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        client = await Client.connect(server.target)
        before = await scrape(url)
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace="default"))
        await client.start_workflow("Nothing", id="metrics-wf", task_queue="metrics-tq")
        with pytest.raises(RPCError) as missing:
            await client.workflow_service.describe_workflow_execution(
                DescribeWorkflowExecutionRequest(
                    namespace="default", execution=WorkflowExecution(workflow_id="no-such-workflow")
                )
            )
        assert missing.value.status == RPCStatusCode.NOT_FOUND
        with pytest.raises(WorkflowAlreadyStartedError):
            await client.start_workflow("Nothing", id="metrics-wf", task_queue="metrics-tq")
        await client.get_workflow_handle("metrics-wf").terminate("enough")
        after = await scrape(url)
    finally:
        assert server.stop() == 0

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    done = {
        "DescribeNamespace": 1,
        "StartWorkflowExecution": 2,
        "DescribeWorkflowExecution": 1,
        "TerminateWorkflowExecution": 1,
    }
    for operation, count in done.items():
        assert delta("service_requests", operation=operation, namespace="default") == count, operation
        assert delta("service_latency_count", operation=operation, namespace="default") == count, operation
        bucket = {"operation": operation, "namespace": "default", "le": "+Inf"}
        assert delta("service_latency_bucket", **bucket) == count, operation
    assert total(after, "service_requests") - total(before, "service_requests") == sum(done.values())

    missing_run = {"error_type": "serviceerror_NotFound", "status_code": "NOT_FOUND", "namespace": "default"}
    assert delta("service_error_with_type", operation="DescribeWorkflowExecution", **missing_run) == 1
    already = "serviceerror_WorkflowExecutionAlreadyStarted"
    duplicate = {"error_type": already, "status_code": "ALREADY_EXISTS", "namespace": "default"}
    assert delta("service_error_with_type", operation="StartWorkflowExecution", **duplicate) == 1
    errors = total(after, "service_error_with_type") - total(before, "service_error_with_type")
    assert errors == 2
    # Both are the caller's doing, not the server's failures.
    assert total(after, "service_errors") == 0

    # One new execution written; the failed start wrote nothing.
    created = {"service_name": "history", "operation": "CreateWorkflowExecution"}
    assert delta("persistence_requests", **created) == 1
    assert delta("persistence_latency_count", **created) == 1

    # The run that closed, by how it closed.
    assert delta("workflow_terminate", service_name="history", namespace="default") == 1
    assert total(after, "workflow_success") == 0

    banner = (tmp_path / "server.log").read_text().splitlines()
    assert f"Metrics:  {url}" in banner


async def test_backlogs_polls_and_the_process_are_measured() -> None:
    server = await InProcessServer(metrics_port=0).start_async()
    try:
        assert server.metrics_url is not None
        client = await server.connect()
        for i in range(2):  # no worker: their first workflow tasks wait on the queue
            await client.start_workflow("Nothing", id=f"backlog-{i}", task_queue="no-worker-yet")
        samples = await scrape(server.metrics_url)
        backlog = {"namespace": "default", "taskqueue": "no-worker-yet", "task_type": "Workflow"}
        assert samples[("approximate_backlog_count", frozenset(backlog.items()))] == 2
        assert total(samples, "process_resident_memory_bytes") > 0
        assert total(samples, "process_cpu_seconds_total") > 0
        assert value(samples, "cache_size", service_name="history") == 2  # the two new runs
        assert value(samples, "cache_size_bytes", service_name="history") > 0
        assert value(samples, "timer_queue_lag_seconds", service_name="history") == 0  # none due
        assert ("timer_queue_size", frozenset({("service_name", "history")})) in samples

        service = client.workflow_service
        polled = await service.poll_workflow_task_queue(
            PollWorkflowTaskQueueRequest(namespace="default", task_queue=TaskQueue(name="no-worker-yet"))
        )
        assert polled.task_token
        empty = await service.poll_activity_task_queue(
            PollActivityTaskQueueRequest(namespace="default", task_queue=TaskQueue(name="no-worker-yet")),
            timeout=timedelta(seconds=2),
        )
        assert not empty.task_token
        samples = await scrape(server.metrics_url)
        assert samples[("approximate_backlog_count", frozenset(backlog.items()))] == 1
        activity_queue = {**backlog, "task_type": "Activity"}
        assert samples[("poll_success", frozenset(backlog.items()))] == 1
        assert samples[("poll_timeouts", frozenset(activity_queue.items()))] == 1
        # Starting the polled task read its run, from the cache.
        assert value(samples, "cache_requests", service_name="history") >= 1
        assert value(samples, "cache_miss", service_name="history") == 0
    finally:
        await server.stop_async()


@linux_only
async def test_without_the_flag_nothing_serves_metrics(tmp_path: Path) -> None:
    http_port = free_port()
    server = ServerProcess(tmp_path / "m.db", tmp_path / "server.log", "--http-port", str(http_port))
    await server.start()
    try:
        assert server.proc is not None
        assert listening_ports(server.proc.pid) == {server.port, http_port}
    finally:
        assert server.stop() == 0
    assert not any(line.startswith("Metrics:") for line in (tmp_path / "server.log").read_text().splitlines())


@linux_only
async def test_with_the_flag_the_metrics_port_is_the_one_more(tmp_path: Path) -> None:
    http_port, metrics_port = free_port(), free_port()
    extra = ("--http-port", str(http_port), "--metrics-port", str(metrics_port))
    server = ServerProcess(tmp_path / "m.db", tmp_path / "server.log", *extra)
    await server.start()
    try:
        assert server.proc is not None
        assert listening_ports(server.proc.pid) == {server.port, http_port, metrics_port}
    finally:
        assert server.stop() == 0


async def test_stopping_a_server_releases_its_metrics_port() -> None:
    metrics_port = free_port()
    server = await InProcessServer(metrics_port=metrics_port).start_async()
    try:
        assert server.metrics_url == f"http://127.0.0.1:{metrics_port}/metrics"
        client = await server.connect()
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace="default"))
        samples = await scrape(server.metrics_url)
        assert value(samples, "service_requests", operation="DescribeNamespace", namespace="default") == 1
    finally:
        await server.stop_async()
    with pytest.raises(httpx.ConnectError):  # nothing listens there any more
        await scrape(f"http://127.0.0.1:{metrics_port}/metrics")
    # The port is free for the next server, in the same process, whose metrics are its own.
    server = await InProcessServer(metrics_port=metrics_port).start_async()
    try:
        assert server.metrics_url is not None
        samples = await scrape(server.metrics_url)
        assert value(samples, "service_requests", operation="DescribeNamespace", namespace="default") == 0
    finally:
        await server.stop_async()


def test_a_metrics_port_that_is_taken_stops_the_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = ["server", "start-dev", "--headless", "--port", "0", "--http-port", "0"]
        out = subprocess.run(
            [sys.executable, "-m", "clepsydra", *command, "--metrics-port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode == 1
    assert f"cannot serve metrics on 127.0.0.1:{port}" in out.stderr
    assert "Traceback" not in out.stderr


def test_error_types_and_which_errors_are_the_servers() -> None:
    assert error_type(grpc.StatusCode.NOT_FOUND, NotFoundFailure()) == "serviceerror_NotFound"
    assert error_type(grpc.StatusCode.INVALID_ARGUMENT, None) == "serviceerror_InvalidArgument"
    assert error_type(grpc.StatusCode.CANCELLED, None) == "serviceerror_Canceled"
    assert error_type(grpc.StatusCode.INTERNAL, None) == "serviceerror_Internal"
    assert caller_error(grpc.StatusCode.INVALID_ARGUMENT, None)
    assert not caller_error(grpc.StatusCode.INTERNAL, None)
    assert not caller_error(grpc.StatusCode.UNAVAILABLE, None)
    namespace_scope = ResourceExhaustedScope.RESOURCE_EXHAUSTED_SCOPE_NAMESPACE
    namespace_limit = ResourceExhaustedFailure(scope=namespace_scope)
    assert caller_error(grpc.StatusCode.RESOURCE_EXHAUSTED, namespace_limit)
    assert not caller_error(grpc.StatusCode.RESOURCE_EXHAUSTED, ResourceExhaustedFailure())


async def test_the_grafana_dashboard_reads_only_metrics_the_server_exposes(repo_root: Path) -> None:
    dashboard = json.loads((repo_root / "deploy" / "grafana" / "clepsydra-dashboard.json").read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in metric_names(target["expr"])
    }
    server = await InProcessServer(metrics_port=0).start_async()
    try:
        assert server.metrics_url is not None
        client = await server.connect()
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace="default"))
        async with httpx.AsyncClient() as http:
            exposition = (await http.get(server.metrics_url)).text
    finally:
        await server.stop_async()
    exposed = set()
    for family in text_string_to_metric_families(exposition):
        exposed.add(family.name)
        exposed.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_count", "_sum", "_total"))
    assert queried and queried <= exposed, queried - exposed


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: those before a selector or a range."""
    identifier = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
    if re.fullmatch(identifier, expr.strip()):
        return {expr.strip()}
    return set(re.findall(rf"({identifier})\s*[{{\[]", expr))
