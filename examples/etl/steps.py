"""The pipeline's steps, as activities: extract, transform, load.

Each may run more than once for the same day: the server retries a step that failed or
whose worker died, and a day can be run again on purpose (a backfill, a manual trigger).
So each step leaves the same data behind however many times it runs:

* `extract` replaces the day's staged orders, in one transaction;
* `transform` only reads, and carries on from its last heartbeat when retried;
* `load` replaces the day's report rows, in one transaction: never counted twice.

They are plain (not async) functions because sqlite3 blocks: the worker runs them on
a thread pool, where blocking is fine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from warehouse import SOURCE_SCHEMA, WAREHOUSE_SCHEMA, ProductRevenue, connect, day_bounds


@dataclass
class Progress:
    """How far `transform` got: its heartbeat details, which a retried attempt starts from."""

    after_id: int = 0
    """The last staged order counted; the next batch starts after it."""
    orders: int = 0
    totals: dict[str, list[int]] = field(default_factory=dict)
    """Product -> [orders, units, revenue in cents], so far."""

    def add(self, order_id: int, product: str, quantity: int, amount_cents: int) -> None:
        orders, units, revenue = self.totals.get(product, [0, 0, 0])
        self.totals[product] = [orders + 1, units + quantity, revenue + amount_cents]
        self.after_id = order_id
        self.orders += 1


class EtlActivities:
    """Activities as methods, so the worker can hand them the databases and the batch size."""

    def __init__(
        self,
        source: Path | str,
        warehouse: Path | str,
        *,
        batch_size: int = 50,
        batch_delay: float = 0.0,
    ) -> None:
        self.source = Path(source)
        self.warehouse = Path(warehouse)
        self.batch_size = batch_size
        self.batch_delay = batch_delay
        """Seconds to sleep after each batch: a slow transform, to kill a worker in the middle of."""

    @activity.defn
    def extract(self, day: str, time_zone: str) -> int:
        """Copy the day's orders from the shop into the warehouse's staging table; returns how many."""
        if not self.source.exists():
            # Retryable: a source that is late may show up before the last attempt.
            raise ApplicationError(f"no orders database at {self.source} (python seed.py creates one)")
        start, end = day_bounds(date.fromisoformat(day), time_zone)
        shop = connect(self.source, SOURCE_SCHEMA)
        try:
            rows = shop.execute(
                "SELECT id, product, quantity, quantity * unit_price_cents FROM orders"
                " WHERE created_at >= ? AND created_at < ? ORDER BY id",
                (start, end),
            ).fetchall()
        finally:
            shop.close()
        db = connect(self.warehouse, WAREHOUSE_SCHEMA)
        try:
            with db:  # one transaction: other readers see the old copy or the new one
                db.execute("DELETE FROM staging_orders WHERE day = ?", (day,))
                db.executemany(
                    "INSERT INTO staging_orders (day, order_id, product, quantity, amount_cents)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [(day, *row) for row in rows],
                )
        finally:
            db.close()
        activity.logger.info("Extracted %d orders of %s (%s)", len(rows), day, time_zone)
        return len(rows)

    @activity.defn
    def transform(self, day: str) -> list[ProductRevenue]:
        """Add up the staged orders of the day per product, a batch at a time.

        After each batch, the progress goes into a heartbeat. If this attempt dies (its
        worker is killed, say), the server notices the missing heartbeats and retries the
        step; the next attempt reads the last progress it heard of and starts from there.
        """
        details = activity.info().heartbeat_details
        progress = Progress(**details[0]) if details else Progress()
        if details:
            activity.logger.info(
                "Resuming %s after order %d (%d done)", day, progress.after_id, progress.orders
            )
        db = connect(self.warehouse, WAREHOUSE_SCHEMA)
        try:
            while batch := db.execute(
                "SELECT order_id, product, quantity, amount_cents FROM staging_orders"
                " WHERE day = ? AND order_id > ? ORDER BY order_id LIMIT ?",
                (day, progress.after_id, self.batch_size),
            ).fetchall():
                for row in batch:
                    progress.add(*row)
                time.sleep(self.batch_delay)
                self.heartbeat(progress)
        finally:
            db.close()
        return [ProductRevenue(product, *totals) for product, totals in sorted(progress.totals.items())]

    def heartbeat(self, progress: Progress) -> None:
        """Tell the server how far the transform got (and that this worker is alive)."""
        activity.heartbeat(asdict(progress))

    @activity.defn
    def load(self, day: str, rows: list[ProductRevenue]) -> int:
        """Write the day's report: its rows replace whatever a previous run wrote for that day."""
        db = connect(self.warehouse, WAREHOUSE_SCHEMA)
        try:
            with db:  # one transaction: delete and insert happen together or not at all
                db.execute("DELETE FROM daily_revenue WHERE day = ?", (day,))
                db.executemany(
                    "INSERT INTO daily_revenue (day, product, orders, units, revenue_cents)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [(day, r.product, r.orders, r.units, r.revenue_cents) for r in rows],
                )
        finally:
            db.close()
        activity.logger.info("Loaded %d report rows for %s", len(rows), day)
        return len(rows)

    def as_list(self) -> list[Callable[..., Any]]:
        """Every activity, for the worker to register."""
        return [self.extract, self.transform, self.load]
