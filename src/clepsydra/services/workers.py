"""The worker registry: what workers say of themselves in their heartbeats
(RecordWorkerHeartbeat), listed, counted and described for operators (`temporal worker
list`, the web UI's Workers page).

As on the reference, it lives in memory: a worker heartbeats every few seconds, so a
registry lost with its process is whole again within a minute, and an entry not heard from
for five minutes is dropped. With several processes, every request about a namespace's
workers is served by one of them (cluster/routing.py), which therefore holds all of them.
"""

from __future__ import annotations

import builtins
import time
from collections import OrderedDict
from collections.abc import Iterable

from temporalio.api.enums.v1 import WorkerStatus
from temporalio.api.worker.v1 import WorkerHeartbeat, WorkerInfo, WorkerListInfo

from clepsydra.errors import InvalidArgument, NotFound
from clepsydra.services.page_tokens import offset_of, offset_token
from clepsydra.visibility import ast
from clepsydra.visibility.in_memory import Value, matches
from clepsydra.visibility.query import QueryError, parse

ENTRY_SECONDS = 300.0  # the reference's matching.workerRegistryEntryTTL
MAX_ENTRIES = 100_000
MAX_PAGE_SIZE = 1000


class WorkerRegistry:
    def __init__(self) -> None:
        # (namespace id, worker instance key) → (its last heartbeat, when it came): the least
        # recently heard from first.
        self._entries: OrderedDict[tuple[str, str], tuple[WorkerHeartbeat, float]] = OrderedDict()

    def record(self, namespace_id: str, heartbeats: Iterable[WorkerHeartbeat]) -> None:
        now = time.monotonic()
        for heartbeat in heartbeats:
            if not heartbeat.worker_instance_key:
                raise InvalidArgument("WorkerInstanceKey is not set on worker heartbeat.")
            key = (namespace_id, heartbeat.worker_instance_key)
            known = self._entries.pop(key, None)
            if known is not None and _taken_before(heartbeat, known[0]):
                heartbeat = known[0]  # a late periodic heartbeat must not undo a shutdown's
            self._entries[key] = (heartbeat, now)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)

    def describe(self, namespace_id: str, worker_instance_key: str) -> WorkerInfo:
        self._expire()
        entry = self._entries.get((namespace_id, worker_instance_key))
        if entry is None:
            raise NotFound(f"Worker {worker_instance_key} not found")
        return WorkerInfo(worker_heartbeat=entry[0])

    def list(
        self, namespace_id: str, query: str, page_size: int, token: bytes
    ) -> tuple[builtins.list[WorkerHeartbeat], bytes]:
        """The heartbeats of the workers the query selects, the most recently started first."""
        found = sorted(self._select(namespace_id, query), key=_started, reverse=True)
        size = MAX_PAGE_SIZE if page_size <= 0 else min(page_size, MAX_PAGE_SIZE)
        start = offset_of(token)
        page = found[start : start + size]
        return page, offset_token(start + size) if start + size < len(found) else b""

    def count(self, namespace_id: str, query: str) -> int:
        return len(self._select(namespace_id, query))

    def _select(self, namespace_id: str, query: str) -> builtins.list[WorkerHeartbeat]:
        self._expire()
        where = _where(query)
        try:
            return [
                heartbeat
                for (namespace, _), (heartbeat, _) in self._entries.items()
                if namespace == namespace_id and matches(where, _columns(heartbeat))
            ]
        except QueryError as error:
            raise InvalidArgument(f"invalid query: {error}") from None

    def _expire(self) -> None:
        cutoff = time.monotonic() - ENTRY_SECONDS
        while self._entries:
            key, (_, heard) = next(iter(self._entries.items()))
            if heard >= cutoff:
                return
            del self._entries[key]


def list_info(heartbeat: WorkerHeartbeat) -> WorkerListInfo:
    return WorkerListInfo(
        worker_instance_key=heartbeat.worker_instance_key,
        worker_identity=heartbeat.worker_identity,
        task_queue=heartbeat.task_queue,
        deployment_version=heartbeat.deployment_version,
        sdk_name=heartbeat.sdk_name,
        sdk_version=heartbeat.sdk_version,
        status=heartbeat.status,
        start_time=heartbeat.start_time,
        host_name=heartbeat.host_info.host_name,
        worker_grouping_key=heartbeat.host_info.worker_grouping_key,
        process_id=heartbeat.host_info.process_id,
        plugins=heartbeat.plugins,
        drivers=heartbeat.drivers,
    )


def _taken_before(heartbeat: WorkerHeartbeat, than: WorkerHeartbeat) -> bool:
    return heartbeat.heartbeat_time.ToMicroseconds() < than.heartbeat_time.ToMicroseconds()


def _where(query: str) -> ast.Expr | None:
    try:
        return parse(query).where
    except QueryError as error:
        raise InvalidArgument(f"invalid query: {error}") from None


def _started(heartbeat: WorkerHeartbeat) -> tuple[int, str]:
    return heartbeat.start_time.ToMicroseconds(), heartbeat.worker_instance_key


def _columns(heartbeat: WorkerHeartbeat) -> dict[str, Value]:
    """What a worker query can name, as the reference names it."""
    status = _STATUS_NAMES.get(heartbeat.status, "")
    return {
        "WorkerInstanceKey": heartbeat.worker_instance_key,
        "WorkerIdentity": heartbeat.worker_identity,
        "HostName": heartbeat.host_info.host_name,
        "TaskQueue": heartbeat.task_queue,
        "DeploymentName": heartbeat.deployment_version.deployment_name,
        "BuildId": heartbeat.deployment_version.build_id,
        "SdkName": heartbeat.sdk_name,
        "SdkVersion": heartbeat.sdk_version,
        "StartTime": heartbeat.start_time.ToMicroseconds() if heartbeat.HasField("start_time") else None,
        "HeartbeatTime": (
            heartbeat.heartbeat_time.ToMicroseconds() if heartbeat.HasField("heartbeat_time") else None
        ),
        "WorkerStatus": status,
        "Status": status,
    }


# WORKER_STATUS_SHUTTING_DOWN → ShuttingDown: the names the reference's queries compare with.
_STATUS_NAMES = {
    value: "".join(part.capitalize() for part in name.removeprefix("WORKER_STATUS_").split("_"))
    for name, value in WorkerStatus.items()
}
