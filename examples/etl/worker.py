"""Run the ETL worker: it polls the `etl` task queue and runs the workflow and its steps.

    python worker.py [--address localhost:7233] [--namespace default]
                     [--source FILE] [--warehouse FILE] [--batch-size 50] [--batch-delay 0]

Stop it with Ctrl-C. It keeps no state of its own: a run whose worker dies carries
on with the next worker, from the last step (or heartbeat) the server recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker

from pipeline import TASK_QUEUE, NightlyEtl
from steps import EtlActivities
from warehouse import default_source_path, default_warehouse_path


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="localhost:7233")
    parser.add_argument("--namespace", default="default")
    parser.add_argument(
        "--source",
        default=str(default_source_path()),
        help="orders database (default: $ETL_SOURCE or ./etl-orders.db)",
    )
    parser.add_argument(
        "--warehouse",
        default=str(default_warehouse_path()),
        help="report database (default: $ETL_WAREHOUSE or ./etl-warehouse.db)",
    )
    parser.add_argument("--batch-size", type=int, default=50, help="orders per transform batch (default 50)")
    parser.add_argument(
        "--batch-delay", type=float, default=0.0, help="seconds to sleep after each batch (default 0)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    client = await Client.connect(args.address, namespace=args.namespace)
    activities = EtlActivities(
        args.source, args.warehouse, batch_size=args.batch_size, batch_delay=args.batch_delay
    )
    # The steps are blocking functions (sqlite3): they run on this pool, off the event loop.
    with ThreadPoolExecutor(max_workers=4) as pool:
        worker = Worker(
            client,
            task_queue=TASK_QUEUE,
            workflows=[NightlyEtl],
            activities=activities.as_list(),
            activity_executor=pool,
        )
        print(
            f"Worker polling task queue {TASK_QUEUE!r} on {args.address}; "
            f"orders: {args.source}, warehouse: {args.warehouse}"
        )
        await worker.run()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
