"""Nexus endpoints: the registry that OperatorService manages and Nexus callers resolve.

An endpoint names where a Nexus request goes: a worker target (a namespace and a task
queue polled by Nexus workers) or an external URL. It is global, addressed by a generated
id for changes and by its unique name for calls. Each change is conditioned on the
version the caller read (a stale one is refused) and bumps it. The checks and messages are
the reference's: a client sees the same error for the same mistake.
"""

from __future__ import annotations

import base64
import json
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from temporalio.api.nexus.v1 import Endpoint, EndpointSpec
from temporalio.api.operatorservice.v1 import ListNexusEndpointsRequest, ListNexusEndpointsResponse

from clepsydra.clock import Clock
from clepsydra.engine import codec
from clepsydra.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, ServiceError
from clepsydra.services.namespaces import Namespaces
from clepsydra.store.nexus_endpoints import EndpointRow, EndpointStore, NameTaken

NAME_PATTERN = re.compile(r"^[a-zA-Z][a-zA-Z0-9\-]*[a-zA-Z0-9]$")
MAX_NAME_LENGTH = 200
MAX_TASK_QUEUE_LENGTH = 1000
MAX_URL_LENGTH = 4 * 1024
MAX_DESCRIPTION_SIZE = 20_000
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
RESERVED_TASK_QUEUE_PREFIX = "/_sys/"


@dataclass(frozen=True)
class WorkerTarget:
    """Where a resolved endpoint sends its requests."""

    endpoint_id: str
    namespace_id: str
    task_queue: str


class NexusEndpoints:
    def __init__(
        self, store: EndpointStore, namespaces: Namespaces, clock: Clock, cache_seconds: float | None = None
    ) -> None:
        """`cache_seconds`: how long callers' lookups may use what was read (None: until this
        process changes an endpoint; set it when other processes may change them too)."""
        self._store = store
        self._namespaces = namespaces
        self._clock = clock
        # Callers' lookups, by name and by id: what was found (or not), and until when.
        self._keep_for = math.inf if cache_seconds is None else cache_seconds
        self._by_name: dict[str, tuple[EndpointRow | None, float]] = {}
        self._by_id: dict[str, tuple[EndpointRow | None, float]] = {}

    async def create(self, spec: EndpointSpec) -> Endpoint:
        await self._check_spec(spec)
        endpoint = Endpoint(version=1, id=str(uuid.uuid4()), created_time=codec.timestamp(self._clock.now()))
        endpoint.spec.CopyFrom(await self._stored_spec(spec))
        try:
            await self._store.create_endpoint(_row(endpoint))
        except NameTaken:
            raise AlreadyExists(
                f"error creating Nexus endpoint. Endpoint with name {spec.name} already registered"
            ) from None
        self._forget()
        return await self._shown(endpoint)

    async def update(self, endpoint_id: str, version: int, spec: EndpointSpec) -> Endpoint:
        await self._check_spec(spec)
        row = await self._store.get_endpoint(endpoint_id)
        if row is None:
            raise NotFound(f"error updating Nexus endpoint. endpoint ID {endpoint_id} not found")
        if row.version != version:
            raise FailedPrecondition(
                f"nexus endpoint version mismatch. received: {version} expected {row.version}"
            )
        # As on the reference, a changed endpoint shows when it last changed, not when it was made.
        endpoint = Endpoint(
            version=version + 1, id=endpoint_id, last_modified_time=codec.timestamp(self._clock.now())
        )
        endpoint.spec.CopyFrom(await self._stored_spec(spec))
        try:
            updated = await self._store.update_endpoint(_row(endpoint), version)
        except NameTaken:
            raise AlreadyExists(
                f"error updating Nexus endpoint. Endpoint with name {spec.name} already registered"
            ) from None
        self._forget()
        if not updated:  # changed or deleted since it was read
            current = await self._store.get_endpoint(endpoint_id)
            if current is None:
                raise NotFound(f"error updating Nexus endpoint. endpoint ID {endpoint_id} not found")
            raise FailedPrecondition(
                f"nexus endpoint version mismatch. received: {version} expected {current.version}"
            )
        return await self._shown(endpoint)

    async def delete(self, endpoint_id: str, version: int) -> None:
        issues = _id_issues(endpoint_id)
        if version <= 0:
            issues.append("endpoint version is non-positive")
        _raise(issues)
        # The reference deletes whatever the version: it is only checked to be positive.
        deleted = await self._store.delete_endpoint(endpoint_id)
        self._forget()
        if not deleted:
            raise NotFound(f"error deleting nexus endpoint with ID: {endpoint_id}")

    async def get(self, endpoint_id: str) -> Endpoint:
        _raise(_id_issues(endpoint_id))
        row = await self._store.get_endpoint(endpoint_id)
        if row is None:
            raise NotFound(f"Nexus endpoint with ID `{endpoint_id}` not found")
        return await self._shown(Endpoint.FromString(row.data))

    async def list(self, request: ListNexusEndpointsRequest) -> ListNexusEndpointsResponse:
        if request.name:  # one endpoint by name, or none; paging is ignored
            row = await self._store.endpoint_by_name(request.name)
            endpoints = [] if row is None else [await self._shown(Endpoint.FromString(row.data))]
            return ListNexusEndpointsResponse(endpoints=endpoints)
        size = request.page_size or DEFAULT_PAGE_SIZE
        if size < 0:
            raise InvalidArgument("page_size is negative")
        if size > MAX_PAGE_SIZE:
            raise InvalidArgument(f"page_size exceeds limit of {MAX_PAGE_SIZE}")
        rows = await self._store.list_endpoints(_after(request.next_page_token), size + 1)
        response = ListNexusEndpointsResponse(
            endpoints=[await self._shown(Endpoint.FromString(row.data)) for row in rows[:size]]
        )
        if len(rows) > size:
            response.next_page_token = _page_token(rows[size - 1].id)
        return response

    async def ids(self, names: Iterable[str]) -> dict[str, str]:
        """The id of each endpoint of these names that exists."""
        found = {}
        for name in names:
            row = await self._cached(self._by_name, name, self._store.endpoint_by_name)
            if row is not None:
                found[name] = row.id
        return found

    async def resolve_id(self, endpoint_id: str) -> WorkerTarget | None:
        """The worker target of the endpoint of this id; None if there is no such endpoint (or
        it sends requests to an external URL: see `external_url`)."""
        row = await self._cached(self._by_id, endpoint_id, self._store.get_endpoint)
        if row is None:
            return None
        target = Endpoint.FromString(row.data).spec.target
        if not target.HasField("worker"):
            return None
        return WorkerTarget(row.id, target.worker.namespace, target.worker.task_queue)

    async def external_url(self, endpoint_id: str) -> str | None:
        """The URL of the endpoint of this id, if it sends requests to an external one."""
        row = await self._cached(self._by_id, endpoint_id, self._store.get_endpoint)
        if row is None:
            return None
        target = Endpoint.FromString(row.data).spec.target
        return target.external.url if target.HasField("external") else None

    async def _cached(
        self,
        cache: dict[str, tuple[EndpointRow | None, float]],
        key: str,
        read: Callable[[str], Awaitable[EndpointRow | None]],
    ) -> EndpointRow | None:
        row, until = cache.get(key, (None, 0.0))
        if time.monotonic() < until:
            return row
        row = await read(key)
        cache[key] = (row, time.monotonic() + self._keep_for)
        return row

    def _forget(self) -> None:
        self._by_name.clear()
        self._by_id.clear()

    # -- checks and conversions -----------------------------------------------------------

    async def _check_spec(self, spec: EndpointSpec) -> None:
        issues = _name_issues(spec.name)
        variant = spec.target.WhichOneof("variant")
        if variant is None:
            issues.append("empty target variant")
            _raise(issues)
        if variant == "worker":
            worker = spec.target.worker
            if not worker.namespace:
                issues.append("target namespace not set")
            else:
                try:
                    await self._namespaces.describe(worker.namespace)
                except ServiceError as error:
                    raise FailedPrecondition(
                        f"could not verify namespace referenced by target exists: {error.message}"
                    ) from None
            if (problem := _task_queue_issue(worker.task_queue)) is not None:
                issues.append(f"invalid target task queue: {json.dumps(problem)}")
        else:
            issues.extend(_url_issues(spec.target.external.url))
        if spec.description.ByteSize() > MAX_DESCRIPTION_SIZE:
            issues.append(f"description size exceeds limit of {MAX_DESCRIPTION_SIZE}")
        _raise(issues)

    async def _stored_spec(self, spec: EndpointSpec) -> EndpointSpec:
        """The spec as stored: a worker target names its namespace by id."""
        stored = EndpointSpec()
        stored.CopyFrom(spec)
        if spec.target.HasField("worker"):
            stored.target.worker.namespace = await self._namespaces.id_of(spec.target.worker.namespace)
        return stored

    async def _shown(self, stored: Endpoint) -> Endpoint:
        """The endpoint as clients see it: its namespace by name, and its URL prefix."""
        endpoint = Endpoint()
        endpoint.CopyFrom(stored)
        if stored.spec.target.HasField("worker"):
            described = await self._namespaces.describe(namespace_id=stored.spec.target.worker.namespace)
            endpoint.spec.target.worker.namespace = described.namespace_info.name
        endpoint.url_prefix = f"/nexus/endpoints/{stored.id}/services"
        return endpoint


def _row(endpoint: Endpoint) -> EndpointRow:
    return EndpointRow(endpoint.id, endpoint.spec.name, endpoint.version, endpoint.SerializeToString())


def _raise(issues: list[str]) -> None:
    if issues:
        raise InvalidArgument(", ".join(issues))


def _name_issues(name: str) -> list[str]:
    if not name:
        return ["endpoint name not set"]
    issues = []
    if len(name) > MAX_NAME_LENGTH:
        issues.append(f"endpoint name exceeds length limit of {MAX_NAME_LENGTH}")
    if not NAME_PATTERN.match(name):
        issues.append(f"endpoint name must match the regex: {json.dumps(NAME_PATTERN.pattern)}")
    return issues


def _task_queue_issue(name: str) -> str | None:
    if not name:
        return "taskQueue is not set"
    if len(name.encode()) > MAX_TASK_QUEUE_LENGTH:
        return "taskQueue length exceeds limit"
    if name.startswith(RESERVED_TASK_QUEUE_PREFIX):
        return f"task queue name cannot start with reserved prefix {RESERVED_TASK_QUEUE_PREFIX}"
    return None


def _url_issues(url: str) -> list[str]:
    if not url:
        return ["empty target URL"]
    if len(url) > MAX_URL_LENGTH:
        return [f"target URL length exceeds limit of {MAX_URL_LENGTH}"]
    try:
        scheme = urlsplit(url).scheme
    except ValueError as error:
        return [f"invalid target URL: {error}"]
    if scheme not in ("http", "https"):
        return [f"invalid target URL scheme: {json.dumps(scheme)}, expected http or https"]
    return []


def _id_issues(endpoint_id: str) -> list[str]:
    if not endpoint_id:
        return ["endpoint ID not set"]
    try:
        uuid.UUID(endpoint_id)
    except ValueError:
        return [f'malformed endpoint ID: "invalid UUID length: {len(endpoint_id)}"']
    return []


def _page_token(last_id: str) -> bytes:
    """The reference's token shape: the last id's 16 bytes, in JSON."""
    last = base64.b64encode(uuid.UUID(last_id).bytes).decode()
    return json.dumps({"LastID": last}, separators=(",", ":")).encode()


def _after(token: bytes) -> str:
    if not token:
        return ""
    try:
        return str(uuid.UUID(bytes=base64.b64decode(json.loads(token)["LastID"])))
    except (ValueError, KeyError, TypeError, IndexError, RecursionError):
        raise InvalidArgument("invalid page token") from None
