"""This process's part among several sharing one PostgreSQL database."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clepsydra.cluster.backlogs import Backlogs
from clepsydra.cluster.membership import SharedMembership
from clepsydra.cluster.peers import Peers
from clepsydra.cluster.routing import Router
from clepsydra.history.core import HistoryCore
from clepsydra.matching.task_queues import Matching
from clepsydra.services.namespaces import Namespaces

if TYPE_CHECKING:  # asyncpg is imported only where PostgreSQL is used: see store/factory.py
    from clepsydra.store.postgres import PostgresStore


class Cluster:
    """Leases on a share of the shards, with the history of their workflows; forwarding of
    requests to the owners of the others; word of changes and backlogs between processes."""

    def __init__(
        self,
        store: PostgresStore,
        membership: SharedMembership,
        core: HistoryCore,
        matching: Matching,
        namespaces: Namespaces,
        peers: Peers,
    ) -> None:
        self.store = store
        self.membership = membership
        self.core = core
        self.peers = peers
        self.router = Router(membership, namespaces, peers)
        self.backlogs = Backlogs(store, matching, membership.address)

    async def start(self) -> None:
        """Listen first, then take shards: nothing said about a shard taken is missed."""
        self.store.on_notices_resumed.append(self._notices_resumed)
        await self.store.listen_executions(self.core.heard_of_change)
        await self.backlogs.start()
        await self.membership.start(acquired=self.core.recover, released=self.core.release)

    async def _notices_resumed(self) -> None:
        """Notices were lost for a while: load the held shards' tasks again, as at a takeover."""
        await self.core.recover(self.membership.held_shards())

    async def stop(self) -> None:
        """Give the shards up, for the others to take over now rather than at lease expiry."""
        await self.backlogs.stop()
        await self.membership.stop()
        await self.peers.close()
