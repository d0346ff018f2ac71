"""The sign-up saga from examples/signup, run with a real worker against the server."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

# The example is a directory of scripts, not a package: import its modules the way
# its scripts do, by putting the directory on the path.
EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples" / "signup"
sys.path.insert(0, str(EXAMPLE_DIR))

from activities import SignupActivities  # noqa: E402
from ledger import Ledger  # noqa: E402
from workflow import SignupInput, SignupResult, SignupWorkflow  # noqa: E402

HAPPY_STEPS = [
    "account_created",
    "deposit_posted",
    "account_verified",
    "deposit_removed",
    "welcome_email_sent",
]
UNDONE_STEPS = ["account_created", "deposit_posted", "deposit_removed", "account_closed"]


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "signup-ledger.jsonl")


@pytest.fixture
async def worker(client: Client, task_queue: str, ledger: Ledger) -> AsyncIterator[Worker]:
    activities = SignupActivities(ledger)
    async with Worker(
        client, task_queue=task_queue, workflows=[SignupWorkflow], activities=activities.as_list()
    ) as running:
        yield running


async def start_signup(
    client: Client, workflow_id: str, task_queue: str, *, confirm_timeout: float = 60.0,
    card_token: str = "tok_visa",
) -> WorkflowHandle[SignupWorkflow, SignupResult]:
    return await client.start_workflow(
        SignupWorkflow.run,
        SignupInput(email="ada@example.com", card_token=card_token,
                    confirm_timeout=confirm_timeout),
        id=workflow_id,
        task_queue=task_queue,
    )


async def posted_amount(ledger: Ledger, workflow_id: str) -> int:
    """What the user reads on their card statement."""
    deposit = await ledger.wait_for(workflow_id, "deposit_posted", timeout=20)
    assert deposit is not None, "the deposit was never posted"
    amount = deposit["amount_cents"]
    assert isinstance(amount, int)
    assert 1 <= amount <= 99
    return amount


def steps(ledger: Ledger, workflow_id: str) -> list[str]:
    return [entry["step"] for entry in ledger.entries(workflow_id)]


def wrong_amount(amount: int) -> int:
    return amount % 99 + 1  # also 1..99, never equal to amount


async def test_user_confirms_the_right_amount(
    client: Client, worker: Worker, task_queue: str, workflow_id: str, ledger: Ledger
) -> None:
    handle = await start_signup(client, workflow_id, task_queue)
    amount = await posted_amount(ledger, workflow_id)

    await handle.signal(SignupWorkflow.confirm_amount, amount)
    result = await handle.result()

    assert result.status == "verified"
    assert result.tries == 1
    assert result.undone == []
    assert steps(ledger, workflow_id) == HAPPY_STEPS
    account_ids = {entry["account_id"] for entry in ledger.entries(workflow_id)}
    assert account_ids == {result.account_id}


async def test_user_walks_away(
    client: Client, worker: Worker, task_queue: str, workflow_id: str, ledger: Ledger
) -> None:
    handle = await start_signup(client, workflow_id, task_queue, confirm_timeout=2)
    await posted_amount(ledger, workflow_id)

    result = await handle.result()

    assert result.status == "expired"
    assert result.tries == 0
    assert result.undone == ["remove_micro_deposit", "close_account"]
    assert steps(ledger, workflow_id) == UNDONE_STEPS


async def test_wrong_amount_then_the_right_one(
    client: Client, worker: Worker, task_queue: str, workflow_id: str, ledger: Ledger
) -> None:
    handle = await start_signup(client, workflow_id, task_queue)
    amount = await posted_amount(ledger, workflow_id)

    await handle.signal(SignupWorkflow.confirm_amount, wrong_amount(amount))
    await handle.signal(SignupWorkflow.confirm_amount, amount)
    result = await handle.result()

    assert result.status == "verified"
    assert result.tries == 2
    assert steps(ledger, workflow_id) == HAPPY_STEPS


async def test_three_wrong_amounts_undo_the_signup(
    client: Client, worker: Worker, task_queue: str, workflow_id: str, ledger: Ledger
) -> None:
    handle = await start_signup(client, workflow_id, task_queue)
    amount = await posted_amount(ledger, workflow_id)

    for _ in range(3):
        await handle.signal(SignupWorkflow.confirm_amount, wrong_amount(amount))
    result = await handle.result()

    assert result.status == "too_many_attempts"
    assert result.tries == 3
    assert result.undone == ["remove_micro_deposit", "close_account"]
    assert steps(ledger, workflow_id) == UNDONE_STEPS


async def test_declined_card_fails_the_signup_and_closes_the_account(
    client: Client, worker: Worker, task_queue: str, workflow_id: str, ledger: Ledger
) -> None:
    handle = await start_signup(client, workflow_id, task_queue, card_token="tok_declined_1")

    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()

    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "SignupFailed"
    assert "declined" in cause.message
    # No deposit was posted, so there is nothing to remove; the account is closed.
    assert steps(ledger, workflow_id) == ["account_created", "account_closed"]
