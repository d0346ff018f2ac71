"""Prometheus metrics of one server process, served at http://IP:PORT/metrics when the server
is given `--metrics-port` (off unless given).

Named as the reference server names them, so that dashboards built on its metrics work here:

- `service_requests`, `service_latency` (a histogram in seconds, the reference's buckets):
  every gRPC call, by `operation` (the RPC's name) and `namespace` (the request's, if it
  names one), with `service_name="frontend"`;
- `service_error_with_type`: every call answered with an error, by `operation` and
  `error_type` (the reference's: `serviceerror_NotFound`, `serviceerror_NamespaceNotFound`,
  ...), plus `status_code` (the gRPC status: `NOT_FOUND`, ...), which the reference lacks;
- `service_errors`: the errors that are the server's failures rather than the caller's
  (the reference's list: not INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, ...);
- `persistence_requests`, `persistence_errors`, `persistence_latency`: the writes of the
  update path, by `operation` (`CreateWorkflowExecution`, `UpdateWorkflowExecution`), with
  `service_name="history"`;
- `workflow_success`, `workflow_failed`, `workflow_timeout`, `workflow_cancel`,
  `workflow_terminate`, `workflow_continued_as_new`: runs that closed, by `namespace` (the
  server hears of each close as a `CommitListener` of the update path);
- `poll_success` and `poll_timeouts`: long polls of workers answered with a task or empty,
  by `namespace`, `taskqueue` (sticky queues as `__sticky__`) and `task_type`;
- `approximate_backlog_count`: tasks waiting on each task queue of this process for a poll,
  read when scraped;
- `timer_queue_size` (timers held in memory) and `timer_queue_lag_seconds` (how late the
  earliest of them is: timers firing behind their time), read when scraped;
- `numshards_gauge`: the shards this process owns, on a shared database;
- `cache_size` (executions cached), `cache_size_bytes`, `cache_requests` and `cache_miss`:
  the cache of workflow state, read when scraped;
- the process's own: `process_cpu_seconds_total`, `process_resident_memory_bytes`,
  `process_open_fds`, ... (prometheus_client's process collector).

The reference's counters carry no `_total` suffix, which prometheus_client's counters always
do; `ReferenceNames` exposes them under the reference's names, typed `untyped` (PromQL's
`rate` and `increase` work on them all the same). Each server has a registry of its own, not
prometheus_client's global one, so that several servers in one process do not clash.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from time import perf_counter
from typing import Any, cast
from wsgiref.simple_server import WSGIServer

import grpc
from google.protobuf.message import Message
from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, start_http_server
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from temporalio.api.enums.v1 import ResourceExhaustedScope, TaskQueueKind, WorkflowExecutionStatus
from temporalio.api.errordetails.v1 import ResourceExhaustedFailure

from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import ExecutionState
from clepsydra.engine.tasks import QueueKind
from clepsydra.history.cache import StateCache
from clepsydra.history.timer_queue import TimerQueue
from clepsydra.store.base import ExecutionWrite, Store

# The reference's histogram buckets, in seconds.
LATENCY_BUCKETS = (
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000,
)  # fmt: skip
# Errors the reference does not count as the server's failures (`service_errors`).
CALLER_ERRORS = frozenset(
    {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAUTHENTICATED,
    }
)
# The reference's error type names that are not the gRPC code's name in CamelCase.
ERROR_TYPES = {grpc.StatusCode.CANCELLED: "Canceled"}
Status = WorkflowExecutionStatus
# The closing status of a run → the reference's counter of such runs.
CLOSE_METRICS = {
    Status.WORKFLOW_EXECUTION_STATUS_COMPLETED: "workflow_success",
    Status.WORKFLOW_EXECUTION_STATUS_FAILED: "workflow_failed",
    Status.WORKFLOW_EXECUTION_STATUS_TIMED_OUT: "workflow_timeout",
    Status.WORKFLOW_EXECUTION_STATUS_CANCELED: "workflow_cancel",
    Status.WORKFLOW_EXECUTION_STATUS_TERMINATED: "workflow_terminate",
    Status.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW: "workflow_continued_as_new",
}
FRONTEND = "frontend"
HISTORY = "history"
# The workers' long polls, and the task type each polls for (the reference's `task_type`).
POLL_TASK_TYPES = {
    "PollWorkflowTaskQueue": "Workflow",
    "PollActivityTaskQueue": "Activity",
    "PollNexusTaskQueue": "Nexus",
}
STICKY = "__sticky__"
# (namespace id, task queue, kind, tasks waiting) of each task queue with a backlog.
BacklogSource = Callable[[], list[tuple[str, str, QueueKind, int]]]


class Metrics:
    """The metrics of one server, and the HTTP server that exposes them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        labels = ("service_name", "operation")
        rpc_labels = (*labels, "namespace")
        self._requests = Counter("service_requests", "RPCs served", rpc_labels, registry=self.registry)
        self._errors_by_type = Counter(
            "service_error_with_type",
            "RPCs answered with an error",
            (*rpc_labels, "error_type", "status_code"),
            registry=self.registry,
        )
        self._failures = Counter(
            "service_errors", "RPCs that failed on the server's side", rpc_labels, registry=self.registry
        )
        self._latency = Histogram(
            "service_latency", "RPC latency", rpc_labels, buckets=LATENCY_BUCKETS, registry=self.registry
        )
        poll_labels = ("namespace", "taskqueue", "task_type")
        self._polls = {
            answered: Counter(name, f"worker polls: {name}", poll_labels, registry=self.registry)
            for answered, name in ((True, "poll_success"), (False, "poll_timeouts"))
        }
        self._writes = Counter("persistence_requests", "store writes", labels, registry=self.registry)
        self._write_errors = Counter(
            "persistence_errors", "store writes that failed", labels, registry=self.registry
        )
        self._write_latency = Histogram(
            "persistence_latency",
            "store write latency",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._closed = {
            status: Counter(
                name, f"workflow runs closed: {name}", ("service_name", "namespace"), registry=self.registry
            )
            for status, name in CLOSE_METRICS.items()
        }
        # (operation, namespace) → (its request counter, its latency histogram): no label
        # lookup per call.
        self._rpc: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._http: tuple[WSGIServer, threading.Thread] | None = None
        self.port: int | None = None

    def record(
        self,
        operation: str,
        seconds: float,
        code: grpc.StatusCode,
        detail: Message | None,
        request: Message,
        response: Message | None,
    ) -> None:
        """An RPC was answered (the `api.grpc_handlers.RpcRecorder` of the gRPC handlers)."""
        namespace = getattr(request, "namespace", "")
        if not isinstance(namespace, str):
            namespace = ""
        children = self._rpc.get((operation, namespace))
        if children is None:
            children = self._rpc[operation, namespace] = (
                self._requests.labels(FRONTEND, operation, namespace),
                self._latency.labels(FRONTEND, operation, namespace),
            )
        children[0].inc()
        children[1].observe(seconds)
        if code is not grpc.StatusCode.OK:
            kind = error_type(code, detail)
            self._errors_by_type.labels(FRONTEND, operation, namespace, kind, code.name).inc()
            if not caller_error(code, detail):
                self._failures.labels(FRONTEND, operation, namespace).inc()
        elif operation in POLL_TASK_TYPES and response is not None:
            task_queue = request.task_queue  # type: ignore[attr-defined]
            name = STICKY if task_queue.kind == TaskQueueKind.TASK_QUEUE_KIND_STICKY else task_queue.name
            answered = bool(response.task_token)  # type: ignore[attr-defined]
            self._polls[answered].labels(namespace, name, POLL_TASK_TYPES[operation]).inc()

    def watch_timers(self, timers: TimerQueue) -> None:
        self.registry.register(Readings(lambda: [
            ("timer_queue_size", "timers held in memory", len(timers)),
            ("timer_queue_lag_seconds", "how late the earliest timer held is", timers.lag()),
        ]))  # fmt: skip

    def watch_shards(self, held: Callable[[], list[int]]) -> None:
        self.registry.register(Readings(lambda: [("numshards_gauge", "shards owned", len(held()))]))

    def watch_cache(self, cache: StateCache) -> None:
        """Report the state cache's size and lookups when scraped."""
        self.registry.register(CacheSize(cache))

    def watch_backlogs(self, backlogs: BacklogSource, names: Callable[[], dict[str, str]]) -> None:
        """Report `approximate_backlog_count` from `backlogs()` (namespace id, task queue, kind,
        tasks waiting) when scraped, namespaces named by `names()` (id → name)."""
        self.registry.register(Backlogs(backlogs, names))

    # -- a CommitListener of the update path: runs that closed --------------------------------

    def committed(self, m: Mutation) -> None:
        if m.closed and m.state.schedule is None:
            counter = self._closed.get(m.state.status)
            if counter is not None:
                counter.labels(HISTORY, m.state.namespace).inc()

    def changed_elsewhere(self, state: ExecutionState) -> None:
        """Counted by the process that made the change."""

    def timed_commits(self, store: Store) -> Store:
        """`store`, its commits counted and timed (for the update path)."""
        return cast(Store, TimedCommits(store, self))  # a Store by delegation

    def record_write(self, operation: str, seconds: float, failed: bool) -> None:
        self._writes.labels(HISTORY, operation).inc()
        self._write_latency.labels(HISTORY, operation).observe(seconds)
        if failed:
            self._write_errors.labels(HISTORY, operation).inc()

    def start(self, ip: str, port: int) -> None:
        """Serve /metrics on ip:port (0: any free port), from a thread of its own."""
        exposed = CollectorRegistry(auto_describe=False)
        exposed.register(ReferenceNames(self.registry))
        ProcessCollector(registry=exposed)  # its standard names, `_total` included
        try:
            self._http = start_http_server(port, ip, registry=exposed)
        except OSError as error:
            raise OSError(f"cannot serve metrics on {ip}:{port}: {error.strerror}") from None
        self.port = self._http[0].server_port

    async def stop(self) -> None:
        """Stop serving and release the port."""
        if self._http is None:
            return
        server, thread = self._http
        self._http = None
        await asyncio.to_thread(_shut_down, server, thread)


def _shut_down(server: WSGIServer, thread: threading.Thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join()


class TimedCommits:
    """A store whose commits are counted and timed; everything else goes to the store as is."""

    def __init__(self, store: Store, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def commit(self, write: ExecutionWrite) -> None:
        operation = "CreateWorkflowExecution" if write.expected_version == 0 else "UpdateWorkflowExecution"
        started = perf_counter()
        failed = True
        try:
            await self._store.commit(write)
            failed = False
        finally:
            self._metrics.record_write(operation, perf_counter() - started, failed)


def error_type(code: grpc.StatusCode, detail: Message | None) -> str:
    """The reference's name of an error: its Go type, which its typed detail is named after
    (NotFoundFailure: serviceerror_NotFound), or else its status code."""
    if detail is not None:
        name = detail.DESCRIPTOR.name.removesuffix("Failure")
    else:
        name = ERROR_TYPES.get(code) or "".join(word.capitalize() for word in code.name.split("_"))
    return f"serviceerror_{name}"


def caller_error(code: grpc.StatusCode, detail: Message | None) -> bool:
    """Whether the reference counts the error as the caller's, not in `service_errors`."""
    if code in CALLER_ERRORS:
        return True
    # A namespace's own limit, as opposed to the server's overload.
    return isinstance(detail, ResourceExhaustedFailure) and detail.scope == (
        ResourceExhaustedScope.RESOURCE_EXHAUSTED_SCOPE_NAMESPACE
    )


class Readings(Collector):
    """Gauges of the history service read when scraped: (name, help, value) from `read()`."""

    def __init__(self, read: Callable[[], list[tuple[str, str, float]]]) -> None:
        self._read = read

    def collect(self) -> Iterable[Metric]:
        for name, documentation, value in self._read():
            family = GaugeMetricFamily(name, documentation, labels=("service_name",))
            family.add_metric((HISTORY,), value)
            yield family


class CacheSize(Collector):
    def __init__(self, cache: StateCache) -> None:
        self._cache = cache

    def collect(self) -> Iterable[Metric]:
        cache, labels = self._cache, ("service_name",)
        for name, kind, value in (
            ("cache_size", GaugeMetricFamily, len(cache)),
            ("cache_size_bytes", GaugeMetricFamily, cache.bytes),
            ("cache_requests", CounterMetricFamily, cache.requests),
            ("cache_miss", CounterMetricFamily, cache.misses),
        ):
            family = kind(name, f"the state cache: {name}", labels=labels)
            family.add_metric((HISTORY,), value)
            yield family


class Backlogs(Collector):
    def __init__(self, backlogs: BacklogSource, names: Callable[[], dict[str, str]]) -> None:
        self._backlogs = backlogs
        self._names = names

    def collect(self) -> Iterable[Metric]:
        gauge = GaugeMetricFamily(
            "approximate_backlog_count",
            "tasks waiting for a poll on a task queue of this process",
            labels=("namespace", "taskqueue", "task_type"),
        )
        names = self._names()
        for namespace_id, task_queue, kind, waiting in self._backlogs():
            task_type = kind.name.capitalize()  # Workflow, Activity, Nexus: the reference's
            gauge.add_metric((names.get(namespace_id, namespace_id), task_queue, task_type), waiting)
        yield gauge


class ReferenceNames(Collector):
    """The metrics of a registry under the reference's names: counters without the `_total`
    suffix (typed untyped, as a counter must have it), and no `_created` series."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterable[Metric]:
        for family in self._source.collect():
            counter = family.type == "counter"
            renamed = Metric(family.name, family.documentation, "unknown" if counter else family.type)
            for sample in family.samples:
                if sample.name.endswith("_created"):
                    continue
                name = family.name if counter else sample.name
                renamed.add_sample(name, sample.labels, sample.value, sample.timestamp)
            yield renamed
