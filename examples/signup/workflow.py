"""The sign-up saga.

1. create the account                   (undone by: close the account)
2. post a micro-deposit to the card     (undone by: remove the deposit)
3. wait for the user to type the amount (signal `confirm_amount`), at most
   `confirm_timeout` seconds and at most 3 tries
4. mark the account verified, remove the deposit, send the welcome email

How a sign-up ends:

* The user confirms: the workflow returns SignupResult(status="verified").
* The user walks away (no right amount in time, or 3 wrong amounts): what was done
  is undone in reverse order (remove the deposit, close the account) and the
  workflow *returns* SignupResult(status="expired" or "too_many_attempts"). This is
  a normal business outcome, so the workflow completes.
* A step before verification fails for good (e.g. the card is declined, or an
  activity keeps failing after 5 attempts): what was done is undone in reverse
  order and the workflow *fails* with ApplicationError(type="SignupFailed").
* Once the account is verified there is no going back: removing the deposit and
  sending the welcome email are retried until they succeed.

Workflow code must be deterministic: no I/O, no random numbers, no wall clock. All
of that lives in activities; the workflow only decides what happens next.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities import SignupActivities

TASK_QUEUE = "signup"
MAX_TRIES = 3

# Steps that may fail for good: a few retries, then the saga is undone.
STEP_TIMEOUT = timedelta(seconds=10)
STEP_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=5)
# Compensations and the steps after verification must happen eventually: retry forever.
MUST_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))

# A compensation is an activity method that takes the account id.
Compensation = Callable[[SignupActivities, str], Awaitable[None]]


@dataclass
class SignupInput:
    email: str
    card_token: str
    confirm_timeout: float = 600.0
    """Seconds the user has to type the amount of the micro-deposit."""


@dataclass
class SignupResult:
    status: str
    """One of "verified", "expired" (no right amount in time) or "too_many_attempts"."""
    email: str
    account_id: str
    tries: int
    """How many amounts the user typed."""
    undone: list[str] = field(default_factory=list)
    """The compensations that ran, in order."""


@workflow.defn
class SignupWorkflow:
    def __init__(self) -> None:
        self._typed: list[int] = []  # amounts received by signal, not yet checked
        self._tries = 0

    @workflow.signal
    def confirm_amount(self, amount_cents: int) -> None:
        """The user typed the amount they saw on their card statement."""
        self._typed.append(amount_cents)

    @workflow.run
    async def run(self, signup: SignupInput) -> SignupResult:
        acts = SignupActivities
        # Compensations for what was done so far; run in reverse order if the sign-up fails.
        undo: list[Compensation] = []
        account_id = ""
        try:
            account_id = await workflow.execute_activity_method(
                acts.create_account,
                args=[signup.email, signup.card_token],
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=STEP_RETRY,
            )
            undo.append(acts.close_account)

            amount = await workflow.execute_activity_method(
                acts.post_micro_deposit,
                args=[account_id, signup.card_token],
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=STEP_RETRY,
            )
            undo.append(acts.remove_micro_deposit)

            status = await self._wait_for_confirmation(amount, signup.confirm_timeout)
            if status == "verified":
                await workflow.execute_activity_method(
                    acts.mark_verified,
                    account_id,
                    start_to_close_timeout=STEP_TIMEOUT,
                    retry_policy=STEP_RETRY,
                )
        except ActivityError as err:
            undone = await self._undo(undo, account_id)
            reason = err.cause.message if isinstance(err.cause, FailureError) else err.message
            raise ApplicationError(
                f"sign-up of {signup.email} failed: {reason}; undone: {', '.join(undone)}",
                type="SignupFailed",
                non_retryable=True,
            ) from err

        if status != "verified":
            undone = await self._undo(undo, account_id)
            return SignupResult(status, signup.email, account_id, self._tries, undone)

        # Verified: from here on, steps are retried until they succeed.
        await workflow.execute_activity_method(
            acts.remove_micro_deposit,
            account_id,
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=MUST_RETRY,
        )
        await workflow.execute_activity_method(
            acts.send_welcome_email,
            args=[signup.email, account_id],
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=MUST_RETRY,
        )
        return SignupResult("verified", signup.email, account_id, self._tries)

    async def _wait_for_confirmation(self, amount: int, timeout: float) -> str:
        """Wait for the right amount; returns "verified", "expired" or "too_many_attempts".

        The deadline is a durable timer kept by the server: it survives worker
        and server restarts.
        """
        deadline = workflow.now() + timedelta(seconds=timeout)
        while self._tries < MAX_TRIES:
            remaining = (deadline - workflow.now()).total_seconds()
            if remaining <= 0:
                return "expired"
            try:
                await workflow.wait_condition(lambda: bool(self._typed), timeout=remaining)
            except TimeoutError:
                return "expired"
            typed = self._typed.pop(0)
            self._tries += 1
            if typed == amount:
                return "verified"
            workflow.logger.info("Wrong amount (%d), try %d of %d", typed, self._tries, MAX_TRIES)
        return "too_many_attempts"

    @staticmethod
    async def _undo(undo: list[Compensation], account_id: str) -> list[str]:
        done = []
        for compensation in reversed(undo):
            await workflow.execute_activity_method(
                compensation, account_id, start_to_close_timeout=STEP_TIMEOUT, retry_policy=MUST_RETRY
            )
            done.append(compensation.__name__)
        return done
