"""Namespaces: registered in the store, cached in memory (they change rarely).

A namespace's record is its DescribeNamespaceResponse. What depends on the server
rather than on the namespace (capabilities, limits) and its custom search attributes
(kept by the store, see visibility/registry.py) are added when it is described.

Deleting a namespace marks it DELETED and renames it `<name>-deleted-<id prefix>`, as
the reference does, so the name is free at once; `NamespaceReclaimer` then deletes its
runs and finally its row.
"""

from __future__ import annotations

import builtins
import math
import time
import uuid
from datetime import timedelta

from temporalio.api.enums.v1 import ArchivalState, NamespaceState, ReplicationState
from temporalio.api.errordetails.v1 import NamespaceAlreadyExistsFailure, NamespaceNotFoundFailure
from temporalio.api.namespace.v1 import NamespaceConfig, NamespaceInfo
from temporalio.api.replication.v1 import ClusterReplicationConfig, NamespaceReplicationConfig
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceResponse,
    RegisterNamespaceRequest,
    UpdateNamespaceRequest,
)

from clepsydra.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from clepsydra.store.base import NamespaceRecord, Store

CLUSTER_NAME = "active"
DEFAULT_NAMESPACE = "default"
SYSTEM_NAMESPACE = "temporal-system"
DEV_RETENTION = timedelta(hours=24)
MIN_RETENTION = timedelta(hours=1)
MAX_NAME_LENGTH = 1000
State = NamespaceState
NOT_SET = "Namespace not set on request."
BAD_RETENTION = "A valid retention period is not set on request."
# Limits the reference reports (and enforces) for every namespace.
# How long a process sharing its database with others serves a namespace from memory.
SHARED_CACHE_SECONDS = 10.0
LIMITS = NamespaceInfo.Limits(
    blob_size_limit_error=2 * 1024 * 1024,
    memo_size_limit_error=2 * 1024 * 1024,
    workflow_task_completion_size_limit_error=40 * 1024 * 1024,
)


class Namespaces:
    def __init__(self, store: Store) -> None:
        self._store = store
        # name → (description, until when it may be served from here). Another process on a
        # shared database may change a namespace, so there a description is read again
        # after a while, as the reference's namespace registry refreshes its own.
        self._by_name: dict[str, tuple[DescribeNamespaceResponse, float]] = {}
        self._keep_for = SHARED_CACHE_SECONDS if store.shared else math.inf

    async def ensure(self, name: str, retention: timedelta = DEV_RETENTION) -> None:
        """Create the namespace if it does not exist yet (start-up namespaces)."""
        if await self._store.get_namespace(name) is None:
            await self._store.create_namespace(_record(_describe(name, retention, "", "", {})))

    async def register(self, request: RegisterNamespaceRequest) -> None:
        if not request.namespace:
            raise InvalidArgument(NOT_SET)
        if len(request.namespace) > MAX_NAME_LENGTH:
            raise InvalidArgument("Namespace length exceeds limit.")
        retention = request.workflow_execution_retention_period.ToTimedelta()
        if retention < MIN_RETENTION:
            raise InvalidArgument(BAD_RETENTION)
        description = _describe(
            request.namespace, retention, request.description, request.owner_email, dict(request.data)
        )
        if not await self._store.create_namespace(_record(description)):
            raise AlreadyExists(
                f'Namespace "{request.namespace}" already exists', NamespaceAlreadyExistsFailure()
            )

    async def describe(self, name: str = "", namespace_id: str = "") -> DescribeNamespaceResponse:
        if not name and not namespace_id:
            raise InvalidArgument(NOT_SET)
        if namespace_id and not name:
            for listed in await self._store.list_namespaces():
                if listed.id == namespace_id:
                    return await self._complete(_parse(listed))
            raise NotFound(
                f"Namespace {namespace_id} is not found.", NamespaceNotFoundFailure(namespace=namespace_id)
            )
        cached, until = self._by_name.get(name, (None, 0.0))
        if cached is not None and time.monotonic() < until:
            return cached
        record = await self._store.get_namespace(name)
        if record is None:
            raise NotFound(f"Namespace {name} is not found.", NamespaceNotFoundFailure(namespace=name))
        described = await self._complete(_parse(record))
        self._by_name[name] = (described, time.monotonic() + self._keep_for)
        return described

    async def id_of(self, name: str) -> str:
        """The id of the namespace a request names (requests other than describe say "empty")."""
        if not name:
            raise InvalidArgument("Namespace is empty.")
        return (await self.describe(name)).namespace_info.id

    async def list(self, include_deleted: bool = False) -> list[DescribeNamespaceResponse]:
        described = [await self._complete(_parse(r)) for r in await self._store.list_namespaces()]
        return [
            d for d in described if include_deleted or d.namespace_info.state != State.NAMESPACE_STATE_DELETED
        ]

    async def update(self, request: UpdateNamespaceRequest) -> DescribeNamespaceResponse:
        if not request.namespace:
            raise InvalidArgument(NOT_SET)
        current = await self.describe(request.namespace)
        changed = DescribeNamespaceResponse()
        changed.CopyFrom(current)
        _apply_update(changed, request)
        await self._save(changed)
        return await self.describe(request.namespace)

    async def deprecate(self, name: str) -> None:
        if not name:
            raise InvalidArgument(NOT_SET)
        changed = DescribeNamespaceResponse()
        changed.CopyFrom(await self.describe(name))
        changed.namespace_info.state = State.NAMESPACE_STATE_DEPRECATED
        await self._save(changed)

    async def mark_deleted(self, name: str = "", namespace_id: str = "") -> str:
        """Rename the namespace out of the way and mark it DELETED; returns the new name."""
        if not name and not namespace_id:
            raise InvalidArgument(NOT_SET)
        current = await self.describe(name, namespace_id)
        info = current.namespace_info
        if info.name == SYSTEM_NAMESPACE:
            raise FailedPrecondition("unable to delete system namespace")
        if info.state == State.NAMESPACE_STATE_DELETED:
            raise NotFound(
                f"Namespace {name or namespace_id} is not found.", NamespaceNotFoundFailure(namespace=name)
            )
        changed = DescribeNamespaceResponse()
        changed.CopyFrom(current)
        changed.namespace_info.name = f"{info.name}-deleted-{info.id[:5]}"
        changed.namespace_info.state = State.NAMESPACE_STATE_DELETED
        self.forget(info.name)
        await self._save(changed)
        return changed.namespace_info.name

    async def deleted(self) -> builtins.list[DescribeNamespaceResponse]:  # `list` is a method here
        """Namespaces marked deleted whose runs and rows are still to be removed."""
        return [
            d
            for d in await self.list(include_deleted=True)
            if d.namespace_info.state == State.NAMESPACE_STATE_DELETED
        ]

    def cached_names(self) -> dict[str, str]:
        """Namespace id → name, of the namespaces described lately (no I/O: safe from a thread)."""
        return {
            described.namespace_info.id: name
            for name, (described, _) in list(self._by_name.items())
            if described is not None
        }

    def forget(self, name: str) -> None:
        """Drop the cached description (after its search attributes or record changed)."""
        self._by_name.pop(name, None)

    async def _save(self, description: DescribeNamespaceResponse) -> None:
        stored = DescribeNamespaceResponse()
        stored.CopyFrom(description)
        # Server properties and search attributes are added when described, not stored.
        stored.config.ClearField("custom_search_attribute_aliases")
        stored.namespace_info.ClearField("capabilities")
        stored.namespace_info.ClearField("limits")
        await self._store.update_namespace(_record(stored))
        self.forget(description.namespace_info.name)

    async def _complete(self, description: DescribeNamespaceResponse) -> DescribeNamespaceResponse:
        info = description.namespace_info
        # What this server supports: updates, waited on or not; eager workflow start;
        # standalone activities (with a start delay, batch operations, and pause, reset and
        # options for them).
        capabilities = info.capabilities
        capabilities.eager_workflow_start = True
        capabilities.sync_update = True
        capabilities.async_update = True
        capabilities.standalone_activities = True
        capabilities.standalone_activity_start_delay = True
        capabilities.standalone_activity_operator_commands = True
        capabilities.standalone_activity_batch_operations = True
        capabilities.worker_heartbeats = True  # the UI then lists workers from the registry
        info.limits.CopyFrom(LIMITS)
        columns = await self._store.custom_search_attributes(info.id)
        for name, column in columns.items():
            description.config.custom_search_attribute_aliases[column] = name
        return description


def _apply_update(d: DescribeNamespaceResponse, request: UpdateNamespaceRequest) -> None:
    if request.HasField("update_info"):
        update = request.update_info
        info = d.namespace_info
        if update.description:
            info.description = update.description
        if update.owner_email:
            info.owner_email = update.owner_email
        info.data.update(update.data)
        if update.state:
            _check_state_change(info.state, update.state)
            info.state = update.state
    if request.HasField("config"):
        retention = request.config.workflow_execution_retention_ttl.ToTimedelta()
        if retention:
            if retention < MIN_RETENTION:
                raise InvalidArgument(BAD_RETENTION)
            d.config.workflow_execution_retention_ttl.FromTimedelta(retention)
        if request.config.HasField("bad_binaries"):
            d.config.bad_binaries.CopyFrom(request.config.bad_binaries)


def _check_state_change(current: State.ValueType, wanted: State.ValueType) -> None:
    allowed = {
        State.NAMESPACE_STATE_REGISTERED: {
            State.NAMESPACE_STATE_REGISTERED,
            State.NAMESPACE_STATE_DEPRECATED,
            State.NAMESPACE_STATE_DELETED,
        },
        State.NAMESPACE_STATE_DEPRECATED: {State.NAMESPACE_STATE_DEPRECATED, State.NAMESPACE_STATE_DELETED},
        State.NAMESPACE_STATE_DELETED: {State.NAMESPACE_STATE_DELETED},
    }
    if wanted not in allowed.get(current, set()):
        raise InvalidArgument("Invalid namespace state update.")


def _describe(
    name: str, retention: timedelta, description: str, owner: str, data: dict[str, str]
) -> DescribeNamespaceResponse:
    config = NamespaceConfig(
        history_archival_state=ArchivalState.ARCHIVAL_STATE_DISABLED,
        visibility_archival_state=ArchivalState.ARCHIVAL_STATE_DISABLED,
    )
    config.workflow_execution_retention_ttl.FromTimedelta(retention)
    config.bad_binaries.SetInParent()
    return DescribeNamespaceResponse(
        namespace_info=NamespaceInfo(
            name=name,
            state=NamespaceState.NAMESPACE_STATE_REGISTERED,
            description=description,
            owner_email=owner,
            data=data,
            id=str(uuid.uuid4()),
        ),
        config=config,
        replication_config=NamespaceReplicationConfig(
            active_cluster_name=CLUSTER_NAME,
            clusters=[ClusterReplicationConfig(cluster_name=CLUSTER_NAME)],
            state=ReplicationState.REPLICATION_STATE_NORMAL,
        ),
        is_global_namespace=False,
    )


def _record(description: DescribeNamespaceResponse) -> NamespaceRecord:
    info = description.namespace_info
    return NamespaceRecord(info.id, info.name, description.SerializeToString())


def _parse(record: NamespaceRecord) -> DescribeNamespaceResponse:
    return DescribeNamespaceResponse.FromString(record.data)
