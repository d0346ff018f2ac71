"""Time list and count queries over many closed runs on the SQLite store.

Fills a database directly through the store (each run's state and its visibility row,
committed as the server commits them), then starts a server on it and times
ListWorkflowExecutions / CountWorkflowExecutions over gRPC with the official SDK's
client. Prints one line per query: median and 95th percentile in milliseconds.

    python bench/list_queries.py --runs 100000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.api.common.v1 import Payload, SearchAttributes
from temporalio.api.workflowservice.v1 import CountWorkflowExecutionsRequest, ListWorkflowExecutionsRequest
from temporalio.client import Client

from clepsydra.engine.state import ExecutionKey
from clepsydra.server.app import Server, ServerConfig
from clepsydra.services.namespaces import Namespaces
from clepsydra.store.base import ExecutionWrite, VisibilityRecord
from clepsydra.store.sqlite import SqliteStore
from clepsydra.visibility.attributes import AttrType

STATUSES = [2] * 16 + [3, 3, 5, 7]  # mostly Completed; Failed, Terminated, TimedOut
ATTRIBUTES = {"CustomerId": "Keyword", "Region": "Keyword", "Amount": "Int", "Note": "Text"}
NOTES = ["card declined", "refund issued", "manual review", "fraud check passed", "retry scheduled"]
BATCH = 2000


def payload(value: object) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())


def closed_run(namespace_id: str, i: int, start: datetime, rng: random.Random) -> ExecutionWrite:
    key = ExecutionKey(namespace_id, f"order-{i}", str(uuid.UUID(int=rng.getrandbits(128))))
    attributes = SearchAttributes(
        indexed_fields={
            "CustomerId": payload(f"customer-{rng.randrange(1000)}"),
            "Region": payload(rng.choice(["eu", "us", "apac", "latam", "africa"])),
            "Amount": payload(rng.randrange(10_000)),
            "Note": payload(rng.choice(NOTES)),
        }
    )
    close = start + timedelta(seconds=rng.randrange(1, 600))
    record = VisibilityRecord(
        key=key,
        workflow_type=f"Type{i % 10}",
        task_queue=f"queue-{i % 5}",
        status=rng.choice(STATUSES),
        start_time=start,
        execution_time=start,
        close_time=close,
        history_length=rng.randrange(5, 60),
        history_size_bytes=rng.randrange(1_000, 20_000),
        state_transition_count=rng.randrange(3, 30),
        memo=b"",
        search_attributes=attributes.SerializeToString(),
    )
    return ExecutionWrite(key=key, state=b"{}", expected_version=0, closed=True, visibility=record)


async def fill(db: Path, runs: int) -> None:
    store = SqliteStore(str(db))
    await store.open()
    namespaces = Namespaces(store)
    await namespaces.ensure("default")
    namespace_id = await namespaces.id_of("default")
    types = {name: AttrType(type_) for name, type_ in ATTRIBUTES.items()}
    await store.add_custom_search_attributes(namespace_id, types)
    rng = random.Random(7)
    # Closed within the last day, so that the retention sweep leaves them alone.
    began = datetime.now(UTC) - timedelta(hours=22)
    spacing = timedelta(hours=20) / runs
    t0 = time.perf_counter()
    for first in range(0, runs, BATCH):
        writes = [
            closed_run(namespace_id, i, began + spacing * i, rng)
            for i in range(first, min(runs, first + BATCH))
        ]
        await asyncio.gather(*(store.commit(w) for w in writes))  # group-committed
    print(f"filled {runs} closed runs in {time.perf_counter() - t0:.1f} s")
    await store.close()


async def timed(label: str, call, repeat: int) -> None:  # type: ignore[no-untyped-def]
    samples, rows = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        rows = await call()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    p95 = samples[max(0, int(len(samples) * 0.95) - 1)]
    print(f"{label:58} {rows:>7} rows  median {statistics.median(samples):7.1f} ms  p95 {p95:7.1f} ms")


async def measure(db: Path, repeat: int) -> None:
    server = Server(ServerConfig(port=0, db_filename=str(db)))
    await server.start()
    client = await Client.connect(server.address)
    ws = client.workflow_service

    def listing(query: str, page_size: int = 100):  # type: ignore[no-untyped-def]
        async def call() -> int:
            request = ListWorkflowExecutionsRequest(namespace="default", query=query, page_size=page_size)
            return len((await ws.list_workflow_executions(request)).executions)

        return call

    def counting(query: str):  # type: ignore[no-untyped-def]
        async def call() -> int:
            response = await ws.count_workflow_executions(
                CountWorkflowExecutionsRequest(namespace="default", query=query)
            )
            return response.count

        return call

    token = b""
    for _ in range(500):  # the token of page 501
        request = ListWorkflowExecutionsRequest(namespace="default", page_size=100, next_page_token=token)
        token = (await ws.list_workflow_executions(request)).next_page_token

    async def deep_page() -> int:
        request = ListWorkflowExecutionsRequest(namespace="default", page_size=100, next_page_token=token)
        return len((await ws.list_workflow_executions(request)).executions)

    now = datetime.now(UTC)
    hour_ago = (now - timedelta(hours=3)).isoformat()
    first_hour = (now - timedelta(hours=21)).isoformat()
    now = (now - timedelta(hours=2)).isoformat()
    cases = [
        ("first page, no filter (100)", listing("")),
        ("first page, no filter (1000)", listing("", 1000)),
        ("ExecutionStatus = 'Failed'", listing("ExecutionStatus = 'Failed'")),
        ("WorkflowType = 'Type3'", listing("WorkflowType = 'Type3'")),
        ("WorkflowId = 'order-4242'", listing("WorkflowId = 'order-4242'")),
        ("CustomerId = 'customer-42' (custom Keyword)", listing("CustomerId = 'customer-42'")),
        ("Region = 'eu' AND Amount > 9000", listing("Region = 'eu' AND Amount > 9000")),
        ("StartTime BETWEEN (a 1-hour window)", listing(f"StartTime BETWEEN '{hour_ago}' AND '{now}'")),
        ("CloseTime < (the first hour of data)", listing(f"CloseTime < '{first_hour}'")),
        ("Note = 'fraud' (Text, whole words)", listing("Note = 'fraud'")),
        ("ExecutionStatus = 'TimedOut' ORDER BY StartTime", listing(
            "ExecutionStatus = 'TimedOut' ORDER BY StartTime")),
        ("page 501 of the unfiltered list (100 a page)", deep_page),
        ("count, no filter", counting("")),
        ("count GROUP BY ExecutionStatus", counting("GROUP BY ExecutionStatus")),
        ("count CustomerId = 'customer-42'", counting("CustomerId = 'customer-42'")),
    ]  # fmt: skip
    for label, call in cases:
        await call()  # warm the page cache
        await timed(label, call, repeat)
    await server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--db", type=Path, default=None, help="reuse (or create) this database file")
    args = parser.parse_args()
    db = args.db or Path(tempfile.mkdtemp()) / "bench.db"
    if not db.exists():
        await fill(db, args.runs)
    await measure(db, args.repeat)


if __name__ == "__main__":
    asyncio.run(main())
