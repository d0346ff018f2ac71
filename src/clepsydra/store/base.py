"""The storage interface the services are written against.

Stores deal in opaque blobs (serialized mutable state, serialized history batches,
task payloads); the services own their meaning. Every change to one execution is
one `ExecutionWrite`, committed atomically and conditioned on the version read.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from clepsydra.engine.state import ExecutionKey

if TYPE_CHECKING:
    from clepsydra.visibility.attributes import AttrType
    from clepsydra.visibility.compiler import Compiled

# Where a page of the default list order starts: (close_sort, start time, run id) of the
# last row of the previous page (see store/sqlite_visibility.py).
Keyset = tuple[int, int, str]
# Where a batch job stands: (start time in microseconds, run id) of the last run it handled.
BatchCursor = tuple[int, str]


@dataclass(frozen=True)
class NamespaceRecord:
    id: str
    name: str
    data: bytes  # serialized DescribeNamespaceResponse


@dataclass(frozen=True)
class CurrentExecution:
    """The newest run of a workflow id: what id-reuse and "current run" lookups need."""

    run_id: str
    first_run_id: str
    status: int
    start_request_id: str


@dataclass(frozen=True)
class CurrentWrite:
    run_id: str
    first_run_id: str
    status: int
    start_request_id: str
    # The run that must be current for this write to apply; None: no run may exist yet.
    previous_run_id: str | None


@dataclass(frozen=True)
class StoredQueueTask:
    key: ExecutionKey
    task_key: str
    task_queue: str
    kind: int
    data: bytes


@dataclass(frozen=True)
class StoredTransfer:
    key: ExecutionKey
    task_key: str
    data: bytes


@dataclass(frozen=True)
class StoredTimer:
    key: ExecutionKey
    task_key: str
    fire_time: datetime
    data: bytes


@dataclass(frozen=True)
class VisibilityRecord:
    """What list and count queries see of one run; written with the change it reflects."""

    key: ExecutionKey
    workflow_type: str
    task_queue: str
    status: int
    start_time: datetime
    execution_time: datetime
    close_time: datetime | None
    history_length: int
    history_size_bytes: int
    state_transition_count: int
    memo: bytes  # serialized temporal.api.common.v1.Memo
    search_attributes: bytes  # serialized temporal.api.common.v1.SearchAttributes
    # (workflow id, run id) of the parent and of the root of its tree; root is the run itself if empty.
    parent: tuple[str, str] | None = None
    root: tuple[str, str] | None = None


@dataclass
class ExecutionWrite:
    key: ExecutionKey
    state: bytes
    # The version this write was computed from; 0 creates the execution.
    expected_version: int
    history_batch: tuple[int, bytes] | None = None  # (first event id, serialized History)
    current: CurrentWrite | None = None
    queue_tasks: list[StoredQueueTask] = field(default_factory=list)
    timers: list[StoredTimer] = field(default_factory=list)
    transfers: list[StoredTransfer] = field(default_factory=list)
    done_queue_task: str | None = None
    done_timer: str | None = None
    done_transfer: str | None = None
    # The run closed: drop all of its pending task-queue tasks and timers (not its transfers).
    closed: bool = False
    visibility: VisibilityRecord | None = None
    # A new run of the same workflow id created with this change (continue-as-new, retry, cron).
    successor: ExecutionWrite | None = None


@dataclass(frozen=True)
class BatchRecord:
    """A batch operation: what was asked, how far it got, where to resume."""

    namespace_id: str
    job_id: str
    running: bool
    start_time: int  # microseconds since the epoch
    request: bytes  # serialized StartBatchOperationRequest
    progress: bytes  # serialized DescribeBatchOperationResponse
    cursor: str | None  # the job's own resume point, opaque to the store


class Store(Protocol):
    # Whether several server processes may share the database (see clepsydra.cluster).
    shared: bool

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def probe(self) -> None:
        """Write something durably, to learn whether writes work now (raise if not)."""
        ...

    def check_file(self) -> None:
        """Raise DatabaseLost (store/faults.py) if the database is no longer the one opened."""
        ...

    async def create_namespace(self, record: NamespaceRecord) -> bool: ...
    async def get_namespace(self, name: str) -> NamespaceRecord | None: ...
    async def list_namespaces(self) -> list[NamespaceRecord]: ...

    async def get_current_execution(self, namespace_id: str, workflow_id: str) -> CurrentExecution | None: ...
    async def get_execution(self, key: ExecutionKey) -> tuple[bytes, int] | None: ...
    async def read_history(self, key: ExecutionKey, first_event_id: int) -> list[tuple[int, bytes]]: ...

    async def commit(self, write: ExecutionWrite) -> None:
        """Apply the write atomically and durably; ConditionFailed if the version moved."""
        ...

    async def delete_timer(self, key: ExecutionKey, task_key: str) -> None: ...
    async def delete_queue_task(self, key: ExecutionKey, task_key: str) -> None: ...
    async def delete_transfer(self, key: ExecutionKey, task_key: str) -> None: ...
    # Loading what is pending, at start-up or when a process takes shards over: `shards`
    # None means all (a SQLite file is served by one process, which holds every shard).
    async def load_queue_tasks(self, shards: Collection[int] | None = None) -> list[StoredQueueTask]: ...
    async def load_timers(
        self,
        shards: Collection[int] | None = None,
        after: datetime | None = None,
        until: datetime | None = None,
    ) -> list[StoredTimer]:
        """Timers, all or those due in (`after`, `until`]."""
        ...

    async def load_transfers(self, shards: Collection[int] | None = None) -> list[StoredTransfer]: ...
    async def load_tasks_of(
        self, key: ExecutionKey
    ) -> tuple[list[StoredQueueTask], list[StoredTimer], list[StoredTransfer]]:
        """The pending tasks of one execution."""
        ...

    # -- visibility (store/sqlite_visibility.py) --------------------------------------------
    async def list_visibility(
        self, namespace_id: str, query: Compiled, page_size: int, after: Keyset | int | None
    ) -> list[VisibilityRecord]: ...
    async def count_visibility(self, namespace_id: str, query: Compiled) -> list[tuple[int | None, int]]: ...
    def keyset(self, record: VisibilityRecord) -> Keyset: ...
    async def custom_search_attributes(self, namespace_id: str) -> dict[str, str]: ...
    async def add_custom_search_attributes(self, namespace_id: str, wanted: dict[str, AttrType]) -> None: ...
    async def remove_custom_search_attributes(self, namespace_id: str, names: list[str]) -> None: ...
    async def refresh_visibility_statistics(self) -> None: ...

    # -- administration (store/sqlite_admin.py) ----------------------------------------------
    async def update_namespace(self, record: NamespaceRecord) -> None: ...
    async def delete_namespace(self, namespace_id: str) -> None: ...
    async def delete_run(self, key: ExecutionKey) -> bool: ...
    async def runs_closed_before(
        self, namespace_id: str, cutoff: datetime, limit: int
    ) -> list[ExecutionKey]: ...
    async def runs_of_namespace(self, namespace_id: str, limit: int) -> list[ExecutionKey]: ...
    async def token_secret(self) -> bytes:
        """The key that seals task tokens, made once and kept (services/tokens.py)."""
        ...

    # -- batch operations (store/sqlite_batch.py) --------------------------------------------
    async def create_batch(self, record: BatchRecord) -> bool: ...
    async def save_batch_progress(
        self, namespace_id: str, job_id: str, running: bool, progress: bytes, cursor: str | None
    ) -> None: ...
    async def get_batch(self, namespace_id: str, job_id: str) -> BatchRecord | None: ...
    async def list_batches(self, namespace_id: str, limit: int, offset: int) -> list[BatchRecord]: ...
    async def running_batches(self) -> list[BatchRecord]: ...
    async def batch_targets(
        self, namespace_id: str, query: Compiled, after: BatchCursor | None, limit: int
    ) -> list[tuple[ExecutionKey, BatchCursor]]: ...
