"""Start a sign-up, confirm its micro-deposit, and see how it ended.

    python starter.py start EMAIL [--card-token TOKEN] [--confirm-timeout SECONDS]
    python starter.py confirm WORKFLOW_ID AMOUNT      # AMOUNT in cents (37) or dollars (0.37)
    python starter.py result WORKFLOW_ID
    python starter.py ledger [WORKFLOW_ID]

Every command takes --address (default localhost:7233) and --namespace (default
"default"). `start` and `ledger` read the ledger file the worker writes (--ledger,
default $SIGNUP_LEDGER or clepsydra-signup-ledger.jsonl in the system's temporary
directory): that file plays the part of the user's card statement, which is where a
real user would see the deposit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from decimal import Decimal, InvalidOperation

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import FailureError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from ledger import Ledger, default_ledger_path
from workflow import TASK_QUEUE, SignupInput, SignupResult, SignupWorkflow


def parse_cents(text: str) -> int:
    """ "37" -> 37 cents; "0.37" or "$0.37" -> 37 cents."""
    text = text.strip().lstrip("$")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}") from None
    cents = value * 100 if "." in text else value
    if cents != cents.to_integral_value():
        raise argparse.ArgumentTypeError(f"not a whole number of cents: {text!r}")
    return int(cents)


async def start(client: Client, ledger: Ledger, args: argparse.Namespace) -> int:
    workflow_id = args.id or f"signup-{uuid.uuid4().hex[:8]}"
    signup = SignupInput(email=args.email, card_token=args.card_token, confirm_timeout=args.confirm_timeout)
    try:
        # A workflow id names one sign-up forever: the activities use it as their
        # idempotency key, so it must never be reused.
        handle = await client.start_workflow(
            SignupWorkflow.run,
            signup,
            id=workflow_id,
            task_queue=TASK_QUEUE,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        print(f"A sign-up with id {workflow_id} already exists.", file=sys.stderr)
        return 1
    print(f"Started sign-up {workflow_id} for {args.email}.")

    # The user would now look at their card statement. Here: the ledger.
    deposit = None
    for _ in range(30):
        deposit = await ledger.wait_for(workflow_id, "deposit_posted", timeout=0.5)
        if deposit is not None:
            break
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            print(
                "The sign-up ended before posting a deposit. See how with:\n"
                f"    python starter.py result {workflow_id}"
            )
            return 1
    if deposit is None:
        print(
            "No deposit on the statement yet (is the worker running?). Look later with:\n"
            f"    python starter.py ledger {workflow_id}"
        )
        return 0
    cents = deposit["amount_cents"]
    print(
        f"Your card statement shows a deposit of ${cents / 100:.2f}.\n"
        f"Within {args.confirm_timeout:g} seconds, confirm it with:\n"
        f"    python starter.py confirm {workflow_id} {cents}"
    )
    return 0


async def confirm(client: Client, args: argparse.Namespace) -> int:
    handle = client.get_workflow_handle(args.workflow_id)
    try:
        await handle.signal(SignupWorkflow.confirm_amount, args.amount)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        print(
            f"Sign-up {args.workflow_id} is not waiting for a confirmation: {err.message}.\n"
            f"See how it ended with:\n    python starter.py result {args.workflow_id}",
            file=sys.stderr,
        )
        return 1
    print(
        f"Sent ${args.amount / 100:.2f} to sign-up {args.workflow_id}. See how it went with:\n"
        f"    python starter.py result {args.workflow_id}"
    )
    return 0


async def result(client: Client, args: argparse.Namespace) -> int:
    handle = client.get_workflow_handle_for(SignupWorkflow.run, args.workflow_id)
    try:
        description = await handle.describe()
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        print(f"No sign-up with id {args.workflow_id}.", file=sys.stderr)
        return 1
    if description.status == WorkflowExecutionStatus.RUNNING:
        print(
            "The sign-up is still running (waiting for a confirmation?); "
            "waiting for it to end, Ctrl-C to stop waiting..."
        )
    try:
        outcome: SignupResult = await handle.result()
    except WorkflowFailureError as err:
        cause = err.cause
        print(f"Sign-up failed: {cause.message if isinstance(cause, FailureError) else cause}")
        return 1
    print(
        f"Sign-up {outcome.status}: email {outcome.email}, account {outcome.account_id}, "
        f"{outcome.tries} amount(s) typed."
    )
    if outcome.undone:
        print(f"Undone: {', '.join(outcome.undone)}")
    return 0


def show_ledger(ledger: Ledger, workflow_id: str | None) -> int:
    entries = ledger.entries(workflow_id)
    if not entries:
        print(f"Nothing in {ledger.path} yet.")
    for entry in entries:
        details = {k: v for k, v in entry.items() if k not in ("time", "workflow_id", "step")}
        print(f"{entry['time']}  {entry['workflow_id']}  {entry['step']:<20} {json.dumps(details)}")
    return 0


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="localhost:7233")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--ledger", default=str(default_ledger_path()))
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("start", help="start a sign-up")
    p.add_argument("email")
    p.add_argument(
        "--card-token",
        default="tok_visa",
        help="tokens starting with tok_declined are declined by the fake bank",
    )
    p.add_argument(
        "--confirm-timeout",
        type=float,
        default=600.0,
        help="seconds the user has to confirm the deposit (default 600)",
    )
    p.add_argument("--id", help="workflow id (default: signup-<random>)")

    p = commands.add_parser("confirm", help="type the amount of the deposit")
    p.add_argument("workflow_id")
    p.add_argument("amount", type=parse_cents)

    p = commands.add_parser("result", help="wait for a sign-up to end and print how it ended")
    p.add_argument("workflow_id")

    p = commands.add_parser("ledger", help="print what happened, from the ledger")
    p.add_argument("workflow_id", nargs="?")

    args = parser.parse_args()
    ledger = Ledger(args.ledger)
    if args.command == "ledger":
        return show_ledger(ledger, args.workflow_id)
    client = await Client.connect(args.address, namespace=args.namespace)
    if args.command == "start":
        return await start(client, ledger, args)
    if args.command == "confirm":
        return await confirm(client, args)
    return await result(client, args)


if __name__ == "__main__":
    try:
        code = asyncio.run(main())
    except KeyboardInterrupt:
        code = 130
    # In a short-lived process, the SDK's background threads can make CPython abort
    # while shutting down (temporalio/sdk-python#300). Everything is done: skip the shutdown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
