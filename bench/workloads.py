"""Workflows and activities used by the benchmark (see run.py for the driver).

This module is imported by the worker processes and, for workflow code, by the
SDK's workflow sandbox: keep its top-level imports to the standard library and
``temporalio``, and keep all I/O inside activities.

Workloads:
  chain    ChainWorkflow(k): k trivial activities in sequence.
  latency  ChainWorkflow(k=1), one workflow at a time.
  signup   SignupSaga: the fintech sign-up saga (account, micro-deposit, wait for
           the user to type the amount, verify / compensate).
  timers   TimerWorkflow(seconds): one durable timer.
  starts   ChainWorkflow, started only (no worker).
  mixed    MixedSignup: sign-up with the user's signal, one child workflow
           (VerifyAmount), one durable timer (cool-off), 3 activities; the
           signal wait also sets a timeout timer that is cancelled when the
           user answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.exceptions import ActivityError

ACTIVITY_TIMEOUT = timedelta(seconds=60)

# ---------------------------------------------------------------------------
# chain / latency / starts
# ---------------------------------------------------------------------------


@activity.defn
async def step(x: int) -> int:
    return x + 1


@workflow.defn
class ChainWorkflow:
    @workflow.run
    async def run(self, k: int) -> int:
        v = 0
        for _ in range(k):
            v = await workflow.execute_activity(step, v, start_to_close_timeout=ACTIVITY_TIMEOUT)
        return v


# ---------------------------------------------------------------------------
# timers
# ---------------------------------------------------------------------------


@workflow.defn
class TimerWorkflow:
    @workflow.run
    async def run(self, seconds: float) -> list[float]:
        before = workflow.now().timestamp()
        await asyncio.sleep(seconds)  # a durable timer
        after = workflow.now().timestamp()
        return [before, after]


# ---------------------------------------------------------------------------
# signup saga
# ---------------------------------------------------------------------------

# The "bank statement": the worker process may install a sink that is told of
# every micro-deposit (workflow id, cents), so that the benchmark's simulated
# user can read the amount and type it in (signal the workflow).
_statement_sink: Callable[[str, int], None] | None = None


def set_statement_sink(fn: Callable[[str, int], None] | None) -> None:
    global _statement_sink
    _statement_sink = fn


@dataclass
class SignupInput:
    email: str
    verify_timeout_s: float = 120.0


@dataclass
class SignupResult:
    status: str  # "verified" | "compensated"
    reason: str  # "" | "timeout" | "wrong_amount" | "activity_failed"
    account_id: str
    deposit_cents: int
    submitted_cents: int | None
    steps: list[str] = field(default_factory=list)


@activity.defn
async def create_account(email: str) -> str:
    return "acct-" + activity.info().workflow_id


@activity.defn
async def post_micro_deposit(account_id: str) -> int:
    # One amount per sign-up, so a retried attempt posts the same deposit the
    # user already saw (a fresh random amount would fail a correct user).
    cents = random.Random(activity.info().workflow_id).randint(1, 99)
    sink = _statement_sink
    if sink is not None:
        sink(activity.info().workflow_id, cents)
    return cents


@activity.defn
async def mark_verified(account_id: str) -> None:
    return None


@activity.defn
async def remove_credit(args: list) -> None:  # [account_id, cents]
    return None


@activity.defn
async def send_welcome_email(email: str) -> None:
    return None


@activity.defn
async def reverse_deposit(args: list) -> None:  # [account_id, cents]
    return None


@activity.defn
async def close_account(account_id: str) -> None:
    return None


SIGNUP_ACTIVITIES = [
    create_account,
    post_micro_deposit,
    mark_verified,
    remove_credit,
    send_welcome_email,
    reverse_deposit,
    close_account,
]


@workflow.defn
class SignupSaga:
    def __init__(self) -> None:
        self._submitted: int | None = None

    @workflow.signal
    def submit_amount(self, cents: int) -> None:
        if self._submitted is None:  # the first answer counts
            self._submitted = cents

    @workflow.query
    def submitted(self) -> int | None:
        return self._submitted

    @workflow.run
    async def run(self, inp: SignupInput) -> SignupResult:
        steps: list[str] = []
        compensations: list = []  # (name, activity, arg), undone in reverse order
        account_id = ""
        cents = 0
        reason = ""
        try:
            account_id = await workflow.execute_activity(
                create_account, inp.email, start_to_close_timeout=ACTIVITY_TIMEOUT
            )
            steps.append("create_account")
            compensations.append(("close_account", close_account, account_id))

            cents = await workflow.execute_activity(
                post_micro_deposit, account_id, start_to_close_timeout=ACTIVITY_TIMEOUT
            )
            steps.append("post_micro_deposit")
            compensations.append(("reverse_deposit", reverse_deposit, [account_id, cents]))

            try:
                await workflow.wait_condition(
                    lambda: self._submitted is not None,
                    timeout=timedelta(seconds=inp.verify_timeout_s),
                )
            except TimeoutError:
                reason = "timeout"
            else:
                if self._submitted != cents:
                    reason = "wrong_amount"

            if not reason:
                await workflow.execute_activity(
                    mark_verified, account_id, start_to_close_timeout=ACTIVITY_TIMEOUT
                )
                steps.append("mark_verified")
                await workflow.execute_activity(
                    remove_credit,
                    [account_id, cents],
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                )
                steps.append("remove_credit")
                await workflow.execute_activity(
                    send_welcome_email,
                    inp.email,
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                )
                steps.append("send_welcome_email")
                return SignupResult("verified", "", account_id, cents, self._submitted, steps)
        except ActivityError:
            reason = "activity_failed"

        for name, act, arg in reversed(compensations):
            await workflow.execute_activity(act, arg, start_to_close_timeout=ACTIVITY_TIMEOUT)
            steps.append(name)
        return SignupResult("compensated", reason, account_id, cents, self._submitted, steps)


# ---------------------------------------------------------------------------
# mixed: a blend of the features a real sign-up uses
# ---------------------------------------------------------------------------


@dataclass
class MixedInput:
    email: str
    verify_timeout_s: float = 120.0
    cool_off_s: float = 1.0


@dataclass
class MixedResult:
    status: str  # "verified" | "rejected"
    reason: str  # "" | "timeout" | "wrong_amount"
    account_id: str
    steps: list[str] = field(default_factory=list)


@workflow.defn
class VerifyAmount:
    """Child workflow: compares the amount the user typed with the deposit."""

    @workflow.run
    async def run(self, amounts: list[int]) -> str:  # [deposited, submitted or -1]
        deposited, submitted = amounts
        if submitted < 0:
            return "timeout"
        return "" if submitted == deposited else "wrong_amount"


@workflow.defn
class MixedSignup:
    def __init__(self) -> None:
        self._submitted: int | None = None

    @workflow.signal
    def submit_amount(self, cents: int) -> None:
        if self._submitted is None:
            self._submitted = cents

    @workflow.run
    async def run(self, inp: MixedInput) -> MixedResult:
        steps: list[str] = []
        account_id = await workflow.execute_activity(
            create_account, inp.email, start_to_close_timeout=ACTIVITY_TIMEOUT
        )
        steps.append("create_account")
        cents = await workflow.execute_activity(
            post_micro_deposit, account_id, start_to_close_timeout=ACTIVITY_TIMEOUT
        )
        steps.append("post_micro_deposit")
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._submitted is not None,
                timeout=timedelta(seconds=inp.verify_timeout_s),
            )
        submitted = -1 if self._submitted is None else self._submitted
        reason = await workflow.execute_child_workflow(
            VerifyAmount.run, [cents, submitted], id=workflow.info().workflow_id + "-verify"
        )
        steps.append("verify_child")
        await asyncio.sleep(inp.cool_off_s)  # durable cool-off timer
        steps.append("cool_off")
        if reason:
            await workflow.execute_activity(
                close_account, account_id, start_to_close_timeout=ACTIVITY_TIMEOUT
            )
            steps.append("close_account")
            return MixedResult("rejected", reason, account_id, steps)
        await workflow.execute_activity(
            send_welcome_email, inp.email, start_to_close_timeout=ACTIVITY_TIMEOUT
        )
        steps.append("send_welcome_email")
        return MixedResult("verified", "", account_id, steps)


WORKFLOWS = [ChainWorkflow, TimerWorkflow, SignupSaga, VerifyAmount, MixedSignup]
ACTIVITIES = [step, *SIGNUP_ACTIVITIES]
