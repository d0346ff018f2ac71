"""Task queue configs: rate limits and fairness weight overrides, set by UpdateTaskQueueConfig.

A config belongs to a queue name and type in a namespace. It is stored (store/
task_queue_configs.py) and applied to this process's matching (matching/rate_limits.py):
at start-up for every stored config, on each change, and, when other processes share the
database and may change configs too, again every few seconds. The checks, their order and
their messages are the reference's (service/frontend/workflow_handler.go and
validators.go), so a client sees the same error for the same mistake.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import ConfigMetadata, RateLimit, RateLimitConfig, TaskQueueConfig
from temporalio.api.workflowservice.v1 import UpdateTaskQueueConfigRequest

from clepsydra.clock import Clock
from clepsydra.engine import codec
from clepsydra.engine.tasks import QueueKind
from clepsydra.errors import InvalidArgument
from clepsydra.matching.rate_limits import RateLimits
from clepsydra.store.task_queue_configs import ConfigRow, ConfigStore

MAX_REASON_LENGTH = 1000
MAX_ID_LENGTH = 1000
MAX_FAIRNESS_KEY_LENGTH = 64
MAX_WEIGHT_OVERRIDES = 1000
RESERVED_PREFIX = "/_sys/"
KINDS = {
    TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW: QueueKind.WORKFLOW,
    TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY: QueueKind.ACTIVITY,
    TaskQueueType.TASK_QUEUE_TYPE_NEXUS: QueueKind.NEXUS,
}
RateLimitUpdate = UpdateTaskQueueConfigRequest.RateLimitUpdate


class TaskQueueConfigs:
    def __init__(self, store: ConfigStore, limits: RateLimits, clock: Clock) -> None:
        self._store = store
        self._limits = limits
        self._clock = clock
        self._lock = asyncio.Lock()  # one read-change-write at a time in this process

    async def get(self, namespace_id: str, name: str, queue_type: int) -> TaskQueueConfig | None:
        row = await self._store.get_config(namespace_id, name, queue_type)
        return None if row is None else TaskQueueConfig.FromString(row.data)

    async def update(self, namespace_id: str, request: UpdateTaskQueueConfigRequest) -> TaskQueueConfig:
        """Change the queue's config as the request says; the config after the change."""
        check(request)
        name, queue_type = request.task_queue, request.task_queue_type
        async with self._lock:
            config = await self.get(namespace_id, name, queue_type) or TaskQueueConfig()
            if not _changes(request):
                return config
            now = self._clock.now()
            if request.HasField("update_queue_rate_limit"):
                config.queue_rate_limit.CopyFrom(
                    _rate_limit(request.update_queue_rate_limit, now, request.identity)
                )
            if request.HasField("update_fairness_key_rate_limit_default"):
                config.fairness_keys_rate_limit_default.CopyFrom(
                    _rate_limit(request.update_fairness_key_rate_limit_default, now, request.identity)
                )
            overrides = config.fairness_weight_overrides
            for key in request.unset_fairness_weight_overrides:
                overrides.pop(key, None)
            overrides.update(request.set_fairness_weight_overrides)
            if len(overrides) > MAX_WEIGHT_OVERRIDES:
                raise InvalidArgument("fairness weight overrides update rejected: exceeding maximum key size")
            await self._store.put_config(
                ConfigRow(namespace_id, name, queue_type, config.SerializeToString())
            )
        self._apply(namespace_id, name, queue_type, config)
        return config

    async def load(self) -> None:
        """Apply every stored config to matching (at start-up, and to see other processes'
        changes)."""
        for row in await self._store.list_configs():
            self._apply(row.namespace_id, row.name, row.queue_type, TaskQueueConfig.FromString(row.data))

    async def refresh(self, every: float) -> None:
        """Load the configs again and again: other processes on the database change them too."""
        while True:
            await asyncio.sleep(every)
            await self.load()

    def _apply(self, namespace_id: str, name: str, queue_type: int, config: TaskQueueConfig) -> None:
        kind = KINDS.get(TaskQueueType.ValueType(queue_type))
        if kind is not None:
            self._limits.configure(namespace_id, name, kind, config)


def check(request: UpdateTaskQueueConfigRequest) -> None:
    """The reference's checks, in its order."""
    workflow_queue = request.task_queue_type == TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
    queue_limit = request.update_queue_rate_limit
    if queue_limit.HasField("rate_limit") and workflow_queue:
        raise InvalidArgument("Setting rate limit on workflow task queues is not allowed.")
    _check_rate_limit(queue_limit, "UpdateQueueRateLimit")
    key_limit = request.update_fairness_key_rate_limit_default
    if key_limit.HasField("rate_limit") and workflow_queue:
        raise InvalidArgument("Setting fairness key rate limit on workflow task queues is not allowed.")
    _check_rate_limit(key_limit, "UpdateFairnessKeyRateLimitDefault")
    _check_length("Identity", request.identity, MAX_ID_LENGTH)
    overrides, unset = request.set_fairness_weight_overrides, request.unset_fairness_weight_overrides
    if len(overrides) + len(unset) > MAX_WEIGHT_OVERRIDES:
        raise InvalidArgument(
            f"too many fairness weight overrides in request: got {len(overrides) + len(unset)},"
            f" maximum {MAX_WEIGHT_OVERRIDES}"
        )
    for key, weight in overrides.items():
        _check_key(key)
        if weight <= 0:
            raise InvalidArgument(
                f'invalid fairness weight weight for key "{key}": must be greater than zero'
            )
    for key in unset:
        _check_key(key)
    for key in unset:
        if key in overrides:
            raise InvalidArgument(f'fairness weight override key "{key}" present in both set and unset lists')
    if request.task_queue.startswith(RESERVED_PREFIX):
        raise InvalidArgument(f"invalid task queue partition name {request.task_queue}")


def _check_rate_limit(update: RateLimitUpdate, label: str) -> None:
    if not update.HasField("rate_limit"):
        return
    if update.rate_limit.requests_per_second < 0:
        raise InvalidArgument(f"RequestsPerSecond for {label} rate limit must be non-negative.")
    _check_length(f"{label}.Reason", update.reason, MAX_REASON_LENGTH)


def _check_length(field: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise InvalidArgument(f"{field} field too long (max {limit} characters).")


def _check_key(key: str) -> None:
    if not key:
        raise InvalidArgument("fairness weight override key must not be empty")
    if len(key) > MAX_FAIRNESS_KEY_LENGTH:
        raise InvalidArgument("fairness key length exceeds limit")


def _changes(request: UpdateTaskQueueConfigRequest) -> bool:
    return (
        request.HasField("update_queue_rate_limit")
        or request.HasField("update_fairness_key_rate_limit_default")
        or bool(request.set_fairness_weight_overrides)
        or bool(request.unset_fairness_weight_overrides)
    )


def _rate_limit(update: RateLimitUpdate, now: datetime, identity: str) -> RateLimitConfig:
    """A rate limit as stored: the update's rate (none: unset), who set it, why and when."""
    config = RateLimitConfig(
        metadata=ConfigMetadata(
            reason=update.reason, update_identity=identity, update_time=codec.timestamp(now)
        )
    )
    if update.HasField("rate_limit"):
        config.rate_limit.CopyFrom(RateLimit(requests_per_second=update.rate_limit.requests_per_second))
    return config
