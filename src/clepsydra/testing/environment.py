"""`temporalio.testing.WorkflowEnvironment`s on an in-process Clepsydra server.

They behave as the SDK's own: `start_local()` like `WorkflowEnvironment.start_local()`,
`start_time_skipping()` like `WorkflowEnvironment.start_time_skipping()` (time skipping
unlocked while a workflow result is awaited, `env.sleep()` skips time,
`env.get_current_time()` reads the server's clock), with `assert` failures in
workflows failing them. The only difference: no download and no subprocess.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from google.protobuf.empty_pb2 import Empty
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.testservice.v1 import LockTimeSkippingRequest, SleepRequest, UnlockTimeSkippingRequest
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowInput,
    WorkflowHandle,
)
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from clepsydra.testing.server import InProcessServer

E = TypeVar("E", bound="ClepsydraEnvironment")


async def start_local(
    *,
    namespace: str = "default",
    search_attributes: Sequence[SearchAttributeKey[Any]] = (),
    **connect_kwargs: Any,
) -> ClepsydraEnvironment:
    """A new in-process server and an environment on it; `shutdown()` stops the server.

    `search_attributes` are registered first, as with the SDK's method. Other keyword
    arguments go to `Client.connect` (data_converter, interceptors, plugins, ...).
    """
    server = InProcessServer(namespaces=[namespace], search_attributes=_type_names(search_attributes))
    await server.start_async()
    return await _owning(ClepsydraEnvironment, server, namespace, connect_kwargs)


async def start_time_skipping(
    *,
    namespace: str = "default",
    search_attributes: Sequence[SearchAttributeKey[Any]] = (),
    start_time: datetime | None = None,
    **connect_kwargs: Any,
) -> TimeSkippingEnvironment:
    """A new in-process time-skipping server and an environment on it; `shutdown()` stops it.

    `start_time` sets the clock's first reading (default: now).
    """
    server = InProcessServer(
        time_skipping=True,
        start_time=start_time,
        namespaces=[namespace],
        search_attributes=_type_names(search_attributes),
    )
    await server.start_async()
    return await _owning(TimeSkippingEnvironment, server, namespace, connect_kwargs)


async def environment(
    server: InProcessServer, *, namespace: str = "default", **connect_kwargs: Any
) -> ClepsydraEnvironment:
    """An environment on a server that outlives it (e.g. one shared by a test session)."""
    kind = TimeSkippingEnvironment if server.time_skipping else ClepsydraEnvironment
    return kind(await server.connect(namespace, **connect_kwargs), server, owns_server=False)


async def _owning(
    kind: type[E], server: InProcessServer, namespace: str, connect_kwargs: Mapping[str, Any]
) -> E:
    try:
        client = await server.connect(namespace, **connect_kwargs)
    except BaseException:
        await server.stop_async()
        raise
    return kind(client, server, owns_server=True)


def _type_names(keys: Sequence[SearchAttributeKey[Any]]) -> dict[str, str]:
    """INDEXED_VALUE_TYPE_KEYWORD_LIST → "KeywordList", the names the server's flag takes."""
    names = {}
    for key in keys:
        number = IndexedValueType.ValueType(key.indexed_value_type)  # the SDK's IntEnum of the same values
        words = IndexedValueType.Name(number).removeprefix("INDEXED_VALUE_TYPE_").split("_")
        names[key.name] = "".join(word.capitalize() for word in words)
    return names


class ClepsydraEnvironment(WorkflowEnvironment):
    """A workflow environment on an in-process server (no time skipping)."""

    def __init__(self, client: Client, server: InProcessServer, *, owns_server: bool) -> None:
        # from_client adds the interceptor that turns a workflow's `assert` failure into its failure.
        super().__init__(WorkflowEnvironment.from_client(client).client)
        self.server = server
        self._owns_server = owns_server

    async def shutdown(self) -> None:
        if self._owns_server:
            await self.server.stop_async()


class TimeSkippingEnvironment(ClepsydraEnvironment):
    """A workflow environment on an in-process time-skipping server."""

    def __init__(self, client: Client, server: InProcessServer, *, owns_server: bool) -> None:
        super().__init__(client, server, owns_server=owns_server)
        self._auto_time_skipping = True
        config = self._client.config()
        config["interceptors"] = [*config["interceptors"], _TimeSkippingInterceptor(self)]
        self._client = Client(**config)

    @property
    def supports_time_skipping(self) -> bool:
        return True

    @property
    def supports_time_skipping_v1(self) -> bool:
        return True

    async def sleep(self, duration: timedelta | float) -> None:
        """Skip `duration` of time (or as much as the lock allows), firing timers due meanwhile."""
        request = SleepRequest()
        request.duration.FromTimedelta(
            duration if isinstance(duration, timedelta) else timedelta(seconds=duration)
        )
        await self._client.test_service.unlock_time_skipping_with_sleep(request)

    async def get_current_time(self, handle: WorkflowHandle[Any, Any] | None = None) -> datetime:
        """The server's clock: the time workflows see."""
        response = await self._client.test_service.get_current_time(Empty())
        return response.time.ToDatetime(UTC)

    @contextmanager
    def auto_time_skipping_disabled(self) -> Iterator[None]:
        """Within the block, awaiting a workflow result does not unlock time skipping."""
        already_disabled = not self._auto_time_skipping
        self._auto_time_skipping = False
        try:
            yield
        finally:
            if not already_disabled:
                self._auto_time_skipping = True

    @asynccontextmanager
    async def time_skipping_unlocked(self) -> AsyncIterator[None]:
        """Unlock time skipping for the block (what awaiting a workflow result does)."""
        if not self._auto_time_skipping:
            yield
            return
        await self._client.test_service.unlock_time_skipping(UnlockTimeSkippingRequest())
        try:
            yield
        finally:
            await self._client.test_service.lock_time_skipping(LockTimeSkippingRequest())


class _TimeSkippingInterceptor(Interceptor):
    def __init__(self, env: TimeSkippingEnvironment) -> None:
        self.env = env

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _TimeSkippingOutbound(next, self.env)


class _TimeSkippingOutbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, env: TimeSkippingEnvironment) -> None:
        super().__init__(next)
        self.env = env

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        handle = await super().start_workflow(input)
        if type(handle) is WorkflowHandle:
            # The SDK's own time-skipping environment hands out its handles the same way.
            handle.__class__ = _TimeSkippingHandle
            assert isinstance(handle, _TimeSkippingHandle)
            handle._env = self.env
        return handle


class _TimeSkippingHandle(WorkflowHandle[Any, Any]):
    _env: TimeSkippingEnvironment

    async def result(self, **kwargs: Any) -> Any:
        async with self._env.time_skipping_unlocked():
            return await super().result(**kwargs)
