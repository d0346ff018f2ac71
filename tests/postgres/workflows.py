"""Workflows and activities of the PostgreSQL server tests.

Kept apart from the test modules on purpose: the SDK's sandbox re-imports a workflow's
module, and re-importing asyncpg's C extensions there crashes the test process.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow


@activity.defn
async def greet(name: str) -> str:
    return f"Hello, {name}!"


@activity.defn
async def shout(text: str) -> str:
    return text.upper()


@workflow.defn
class Greeting:
    @workflow.run
    async def run(self, name: str) -> list[str]:
        timeout = timedelta(seconds=10)
        hello = await workflow.execute_activity(greet, name, start_to_close_timeout=timeout)
        await asyncio.sleep(0.2)  # a durable timer
        loud = await asyncio.gather(
            *(
                workflow.execute_activity(shout, f"{hello} {i}", start_to_close_timeout=timeout)
                for i in range(3)
            )
        )
        return [hello, *loud]
