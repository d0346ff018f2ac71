"""Workflows and activities the testing tests run: short, each showing one thing about time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError


@activity.defn
async def greet(name: str) -> str:
    return f"Hello, {name}!"


@workflow.defn
class GreetingWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(greet, name, start_to_close_timeout=timedelta(seconds=10))


@workflow.defn
class SleepWorkflow:
    """Sleeps, then reports how long it slept by the workflow's own clock."""

    @workflow.run
    async def run(self, seconds: float) -> float:
        before = workflow.now()
        await workflow.sleep(seconds)
        return (workflow.now() - before).total_seconds()


@dataclass
class Gate:
    """An activity that holds until the test opens it: a task outstanding for as long as the test likes."""

    started: asyncio.Event
    opened: asyncio.Event

    @activity.defn(name="wait_at_gate")
    async def wait_at_gate(self) -> str:
        self.started.set()
        await self.opened.wait()
        return "gate opened"


@workflow.defn
class RaceWorkflow:
    """An activity against a one-hour timer: which comes first?"""

    @workflow.run
    async def run(self) -> str:
        gate = workflow.start_activity(
            "wait_at_gate", start_to_close_timeout=timedelta(minutes=5), result_type=str
        )
        timer = asyncio.ensure_future(workflow.sleep(3600))
        done, _ = await workflow.wait([gate, timer], return_when=asyncio.FIRST_COMPLETED)
        return "activity first" if gate in done else "timer first"


@dataclass
class Flaky:
    """Fails `failures` times, then succeeds."""

    failures: int
    attempts: int = 0

    @activity.defn(name="flaky")
    async def flaky(self) -> int:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise ApplicationError(f"attempt {self.attempts} fails")
        return self.attempts


@workflow.defn
class RetryWorkflow:
    """An activity retried with hour-long backoffs."""

    @workflow.run
    async def run(self) -> int:
        return await workflow.execute_activity(
            "flaky",
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(hours=1), backoff_coefficient=2),
            result_type=int,
        )


@workflow.defn
class AssertingWorkflow:
    @workflow.run
    async def run(self, value: int) -> int:
        assert value > 0, "value must be positive"
        return value


@workflow.defn
class ParentWorkflow:
    """Runs a SleepWorkflow as its child, and reports what the child slept."""

    @workflow.run
    async def run(self, seconds: float) -> float:
        return await workflow.execute_child_workflow(
            SleepWorkflow.run, seconds, id=f"{workflow.info().workflow_id}-child"
        )
