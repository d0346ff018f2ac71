"""Search attributes: their types, and where each one lives in the visibility table.

Three kinds, as the reference server has them:
- system attributes are properties of the run (WorkflowId, StartTime, ...), each a column;
- predefined attributes are set by SDKs and server features (TemporalChangeVersion,
  BuildIds, ...), kept together in one JSON column since they are rarely queried;
- custom attributes are registered per namespace (OperatorService
  AddSearchAttributes). Each takes a free column of a fixed pool of typed columns
  (Keyword01..Keyword10, Int01..Int03, ...), as the reference's SQL visibility does,
  so that they are typed, indexable, and limited in number per type the same way.
  The namespace keeps the column → name mapping (`custom_search_attribute_aliases`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from temporalio.api.enums.v1 import IndexedValueType


class AttrType(Enum):
    TEXT = "Text"
    KEYWORD = "Keyword"
    INT = "Int"
    DOUBLE = "Double"
    BOOL = "Bool"
    DATETIME = "Datetime"
    KEYWORD_LIST = "KeywordList"

    @property
    def indexed_value_type(self) -> IndexedValueType.ValueType:
        return IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{self.name}")

    @classmethod
    def from_indexed_value_type(cls, value: int) -> AttrType | None:
        """The type of an IndexedValueType number; None for UNSPECIFIED (ValueError for a
        number that is no IndexedValueType)."""
        name = IndexedValueType.Name(IndexedValueType.ValueType(value)).removeprefix("INDEXED_VALUE_TYPE_")
        return cls.__members__.get(name)


class Storage(Enum):
    COLUMN = "column"  # its own column of the visibility table
    PREDEFINED = "predefined"  # a key of the `predefined` JSON column


@dataclass(frozen=True)
class Attribute:
    name: str
    type: AttrType
    storage: Storage
    column: str  # the column, or the key inside the JSON column


def _system(name: str, type_: AttrType, column: str) -> Attribute:
    return Attribute(name, type_, Storage.COLUMN, column)


K, T, N, D, B, DT, KL = (
    AttrType.KEYWORD,
    AttrType.TEXT,
    AttrType.INT,
    AttrType.DOUBLE,
    AttrType.BOOL,
    AttrType.DATETIME,
    AttrType.KEYWORD_LIST,
)

# Properties of the run itself; never set through SearchAttributes.
SYSTEM: dict[str, Attribute] = {
    a.name: a
    for a in [
        _system("WorkflowId", K, "workflow_id"),
        _system("RunId", K, "run_id"),
        _system("WorkflowType", K, "workflow_type"),
        _system("TaskQueue", K, "task_queue"),
        _system("ExecutionStatus", K, "status"),
        _system("StartTime", DT, "start_time"),
        _system("CloseTime", DT, "close_time"),
        _system("ExecutionTime", DT, "execution_time"),
        _system("ExecutionDuration", N, "execution_duration"),
        _system("HistoryLength", N, "history_length"),
        _system("HistorySizeBytes", N, "history_size_bytes"),
        _system("StateTransitionCount", N, "state_transition_count"),
        _system("ParentWorkflowId", K, "parent_workflow_id"),
        _system("ParentRunId", K, "parent_run_id"),
        _system("RootWorkflowId", K, "root_workflow_id"),
        _system("RootRunId", K, "root_run_id"),
    ]
}

# Set by SDKs and server features through SearchAttributes; reserved names.
PREDEFINED: dict[str, Attribute] = {
    name: Attribute(name, type_, Storage.PREDEFINED, name)
    for name, type_ in [
        ("BatcherNamespace", K),
        ("BatcherUser", K),
        ("BinaryChecksums", KL),
        ("BuildIds", KL),
        ("TemporalChangeVersion", KL),
        ("TemporalExternalPayloadCount", N),
        ("TemporalExternalPayloadSizeBytes", N),
        ("TemporalPauseInfo", KL),
        ("TemporalReportedProblems", KL),
        ("TemporalSchedulePaused", B),
        ("TemporalScheduledById", K),
        ("TemporalScheduledStartTime", DT),
        ("TemporalUsedWorkerDeploymentVersions", KL),
        ("TemporalWorkerDeployment", K),
        ("TemporalWorkerDeploymentVersion", K),
        ("TemporalWorkflowVersioningBehavior", K),
    ]
}
# Lists leave out runs that have a division (e.g. schedulers' own workflows) unless the
# query names it, so it has a column of its own.
PREDEFINED["TemporalNamespaceDivision"] = Attribute(
    "TemporalNamespaceDivision", K, Storage.COLUMN, "namespace_division"
)

# The pool of columns custom attributes are given, per type (the reference's SQL schema).
CUSTOM_COLUMNS: dict[AttrType, list[str]] = {
    type_: [f"{type_.value}{n:02d}" for n in range(1, count + 1)]
    for type_, count in [(K, 10), (T, 3), (N, 3), (D, 3), (B, 3), (DT, 3), (KL, 3)]
}
COLUMN_TYPES: dict[str, AttrType] = {
    column: type_ for type_, columns in CUSTOM_COLUMNS.items() for column in columns
}


class Schema:
    """The search attributes one namespace can query: system, predefined and its custom ones."""

    def __init__(self, aliases: dict[str, str]) -> None:
        """`aliases`: custom column → attribute name, as the namespace config keeps it."""
        self.custom: dict[str, Attribute] = {
            name: Attribute(name, COLUMN_TYPES[column], Storage.COLUMN, column)
            for column, name in aliases.items()
            if column in COLUMN_TYPES
        }

    def get(self, name: str) -> Attribute | None:
        return SYSTEM.get(name) or PREDEFINED.get(name) or self.custom.get(name)

    def settable(self, name: str) -> Attribute | None:
        """The attribute a workflow may set through SearchAttributes."""
        return PREDEFINED.get(name) or self.custom.get(name)


def system_types() -> dict[str, AttrType]:
    """What ListSearchAttributes reports as system attributes."""
    return {name: a.type for name, a in {**SYSTEM, **PREDEFINED}.items()}


class TooMany(ValueError):
    """No free column left for a new custom attribute of some type."""


def assign_columns(existing: dict[str, str], wanted: dict[str, AttrType]) -> dict[str, str]:
    """Columns for the wanted attributes that do not exist yet (name → column).

    Names that exist are left alone whatever type is asked, as the reference does.
    """
    taken = set(existing.values())
    new: dict[str, str] = {}
    for name, type_ in wanted.items():
        if name in existing or name in new:
            continue
        free = [c for c in CUSTOM_COLUMNS[type_] if c not in taken]
        if not free:
            raise TooMany(
                f"Unable to create search attributes: cannot have more than "
                f"{len(CUSTOM_COLUMNS[type_])} search attribute of type {type_.value}."
            )
        new[name] = free[0]
        taken.add(free[0])
    return new
