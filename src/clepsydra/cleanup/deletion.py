"""Delete one run: terminate it first if it is still running (as the reference does), then
remove everything the store has of it in one transaction."""

from __future__ import annotations

from clepsydra.engine import workflow
from clepsydra.engine.state import ExecutionKey
from clepsydra.errors import NotFound
from clepsydra.history.core import HistoryCore

DELETE_REASON = "Delete workflow execution"


class RunDeleter:
    def __init__(self, core: HistoryCore) -> None:
        self.core = core

    async def delete(self, key: ExecutionKey, identity: str = "") -> None:
        """NotFound if there is no such run."""
        core = self.core
        async with core.locked(key.namespace_id, key.workflow_id):
            if (await core.latest(key)).running:
                await core.update_locked(key, lambda m: workflow.terminate(m, DELETE_REASON, None, identity))
            await core.delete_run(key)

    async def delete_closed(self, key: ExecutionKey) -> bool:
        """Delete a run that has closed; False (and nothing done) if it is still open."""
        core = self.core
        async with core.locked(key.namespace_id, key.workflow_id):
            try:
                running = (await core.latest(key)).running
            except NotFound:
                running = False  # only its visibility row is left, if anything: remove it too
            if running:
                return False
            await core.delete_run(key)
            return True
