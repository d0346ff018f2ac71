"""Print the report the pipeline wrote: revenue per product and day.

python report.py [--day YYYY-MM-DD] [--warehouse FILE]
"""

from __future__ import annotations

import argparse

from warehouse import default_warehouse_path, report_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", help="only this day (default: every day)")
    parser.add_argument(
        "--warehouse",
        default=str(default_warehouse_path()),
        help="report database (default: $ETL_WAREHOUSE or ./etl-warehouse.db)",
    )
    args = parser.parse_args()
    rows = report_rows(args.warehouse, args.day)
    if not rows:
        print(f"No report rows in {args.warehouse}{f' for {args.day}' if args.day else ''} yet.")
        return
    print(f"{'day':<10}  {'product':<18} {'orders':>6} {'units':>6} {'revenue':>10}")
    for day, product, orders, units, revenue_cents in rows:
        print(f"{day:<10}  {product:<18} {orders:>6} {units:>6} {revenue_cents / 100:>10.2f}")
    days = {row[0] for row in rows}
    total = sum(row[4] for row in rows)
    print(f"{len(days)} day(s), {len(rows)} row(s), revenue {total / 100:.2f}")


if __name__ == "__main__":
    main()
