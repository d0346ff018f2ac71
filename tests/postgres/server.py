"""A Clepsydra server process on a PostgreSQL database: `clepsydra server start --db-url`."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.server_process import ServerProcess


class PostgresServerProcess(ServerProcess):
    def __init__(self, db_url: str, log_path: Path, *extra_args: str) -> None:
        super().__init__(Path("unused"), log_path, *extra_args)
        self.db_url = db_url

    def command(self) -> list[str]:
        return [sys.executable, "-m", "clepsydra", "server", "start", "--db-url", self.db_url,
                "--port", str(self.port), "--log-level", "warn", *self.extra_args]  # fmt: skip
