"""What `--dynamic-config-value` changes: the limits and switches a user or the SDK's tests can
see, under the reference server's dynamic config keys and with its defaults.

One process serves with one set of settings, configured once at start-up before anything
runs (`configure`); the engine reads them (`current`) as it reads its other constants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

MIB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    blob_size_limit: int = 2 * MIB
    # A payload is measured against the limit only past this size, as on the reference.
    blob_size_warn: int = 512 * 1024
    memo_size_limit: int = 2 * MIB
    history_count_limit: int = 51_200
    history_size_limit: int = 50 * MIB
    # Past these, the worker is told to continue as new (WorkflowTaskStarted.suggest_continue_as_new).
    history_count_suggest_continue_as_new: int = 4 * 1024
    history_size_suggest_continue_as_new: int = 4 * MIB
    pending_limit: int = 2_000
    signals_per_execution_limit: int = 10_000
    eager_workflow_start: bool = True


# Dynamic config key → setting.
KEYS = {
    "limit.blobSize.error": "blob_size_limit",
    "limit.blobSize.warn": "blob_size_warn",
    "limit.memoSize.error": "memo_size_limit",
    "limit.historyCount.error": "history_count_limit",
    "limit.historySize.error": "history_size_limit",
    "limit.historyCount.suggestContinueAsNew": "history_count_suggest_continue_as_new",
    "limit.historySize.suggestContinueAsNew": "history_size_suggest_continue_as_new",
    "limit.numPendingActivities.error": "pending_limit",
    "history.maximumSignalsPerExecution": "signals_per_execution_limit",
    "system.enableEagerWorkflowStart": "eager_workflow_start",
}
_TYPES = {f.name: f.type for f in fields(Settings)}

_current = Settings()


def from_dynamic_config(values: Mapping[str, object]) -> tuple[Settings, dict[str, object]]:
    """The settings the values set, and the values that set none (unknown keys, or values
    of the wrong type), for the caller to report."""
    changes: dict[str, object] = {}
    unused: dict[str, object] = {}
    for key, value in values.items():
        name = KEYS.get(key)
        wanted = bool if _TYPES.get(name or "") in (bool, "bool") else int
        if name is None or isinstance(value, bool) != (wanted is bool) or not isinstance(value, wanted):
            unused[key] = value
        else:
            changes[name] = value
    return replace(Settings(), **changes), unused  # type: ignore[arg-type]


def configure(settings: Settings) -> None:
    global _current
    _current = settings


def current() -> Settings:
    return _current


def blob_too_large(size: int) -> bool:
    settings = _current
    return size > settings.blob_size_warn and size > settings.blob_size_limit
