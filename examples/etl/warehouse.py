"""The two SQLite databases of this example: the shop's orders (the source) and the warehouse (the target).

* `etl-orders.db` (or $ETL_SOURCE) has one table, `orders`, which `seed.py` fills.
  Times are in UTC, as text (`2026-01-05 14:03:27`), so that they sort as they compare.
* `etl-warehouse.db` (or $ETL_WAREHOUSE) has `staging_orders`, the copy of one day's
  orders that `extract` makes, and `daily_revenue`, the report: one row per day and
  product, which `load` writes.

A day is a calendar day in a time zone: the report of 2026-01-05 in Europe/Paris counts
the orders from 2026-01-04 23:00 to 2026-01-05 23:00 UTC.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

DEFAULT_SOURCE = "etl-orders.db"
DEFAULT_WAREHOUSE = "etl-warehouse.db"

SOURCE_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,  -- UTC, 'YYYY-MM-DD HH:MM:SS'
    product TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    unit_price_cents INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_created_at ON orders (created_at);
"""

WAREHOUSE_SCHEMA = """
CREATE TABLE IF NOT EXISTS staging_orders (
    day TEXT NOT NULL,
    order_id INTEGER NOT NULL,
    product TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    amount_cents INTEGER NOT NULL,
    PRIMARY KEY (day, order_id)
);
CREATE TABLE IF NOT EXISTS daily_revenue (
    day TEXT NOT NULL,
    product TEXT NOT NULL,
    orders INTEGER NOT NULL,
    units INTEGER NOT NULL,
    revenue_cents INTEGER NOT NULL,
    PRIMARY KEY (day, product)
);
"""


@dataclass
class ProductRevenue:
    """One row of the report: what one product sold in one day."""

    product: str
    orders: int
    units: int
    revenue_cents: int


ReportRow = tuple[str, str, int, int, int]
"""A row of `daily_revenue`: day, product, orders, units, revenue in cents."""


def default_source_path() -> Path:
    return Path(os.environ.get("ETL_SOURCE", DEFAULT_SOURCE))


def default_warehouse_path() -> Path:
    return Path(os.environ.get("ETL_WAREHOUSE", DEFAULT_WAREHOUSE))


def connect(path: Path | str, schema: str) -> sqlite3.Connection:
    """A connection to a database, with its tables created if they are missing.

    Use it in a `with` block for one transaction, and close it afterwards.
    """
    db = sqlite3.connect(path, timeout=30)
    db.executescript(schema)
    return db


def utc_text(moment: datetime) -> str:
    """The form `orders.created_at` is stored in."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def day_bounds(day: date, time_zone: str) -> tuple[str, str]:
    """The UTC times (as stored) at which `day` starts and the next day starts, in `time_zone`."""
    zone = ZoneInfo(time_zone)
    start = datetime.combine(day, time(), zone)
    end = datetime.combine(day + timedelta(days=1), time(), zone)
    return utc_text(start), utc_text(end)


def report_day(nominal_time: datetime, time_zone: str) -> date:
    """The day a run at `nominal_time` reports on: the day before, in `time_zone`."""
    return nominal_time.astimezone(ZoneInfo(time_zone)).date() - timedelta(days=1)


def report_rows(warehouse: Path | str, day: str | None = None) -> list[ReportRow]:
    """The report, of one day or of every day, in order."""
    db = connect(warehouse, WAREHOUSE_SCHEMA)
    try:
        query = "SELECT day, product, orders, units, revenue_cents FROM daily_revenue"
        if day is None:
            return db.execute(f"{query} ORDER BY day, product").fetchall()
        return db.execute(f"{query} WHERE day = ? ORDER BY product", (day,)).fetchall()
    finally:
        db.close()
