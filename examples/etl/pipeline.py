"""The `NightlyEtl` workflow: one day's extract, transform and load.

Which day: the one given in the input, if any; otherwise the day before the run's
*nominal* time, in the input's time zone. A schedule gives each workflow it starts
that nominal time (the search attribute `TemporalScheduledStartTime`): the 02:00 it
was meant for, even when the run happens later (a backfill, a run that waited for
the one before it). So the run meant for 2026-01-06 02:00 reports on 2026-01-05,
whenever it runs. A workflow started by hand has no nominal time, and uses the
current time instead.

Workflow code must be deterministic: no I/O and no wall clock here (`workflow.now()`
is the time recorded in the history, the same on every replay). The databases are
only touched by the activities in `steps.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ApplicationError

# Passed through the sandbox: loaded once, not for every run. The sandbox also hides
# time zones from workflow code; `report_day`, outside it, may use them.
with workflow.unsafe.imports_passed_through():
    from zoneinfo import ZoneInfoNotFoundError

    from steps import EtlActivities
    from warehouse import report_day

TASK_QUEUE = "etl"
SCHEDULED_START_TIME = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")

# A failed step is retried: after 2 s, 4 s, 8 s, 16 s; then the run fails, and shows as failed.
STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=1), maximum_attempts=5
)
STEP_TIMEOUT = timedelta(minutes=1)
TRANSFORM_TIMEOUT = timedelta(minutes=10)
# A transform not heard of for this long is taken for dead, and retried from its last heartbeat.
TRANSFORM_HEARTBEAT_TIMEOUT = timedelta(seconds=10)


@dataclass
class EtlInput:
    time_zone: str = "UTC"
    """The time zone whose calendar days the report counts in."""
    day: str | None = None
    """The day to report on (YYYY-MM-DD); default: the day before the nominal time."""


@dataclass
class EtlResult:
    day: str
    orders: int
    products: int
    revenue_cents: int


@workflow.defn
class NightlyEtl:
    @workflow.run
    async def run(self, params: EtlInput) -> EtlResult:
        try:
            day = params.day or report_day(self.nominal_time(), params.time_zone).isoformat()
        except ZoneInfoNotFoundError:
            # Fail the run: retrying its workflow task would not make the zone exist.
            raise ApplicationError(f"unknown time zone {params.time_zone!r}", non_retryable=True) from None
        workflow.logger.info("Reporting on %s (%s)", day, params.time_zone)

        orders = await workflow.execute_activity_method(
            EtlActivities.extract,
            args=[day, params.time_zone],
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=STEP_RETRY,
        )
        rows = await workflow.execute_activity_method(
            EtlActivities.transform,
            day,
            start_to_close_timeout=TRANSFORM_TIMEOUT,
            heartbeat_timeout=TRANSFORM_HEARTBEAT_TIMEOUT,
            retry_policy=STEP_RETRY,
        )
        await workflow.execute_activity_method(
            EtlActivities.load,
            args=[day, rows],
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=STEP_RETRY,
        )
        return EtlResult(day, orders, len(rows), sum(row.revenue_cents for row in rows))

    @staticmethod
    def nominal_time() -> datetime:
        """The time the schedule meant this run for; for a run started by hand, now."""
        scheduled = workflow.info().typed_search_attributes.get(SCHEDULED_START_TIME)
        return scheduled if scheduled is not None else workflow.now()
