"""Create the shop's orders: the source the pipeline reads.

    python seed.py [--days 14] [--seed 1] [--source FILE]

Fills `orders` with 80 to 160 random orders a day, for every UTC day from `--days`
days ago to today; all of today, so that "yesterday" is complete in any time zone.
The same `--seed` and the same days give the same orders. Running it again replaces
every order, so the file never grows by accident.
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from warehouse import SOURCE_SCHEMA, connect, default_source_path, utc_text

# Product name and unit price in cents.
PRODUCTS = {
    "coffee beans 1kg": 2490,
    "espresso cup": 890,
    "grinder": 8900,
    "kettle": 4500,
    "milk jug": 1290,
    "paper filters": 390,
}


def seed_orders(source: Path | str, first_day: date, last_day: date, *, seed: int = 1) -> int:
    """Replace the orders with random ones from `first_day` to `last_day` (UTC); returns how many."""
    rng = random.Random(seed)
    rows = []
    day = first_day
    while day <= last_day:
        midnight = datetime.combine(day, time(), UTC)
        for _ in range(rng.randint(80, 160)):
            created_at = midnight + timedelta(seconds=rng.randrange(24 * 3600))
            product = rng.choice(sorted(PRODUCTS))
            rows.append((utc_text(created_at), product, rng.randint(1, 4), PRODUCTS[product]))
        day += timedelta(days=1)
    rows.sort()  # ids in the order of the orders' times, as in a real shop
    db = connect(source, SOURCE_SCHEMA)
    try:
        with db:
            db.execute("DELETE FROM orders")
            db.executemany(
                "INSERT INTO orders (created_at, product, quantity, unit_price_cents) VALUES (?, ?, ?, ?)",
                rows,
            )
    finally:
        db.close()
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=14, help="how many past days of orders (default 14)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random orders (default 1)")
    parser.add_argument(
        "--source",
        default=str(default_source_path()),
        help="orders database (default: $ETL_SOURCE or ./etl-orders.db)",
    )
    args = parser.parse_args()
    today = datetime.now(UTC).date()
    first_day = today - timedelta(days=args.days)
    count = seed_orders(args.source, first_day, today, seed=args.seed)
    print(f"Wrote {count} orders from {first_day} to {today} (UTC) to {args.source}")


if __name__ == "__main__":
    main()
