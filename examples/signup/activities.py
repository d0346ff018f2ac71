"""The side effects of a sign-up: each activity does one thing to the "bank" (the ledger).

Activities may run more than once: a worker can crash after doing the work but
before reporting it, and the server then retries the activity. So every activity
here first looks in the ledger for what it already did *for this workflow id*
and, if it finds it, returns the earlier result instead of doing it again. That is
what makes "exactly once" hold end to end.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from ledger import Ledger

CARD_DECLINED = "CardDeclined"


class SignupActivities:
    """Activities as methods, so the worker can hand them the ledger they write to."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    @staticmethod
    def _workflow_id() -> str:
        workflow_id = activity.info().workflow_id
        assert workflow_id is not None, "these activities run as part of a workflow"
        return workflow_id

    @activity.defn
    async def create_account(self, email: str, card_token: str) -> str:
        """Open an (unverified) account; returns its id."""
        wf = self._workflow_id()
        if done := self.ledger.find(wf, "account_created"):
            return str(done["account_id"])
        account_id = f"acct-{uuid.uuid4().hex[:10]}"
        self.ledger.record(wf, "account_created", account_id=account_id, email=email, card_token=card_token)
        activity.logger.info("Created account %s for %s", account_id, email)
        return account_id

    @activity.defn
    async def post_micro_deposit(self, account_id: str, card_token: str) -> int:
        """Send a small random amount (1..99 cents) to the user's card; returns the amount.

        The amount is chosen here, not in the workflow: workflow code must be
        deterministic, and picking a random number is a side effect. If this
        activity runs again, it returns the amount it already sent.
        """
        wf = self._workflow_id()
        if done := self.ledger.find(wf, "deposit_posted"):
            return int(done["amount_cents"])
        # The fake bank declines some cards; that is a permanent failure, not worth retrying.
        if card_token.startswith("tok_declined"):
            raise ApplicationError(f"card {card_token} was declined", type=CARD_DECLINED, non_retryable=True)
        amount_cents = random.randint(1, 99)
        self.ledger.record(wf, "deposit_posted", account_id=account_id, amount_cents=amount_cents)
        activity.logger.info("Posted a deposit of %d cents to %s", amount_cents, account_id)
        return amount_cents

    @activity.defn
    async def mark_verified(self, account_id: str) -> None:
        wf = self._workflow_id()
        if not self.ledger.find(wf, "account_verified"):
            self.ledger.record(wf, "account_verified", account_id=account_id)

    @activity.defn
    async def remove_micro_deposit(self, account_id: str) -> None:
        """Take the deposit back. Used both as a normal step and as a compensation."""
        wf = self._workflow_id()
        if not self.ledger.find(wf, "deposit_posted"):
            return  # nothing was sent, nothing to take back
        if not self.ledger.find(wf, "deposit_removed"):
            self.ledger.record(wf, "deposit_removed", account_id=account_id)

    @activity.defn
    async def send_welcome_email(self, email: str, account_id: str) -> None:
        wf = self._workflow_id()
        if not self.ledger.find(wf, "welcome_email_sent"):
            self.ledger.record(wf, "welcome_email_sent", email=email, account_id=account_id)

    @activity.defn
    async def close_account(self, account_id: str) -> None:
        """Compensation for create_account."""
        wf = self._workflow_id()
        if not self.ledger.find(wf, "account_closed"):
            self.ledger.record(wf, "account_closed", account_id=account_id)

    def as_list(self) -> list[Callable[..., Any]]:
        """Every activity, for the worker to register."""
        return [
            self.create_account,
            self.post_micro_deposit,
            self.mark_verified,
            self.remove_micro_deposit,
            self.send_welcome_email,
            self.close_account,
        ]
