"""Run the sign-up worker: it polls the `signup` task queue and runs the workflow and activities.

    python worker.py [--address localhost:7233] [--namespace default] [--ledger FILE]

Stop it with Ctrl-C. It keeps no state of its own: stop it, start it again, and the
sign-ups carry on where they were, because their state lives in the server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from temporalio.client import Client
from temporalio.worker import Worker

from activities import SignupActivities
from ledger import Ledger, default_ledger_path
from workflow import TASK_QUEUE, SignupWorkflow


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="localhost:7233")
    parser.add_argument("--namespace", default="default")
    parser.add_argument(
        "--ledger",
        default=str(default_ledger_path()),
        help="ledger file (default: $SIGNUP_LEDGER or clepsydra-signup-ledger.jsonl in the temp directory)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    client = await Client.connect(args.address, namespace=args.namespace)
    activities = SignupActivities(Ledger(args.ledger))
    worker = Worker(
        client, task_queue=TASK_QUEUE, workflows=[SignupWorkflow], activities=activities.as_list()
    )
    print(f"Worker polling task queue {TASK_QUEUE!r} on {args.address}; ledger: {args.ledger}")
    await worker.run()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
