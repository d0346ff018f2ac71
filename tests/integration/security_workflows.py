"""The workflow the security tests run: one activity, so that a worker polls both queues."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn
async def charge(amount: int) -> str:
    return f"charged {amount}"


@workflow.defn
class PaymentWorkflow:
    @workflow.run
    async def run(self, amount: int) -> str:
        return await workflow.execute_activity(charge, amount, start_to_close_timeout=timedelta(seconds=10))
