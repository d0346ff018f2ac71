"""A tiny append-only ledger: the "bank" and "mail server" of this example.

Every side effect of the sign-up is one JSON line in a file, so you can open the
file and check that nothing happened twice. A real system would keep this in a
database with a unique key on (workflow id, step); here a file is enough.

The path comes from the SIGNUP_LEDGER environment variable, or defaults to
`clepsydra-signup-ledger.jsonl` in the system's temporary directory (`/tmp` on
Linux), so that the worker and the starter find the same file from any directory
and running the example leaves nothing in the checkout.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_LEDGER_NAME = "clepsydra-signup-ledger.jsonl"


def default_ledger_path() -> Path:
    """$SIGNUP_LEDGER, or clepsydra-signup-ledger.jsonl in the system's temporary directory."""
    configured = os.environ.get("SIGNUP_LEDGER")
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / DEFAULT_LEDGER_NAME


class Ledger:
    """Append-only JSON lines; each line is one thing that happened for one sign-up.

    Safe for one worker process (its activities run on one event loop and never
    await between reading and appending). Several worker processes sharing one file
    would need a lock; a real database would use a unique constraint instead.
    """

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_ledger_path()

    def entries(self, workflow_id: str | None = None) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        found = []
        for line in self.path.read_text().splitlines():
            if not line.strip():
                continue
            entry = json.loads(line)
            if workflow_id is None or entry["workflow_id"] == workflow_id:
                found.append(entry)
        return found

    def find(self, workflow_id: str, step: str) -> dict[str, Any] | None:
        """The entry for this step of this sign-up, if it already happened."""
        for entry in self.entries(workflow_id):
            if entry["step"] == step:
                return entry
        return None

    def record(self, workflow_id: str, step: str, **details: Any) -> dict[str, Any]:
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "workflow_id": workflow_id,
            "step": step,
            **details,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps(entry) + "\n")
        return entry

    async def wait_for(self, workflow_id: str, step: str, timeout: float = 30.0) -> dict[str, Any] | None:
        """Poll until the step shows up in the ledger; None if it did not within `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            entry = self.find(workflow_id, step)
            if entry is not None or loop.time() > deadline:
                return entry
            await asyncio.sleep(0.1)
