"""Retry policies: Temporal's defaults and the decision whether (and when) to try again."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio.api.common.v1 import RetryPolicy
from temporalio.api.enums.v1 import RetryState
from temporalio.api.failure.v1 import Failure

from clepsydra.errors import InvalidArgument

DEFAULT_INITIAL_INTERVAL = timedelta(seconds=1)
DEFAULT_BACKOFF_COEFFICIENT = 2.0
DEFAULT_MAXIMUM_INTERVAL_FACTOR = 100


def with_defaults(policy: RetryPolicy | None) -> RetryPolicy:
    """Fill unset fields as the reference server does; reject impossible values."""
    result = RetryPolicy()
    if policy is not None:
        result.CopyFrom(policy)
    initial = result.initial_interval.ToTimedelta()
    if initial < timedelta(0):
        raise InvalidArgument("InitialInterval cannot be negative on retry policy.")
    if result.backoff_coefficient != 0 and result.backoff_coefficient < 1:
        raise InvalidArgument("BackoffCoefficient cannot be less than 1 on retry policy.")
    if result.maximum_attempts < 0:
        raise InvalidArgument("MaximumAttempts cannot be negative on retry policy.")
    if initial == timedelta(0):
        result.initial_interval.FromTimedelta(DEFAULT_INITIAL_INTERVAL)
        initial = DEFAULT_INITIAL_INTERVAL
    if result.backoff_coefficient == 0:
        result.backoff_coefficient = DEFAULT_BACKOFF_COEFFICIENT
    maximum = result.maximum_interval.ToTimedelta()
    if maximum < timedelta(0):
        raise InvalidArgument("MaximumInterval cannot be negative on retry policy.")
    if maximum == timedelta(0):
        result.maximum_interval.FromTimedelta(initial * DEFAULT_MAXIMUM_INTERVAL_FACTOR)
    elif maximum < initial:
        raise InvalidArgument("MaximumInterval cannot be less than InitialInterval on retry policy.")
    return result


def next_backoff(
    policy: RetryPolicy,
    attempt: int,
    failure: Failure,
    now: datetime,
    expiration: datetime | None,
) -> tuple[timedelta | None, RetryState.ValueType]:
    """How long to wait before attempt `attempt + 1`, or None and why not."""
    if _non_retryable(policy, failure):
        return None, RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE
    if policy.maximum_attempts > 0 and attempt >= policy.maximum_attempts:
        return None, RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED
    explicit = failure.application_failure_info.next_retry_delay.ToTimedelta()
    if failure.HasField("application_failure_info") and explicit > timedelta(0):
        backoff = explicit
    else:
        initial = policy.initial_interval.ToTimedelta()
        backoff = initial * (policy.backoff_coefficient ** (attempt - 1))
        maximum = policy.maximum_interval.ToTimedelta()
        if maximum > timedelta(0):
            backoff = min(backoff, maximum)
    if expiration is not None and now + backoff >= expiration:
        return None, RetryState.RETRY_STATE_TIMEOUT
    return backoff, RetryState.RETRY_STATE_IN_PROGRESS


def _non_retryable(policy: RetryPolicy, failure: Failure) -> bool:
    if failure.HasField("application_failure_info"):
        info = failure.application_failure_info
        return info.non_retryable or info.type in policy.non_retryable_error_types
    if failure.HasField("timeout_failure_info"):
        name = _TIMEOUT_NAMES.get(failure.timeout_failure_info.timeout_type, "")
        return f"TemporalTimeout:{name}" in policy.non_retryable_error_types
    return False


_TIMEOUT_NAMES = {1: "StartToClose", 2: "ScheduleToStart", 3: "ScheduleToClose", 4: "Heartbeat"}
