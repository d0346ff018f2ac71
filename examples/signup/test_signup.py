"""Tests of the sign-up saga, each with a real worker, on an in-process Clepsydra server.

The fixtures come from Clepsydra's pytest plugin, which installing Clepsydra enables:
nothing to download, no server to start. `clepsydra_client` is a client of a server
shared by the session; `clepsydra_time_skipping_env` is a `WorkflowEnvironment` on
a server of the test's own whose clock skips ahead whenever the workflow is only
waiting, so the three days the user has to confirm pass in an instant.

    cd examples/signup && python -m pytest
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import SignupActivities
from ledger import Ledger
from workflow import SignupInput, SignupResult, SignupWorkflow

HAPPY_STEPS = [
    "account_created",
    "deposit_posted",
    "account_verified",
    "deposit_removed",
    "welcome_email_sent",
]
UNDONE_STEPS = ["account_created", "deposit_posted", "deposit_removed", "account_closed"]
THREE_DAYS = timedelta(days=3)


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "signup-ledger.jsonl")


def signup_worker(client: Client, task_queue: str, ledger: Ledger) -> Worker:
    activities = SignupActivities(ledger)
    return Worker(client, task_queue=task_queue, workflows=[SignupWorkflow], activities=activities.as_list())


async def start_signup(
    client: Client, task_queue: str, *, card_token: str = "tok_visa", confirm_within: timedelta = THREE_DAYS
) -> WorkflowHandle[SignupWorkflow, SignupResult]:
    signup = SignupInput("ada@example.com", card_token, confirm_timeout=confirm_within.total_seconds())
    return await client.start_workflow(
        SignupWorkflow.run, signup, id=f"signup-{uuid.uuid4()}", task_queue=task_queue
    )


async def posted_amount(ledger: Ledger, workflow_id: str) -> int:
    """The amount on the user's card statement (here: the ledger)."""
    deposit = await ledger.wait_for(workflow_id, "deposit_posted", timeout=20)
    assert deposit is not None, "the deposit was never posted"
    return int(deposit["amount_cents"])


def steps(ledger: Ledger, workflow_id: str) -> list[str]:
    return [entry["step"] for entry in ledger.entries(workflow_id)]


def wrong(amount: int) -> int:
    return amount % 99 + 1  # 1..99 like the deposit, never equal to it


async def test_user_confirms_the_right_amount(
    clepsydra_client: Client, clepsydra_task_queue: str, ledger: Ledger
) -> None:
    async with signup_worker(clepsydra_client, clepsydra_task_queue, ledger):
        handle = await start_signup(clepsydra_client, clepsydra_task_queue)
        amount = await posted_amount(ledger, handle.id)
        await handle.signal(SignupWorkflow.confirm_amount, amount)
        result = await handle.result()

    assert (result.status, result.tries, result.undone) == ("verified", 1, [])
    assert steps(ledger, handle.id) == HAPPY_STEPS


async def test_user_walks_away(
    clepsydra_time_skipping_env: WorkflowEnvironment, clepsydra_task_queue: str, ledger: Ledger
) -> None:
    env = clepsydra_time_skipping_env
    before = await env.get_current_time()
    async with signup_worker(env.client, clepsydra_task_queue, ledger):
        handle = await start_signup(env.client, clepsydra_task_queue, confirm_within=THREE_DAYS)
        await posted_amount(ledger, handle.id)
        result = await handle.result()  # the three days of waiting are skipped here

    assert (result.status, result.tries) == ("expired", 0)
    assert result.undone == ["remove_micro_deposit", "close_account"]
    assert steps(ledger, handle.id) == UNDONE_STEPS
    assert await env.get_current_time() - before >= THREE_DAYS


async def test_wrong_amount_then_the_right_one(
    clepsydra_client: Client, clepsydra_task_queue: str, ledger: Ledger
) -> None:
    async with signup_worker(clepsydra_client, clepsydra_task_queue, ledger):
        handle = await start_signup(clepsydra_client, clepsydra_task_queue)
        amount = await posted_amount(ledger, handle.id)
        await handle.signal(SignupWorkflow.confirm_amount, wrong(amount))
        await handle.signal(SignupWorkflow.confirm_amount, amount)
        result = await handle.result()

    assert (result.status, result.tries) == ("verified", 2)
    assert steps(ledger, handle.id) == HAPPY_STEPS


async def test_three_wrong_amounts_undo_the_signup(
    clepsydra_client: Client, clepsydra_task_queue: str, ledger: Ledger
) -> None:
    async with signup_worker(clepsydra_client, clepsydra_task_queue, ledger):
        handle = await start_signup(clepsydra_client, clepsydra_task_queue)
        amount = await posted_amount(ledger, handle.id)
        for _ in range(3):
            await handle.signal(SignupWorkflow.confirm_amount, wrong(amount))
        result = await handle.result()

    assert (result.status, result.tries) == ("too_many_attempts", 3)
    assert result.undone == ["remove_micro_deposit", "close_account"]
    assert steps(ledger, handle.id) == UNDONE_STEPS


async def test_declined_card_fails_the_signup_and_closes_the_account(
    clepsydra_client: Client, clepsydra_task_queue: str, ledger: Ledger
) -> None:
    async with signup_worker(clepsydra_client, clepsydra_task_queue, ledger):
        handle = await start_signup(clepsydra_client, clepsydra_task_queue, card_token="tok_declined_1")
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()

    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "SignupFailed"
    assert "declined" in cause.message
    assert steps(ledger, handle.id) == ["account_created", "account_closed"]  # no deposit to take back
