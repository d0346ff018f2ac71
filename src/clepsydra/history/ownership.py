"""Which executions this process owns, as the update path needs to know it.

The owner of an execution caches its state, indexes its tasks, fires its timers and
runs its transfers; a process that does not own it may still change it (conditioned on
the version it read, like any write) but leaves all of that to the owner. A process
alone on its database owns everything (`SingleOwner`); several processes on one
database divide the shards among them (`clepsydra.cluster.membership`).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from clepsydra.engine.state import ExecutionKey


class Ownership(Protocol):
    @property
    def address(self) -> str:
        """This process's name among the others (empty when alone)."""
        ...

    def owns(self, namespace_id: str, workflow_id: str) -> bool: ...

    def shard(self, namespace_id: str, workflow_id: str) -> int: ...

    def held_shards(self) -> Collection[int] | None:
        """The shards this process holds; None: all of them."""
        ...

    def lost(self, key: ExecutionKey) -> None:
        """A write found that the lease of the key's shard was taken over."""
        ...


class SingleOwner:
    """A process alone on its database: it owns every workflow."""

    address = ""

    def owns(self, namespace_id: str, workflow_id: str) -> bool:
        return True

    def shard(self, namespace_id: str, workflow_id: str) -> int:
        return 0

    def held_shards(self) -> None:
        return None

    def lost(self, key: ExecutionKey) -> None:
        raise AssertionError("a process alone on its database cannot lose a shard")
