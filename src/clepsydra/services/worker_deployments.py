"""Worker deployments: registered by versioned workers' polls, managed by operators, and
consulted by matching for every task of a queue that belongs to one.

Each deployment is a row of its own (store/worker_deployments.py). All of them are held in
memory, because matching asks where a task goes synchronously, on the dispatch path; every
change goes to the store first, conditioned on the revision read, and then to memory. When
several processes share the database, each reloads them every few seconds.

A task queue belongs to the deployment whose workers polled it last. Matching sends a task of
such a queue to the workers of one version: its workflow's pinned version, or else the
deployment's current or ramping version (`Deployment.target`), "" meaning unversioned
workers. A worker's sticky queue follows its normal queue, so that a workflow whose routing
moved on leaves the sticky worker of the old version.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from temporalio.api.deployment.v1 import WorkerDeploymentOptions
from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflow.v1 import VersioningOverride

from clepsydra.clock import Clock
from clepsydra.engine import codec
from clepsydra.engine import worker_deployments as engine
from clepsydra.engine.tasks import QueueKind
from clepsydra.engine.versioning import VERSIONED, overridden
from clepsydra.engine.worker_deployments import Deployment, Version
from clepsydra.errors import AlreadyExists, FailedPrecondition, NotFound
from clepsydra.matching.task_queues import Dispatch, Matching
from clepsydra.store.worker_deployments import DeploymentRow, DeploymentStore

log = logging.getLogger(__name__)
# A version whose workers polled within this long has active pollers (it may not be deleted).
POLLERS_ACTIVE_SECONDS = 70.0


def no_deployment(name: str) -> NotFound:
    return NotFound(
        f"no Worker Deployment found with name '{name}'; does your Worker Deployment have pollers?"
    )


@dataclass(frozen=True)
class Changed:
    """What a change left: the deployment after it, its conflict token, and the deployment as
    it was before (as created, for a new one)."""

    deployment: Deployment
    token: bytes
    before: Deployment


class WorkerDeployments:
    def __init__(
        self,
        store: DeploymentStore,
        matching: Matching,
        clock: Clock,
        to_normal_queue: Callable[[Dispatch], Coroutine[Any, Any, None]],
        count: Callable[[str, str], Awaitable[int]],
        refresh_seconds: float | None = None,
    ) -> None:
        """`to_normal_queue`: moves a workflow task off a sticky queue. `count`: how many runs
        of a namespace (by id) a visibility query selects. `refresh_seconds`: how often to
        reload what other processes changed (None: only this process changes deployments)."""
        self._store = store
        self._matching = matching
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self._to_normal_queue = to_normal_queue
        self._count = count
        self._deployments: dict[tuple[str, str], Deployment] = {}
        # (namespace id, task queue, kind) → the deployment it belongs to.
        self._owners: dict[tuple[str, str, QueueKind], str] = {}
        # (namespace id, sticky queue) → the normal queue its worker polls, and its version.
        self._sticky: dict[tuple[str, str], tuple[str, str]] = {}
        self._strays: set[asyncio.Task[None]] = set()
        # (namespace id, deployment, build id) → when a worker of it last polled.
        self._polled: dict[tuple[str, str, str], float] = {}
        # Deployments this process changed or deleted since the last `load` began.
        self._changed_here: set[tuple[str, str]] = set()
        matching.route = self.route
        matching.stray = self.stray

    async def load(self) -> None:
        self._changed_here.clear()
        rows = await self._store.all_deployments()
        loaded = {(r.namespace_id, r.name): _decode(r) for r in rows}
        for key in self._changed_here:  # while the rows were read: what is in memory is newer
            known = self._deployments.get(key)
            if known is None:
                loaded.pop(key, None)
            elif key not in loaded or known.revision > loaded[key].revision:
                loaded[key] = known
        self._deployments = loaded
        self._owners = {}
        for (namespace_id, _), deployment in sorted(
            self._deployments.items(), key=lambda d: d[1].create_time
        ):
            self._index(namespace_id, deployment)

    async def refresh_forever(self) -> None:
        """Keep up with changes made by other processes: at once when told of one, and every
        `refresh_seconds` in case a notice was lost."""
        if self._refresh_seconds is None:
            return
        told = asyncio.Event()
        await self._store.watch(told.set)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(told.wait(), self._refresh_seconds)
            told.clear()
            try:
                await self.load()
            except Exception as error:  # the database is unreachable: the next round tries again
                log.warning("cannot reload worker deployments: %s", error)
                continue
            for namespace_id in {namespace_id for namespace_id, _ in self._deployments}:
                self._matching.rematch(namespace_id)

    # -- matching ------------------------------------------------------------------------------

    def route(
        self, namespace_id: str, task_queue: str, kind: QueueKind, workflow_id: str, pinned: str
    ) -> str | None:
        queue = task_queue
        owner = self._owners.get((namespace_id, queue, kind))
        if owner is None:  # a sticky queue routes as its worker's normal queue
            sticky = self._sticky.get((namespace_id, task_queue))
            if sticky is None:
                return None
            queue = sticky[0]
            owner = self._owners.get((namespace_id, queue, kind))
            if owner is None:
                return None
        if pinned:
            name, _, build_id = pinned.partition(".")
            if self._polls(namespace_id, name, build_id, queue, kind):
                return pinned
        # Not pinned, or pinned to a version that does not poll this queue (an activity on
        # another deployment's queue, say): the queue's own routing.
        build_id = self._deployments[(namespace_id, owner)].target(workflow_id)
        return f"{owner}.{build_id}" if build_id else ""

    def _polls(self, namespace_id: str, name: str, build_id: str, task_queue: str, kind: QueueKind) -> bool:
        """Whether workers of the version have polled the queue."""
        deployment = self._deployments.get((namespace_id, name))
        found = None if deployment is None else deployment.versions.get(build_id)
        return found is not None and engine.queue_key(task_queue, _queue_type(kind)) in found.task_queues

    def owner_of(self, namespace_id: str, task_queue: str, kind: QueueKind) -> Deployment | None:
        """The deployment a task queue belongs to, if any."""
        owner = self._owners.get((namespace_id, task_queue, kind))
        return None if owner is None else self._deployments.get((namespace_id, owner))

    def check_pinned(self, namespace_id: str, task_queue: str, override: VersioningOverride) -> None:
        """A workflow may be pinned (at start, or by an operator) only to a version whose
        workers poll its task queue, as on the reference."""
        version = overridden(override)
        if version is None:
            return
        if not self._polls(
            namespace_id, version.deployment_name, version.build_id, task_queue, QueueKind.WORKFLOW
        ):
            raise FailedPrecondition(
                f"Pinned version '{version.deployment_name}:{version.build_id}' is not present in "
                f"task queue '{task_queue}' of type 'Workflow'"
            )

    def forget_sticky(self, namespace_id: str, sticky_queue: str) -> None:
        """The worker of a sticky queue shut down."""
        self._sticky.pop((namespace_id, sticky_queue), None)

    def stray(self, dispatch: Dispatch) -> bool:
        sticky = self._sticky.get((dispatch.key.namespace_id, dispatch.task_queue))
        if sticky is None or dispatch.kind != QueueKind.WORKFLOW:
            return False
        target = self.route(
            dispatch.key.namespace_id,
            dispatch.task_queue,
            dispatch.kind,
            dispatch.key.workflow_id,
            dispatch.task.pinned,
        )
        if target is None or target == sticky[1]:
            return False
        moving = asyncio.create_task(self._to_normal_queue(dispatch))
        self._strays.add(moving)
        moving.add_done_callback(self._strays.discard)
        return True

    async def poll_version(
        self, namespace_id: str, task_queue: TaskQueue, kind: QueueKind, options: WorkerDeploymentOptions
    ) -> str:
        """The version a poll's worker runs ("" unversioned), registered with its deployment
        first if this is the version's first poll of the queue."""
        if options.worker_versioning_mode != VERSIONED:
            return ""
        name, build_id = options.deployment_name, options.build_id
        engine.check_name(name)
        engine.check_build_id(build_id)
        self._polled[(namespace_id, name, build_id)] = time.monotonic()
        version = f"{name}.{build_id}"
        if task_queue.kind == TaskQueueKind.TASK_QUEUE_KIND_STICKY:
            if task_queue.normal_name:
                self._sticky[(namespace_id, task_queue.name)] = (task_queue.normal_name, version)
        else:
            if not self._polls(namespace_id, name, build_id, task_queue.name, kind):
                queue = engine.queue_key(task_queue.name, _queue_type(kind))
                now = self._clock.now()
                await self._change(
                    namespace_id, name, lambda d: engine.register(d, build_id, queue, now), create=True
                )
        return version

    # -- operators --------------------------------------------------------------------------

    async def describe(self, namespace_id: str, name: str) -> Changed:
        engine.check_name(name)
        row = await self._store.get_deployment(namespace_id, name)
        if row is None:
            raise no_deployment(name)
        deployment = await self._checked(namespace_id, row)
        return Changed(deployment, _token(deployment), deployment)

    async def list(self, namespace_id: str) -> list[Deployment]:
        """The namespace's deployments, the newest first."""
        rows = [r for r in await self._store.all_deployments() if r.namespace_id == namespace_id]
        deployments = [await self._checked(namespace_id, row) for row in rows]
        return sorted(deployments, key=lambda d: d.create_time, reverse=True)

    async def describe_version(
        self, namespace_id: str, name: str, build_id: str
    ) -> tuple[Deployment, Version]:
        row = await self._store.get_deployment(namespace_id, name) if name else None
        deployment = None if row is None else await self._checked(namespace_id, row)
        version = None if deployment is None else deployment.versions.get(build_id)
        if deployment is None or version is None:
            raise NotFound("Worker Deployment Version not found")
        return deployment, version

    async def _checked(self, namespace_id: str, row: DeploymentRow) -> Deployment:
        """The deployment as stored, its draining versions checked for running workflows
        still pinned to them: a version none is pinned to any more is drained."""
        deployment = _decode(row)
        for version in deployment.versions.values():
            if version.status == engine.DRAINING:
                pinned = f"{deployment.name}:{version.build_id}".replace("'", "\\'")
                query = (
                    f"TemporalWorkerDeploymentVersion = '{pinned}' AND "
                    "TemporalWorkflowVersioningBehavior = 'Pinned' AND ExecutionStatus = 'Running'"
                )
                version.drained = await self._count(namespace_id, query) == 0
                version.drainage_checked = self._clock.now()
        return deployment

    async def create(self, namespace_id: str, name: str, identity: str) -> Changed:
        engine.check_name(name, engine.EMPTY_DEPLOYMENT)
        if await self._store.get_deployment(namespace_id, name) is not None:
            raise AlreadyExists(f'Worker Deployment with name "{name}" already exists')

        def create(deployment: Deployment) -> bool:
            deployment.last_modifier_identity = identity
            return True

        return await self._change(namespace_id, name, create, create=True)

    async def create_version(self, namespace_id: str, name: str, build_id: str, identity: str) -> None:
        engine.check_name(name, engine.EMPTY_DEPLOYMENT)
        engine.check_build_id(build_id)
        now = self._clock.now()

        def create(deployment: Deployment) -> bool:
            engine.create_version(deployment, build_id, identity, now)
            return True

        await self._change(namespace_id, name, create)  # of a deployment that exists

    async def set_current(
        self, namespace_id: str, name: str, build_id: str, token: bytes, identity: str
    ) -> Changed:
        engine.check_name(name, engine.EMPTY_DEPLOYMENT)
        now = self._clock.now()
        return await self._change(
            namespace_id, name, lambda d: engine.set_current(d, build_id, identity, now), token=token
        )

    async def set_ramping(
        self,
        namespace_id: str,
        name: str,
        build_id: str | None,
        percentage: float,
        token: bytes,
        identity: str,
    ) -> Changed:
        engine.check_percentage(percentage)
        engine.check_name(
            name, f"invalid version string: deployment name is empty in version string .{build_id or ''}"
        )
        now = self._clock.now()
        return await self._change(
            namespace_id,
            name,
            lambda d: engine.set_ramping(d, build_id, percentage, identity, now),
            token=token,
        )

    async def set_manager(
        self, namespace_id: str, name: str, manager: str, token: bytes, identity: str
    ) -> Changed:
        engine.check_name(name)

        def change(deployment: Deployment) -> bool:
            engine.set_manager(deployment, manager, identity)
            return True

        return await self._change(namespace_id, name, change, token=token, missing=_no_workflow)

    async def delete_version(self, namespace_id: str, name: str, build_id: str, skip_drainage: bool) -> None:
        polled = self._polled.get((namespace_id, name, build_id))
        has_pollers = polled is not None and time.monotonic() - polled < POLLERS_ACTIVE_SECONDS

        def change(deployment: Deployment) -> bool:
            return engine.delete_version(deployment, build_id, skip_drainage, has_pollers)

        await self._change(namespace_id, name, change, missing=_no_workflow)
        self._polled.pop((namespace_id, name, build_id), None)

    async def update_metadata(
        self, namespace_id: str, name: str, build_id: str, change: Callable[[Version], None]
    ) -> Version:
        def apply(deployment: Deployment) -> bool:
            version = deployment.versions.get(build_id)
            if version is None:
                raise NotFound(
                    f"workflow not found for ID: temporal-sys-worker-deployment-version:{name}:{build_id}"
                )
            change(version)
            return True

        changed = await self._change(namespace_id, name, apply, missing=lambda _: _no_version(name, build_id))
        return changed.deployment.versions[build_id]

    async def delete(self, namespace_id: str, name: str) -> None:
        engine.check_name(name)
        while True:
            row = await self._store.get_deployment(namespace_id, name)
            if row is None:
                return
            if _decode(row).versions:
                raise FailedPrecondition("deployment has versions, can't be deleted")
            if await self._store.delete_deployment(namespace_id, name, row.revision):
                known = self._deployments.get((namespace_id, name))
                if known is not None and known.revision <= row.revision:  # not made again meanwhile
                    del self._deployments[(namespace_id, name)]
                    self._changed_here.add((namespace_id, name))
                    self._reindex(namespace_id)
                return

    # -- the one way to change a deployment -------------------------------------------------------

    async def _change(
        self,
        namespace_id: str,
        name: str,
        change: Callable[[Deployment], bool],
        token: bytes = b"",
        create: bool = False,
        missing: Callable[[str], NotFound] | None = None,
    ) -> Changed:
        """Read the deployment, apply `change` (whether it changed anything), and store it
        conditioned on what was read, again if another change came between. `token`: the
        conflict token the caller read, if any; `create`: make the deployment if missing."""
        while True:
            row = await self._store.get_deployment(namespace_id, name)
            if row is None and not create:
                raise (missing or no_deployment)(name)
            created = self._clock.now()
            deployment = Deployment(name, created) if row is None else _decode(row)
            before = Deployment(name, created) if row is None else _decode(row)
            if token and token != _token(deployment):
                raise FailedPrecondition("conflict token mismatch")
            if not change(deployment) and row is not None:
                return Changed(deployment, _token(deployment), before)
            revision = 0 if row is None else row.revision
            deployment.revision = revision + 1
            stored = DeploymentRow(namespace_id, name, deployment.revision, codec.dumps(deployment))
            if await self._store.put_deployment(stored, revision):
                self._deployments[(namespace_id, name)] = deployment
                self._changed_here.add((namespace_id, name))
                self._index(namespace_id, deployment)
                self._matching.rematch(namespace_id)
                return Changed(deployment, _token(deployment), before)

    def _index(self, namespace_id: str, deployment: Deployment) -> None:
        for version in deployment.versions.values():
            for queue in version.task_queues:
                kind, _, task_queue = queue.partition(":")
                self._owners[(namespace_id, task_queue, QueueKind(int(kind)))] = deployment.name

    def _reindex(self, namespace_id: str) -> None:
        self._owners = {key: owner for key, owner in self._owners.items() if key[0] != namespace_id}
        for (deployment_namespace, _), deployment in self._deployments.items():
            if deployment_namespace == namespace_id:
                self._index(namespace_id, deployment)


def _queue_type(kind: QueueKind) -> TaskQueueType.ValueType:
    return TaskQueueType.ValueType(int(kind))  # the same numbers


def _decode(row: DeploymentRow) -> Deployment:
    deployment = codec.loads(Deployment, row.data)
    deployment.revision = row.revision
    return deployment


def _token(deployment: Deployment) -> bytes:
    """Changes with what a conflict token guards: the routing and the manager."""
    return struct.pack(">Q", deployment.changes)


def _no_workflow(name: str) -> NotFound:
    return NotFound(f"workflow not found for ID: temporal-sys-worker-deployment:{name}")


def _no_version(name: str, build_id: str) -> NotFound:
    return NotFound(f"workflow not found for ID: temporal-sys-worker-deployment-version:{name}:{build_id}")
