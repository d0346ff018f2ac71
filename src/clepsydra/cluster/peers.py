"""Calls from one server process to another: requests forwarded to the owner of their
workflow, and polls sent where tasks wait.

A forwarded call carries the FORWARDED metadata key, and the process receiving it serves
it itself: a request is forwarded at most once, whatever the two processes believe about
who owns what. It also carries its caller's own `authorization` header
(`security/caller.py`): the process serving it checks the caller's rights, not ours.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import grpc

from clepsydra.security.caller import forwarded_metadata

log = logging.getLogger(__name__)
FORWARDED = "clepsydra-forwarded"
WORKFLOW_SERVICE = "temporal.api.workflowservice.v1.WorkflowService"
MAX_MESSAGE_BYTES = 128 * 1024 * 1024


def forwarded(context: Any) -> bool:
    """Whether the call came from another process (and must be served here)."""
    return any(key == FORWARDED for key, _ in context.invocation_metadata() or ())


class Peers:
    def __init__(self, credentials: grpc.ChannelCredentials | None = None) -> None:
        """`credentials`: TLS towards the other processes, when they serve TLS."""
        self._credentials = credentials
        self._channels: dict[str, grpc.aio.Channel] = {}

    def _channel(self, address: str) -> grpc.aio.Channel:
        channel = self._channels.get(address)
        if channel is None:
            options = [
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ]
            channel = self._channels[address] = (
                grpc.aio.insecure_channel(address, options=options)
                if self._credentials is None
                else grpc.aio.secure_channel(address, self._credentials, options=options)
            )
        return channel

    async def call(
        self, address: str, method: str, request: Any, response_class: Any, timeout: float | None
    ) -> Any:
        """Call a WorkflowService RPC at another process; its errors are raised as they came."""
        stub = self._channel(address).unary_unary(
            f"/{WORKFLOW_SERVICE}/{method}",
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_class.FromString,
        )
        return await stub(request, timeout=timeout, metadata=((FORWARDED, "1"), *forwarded_metadata()))

    async def fetch(self, method: str, request: Any, response_class: Any, address: str) -> Any | None:
        """A poll at another process, answered from what waits there now (it does not
        wait): the response if it held a task, None if not or if the process is gone."""
        try:
            response = await self.call(address, method, request, response_class, timeout=10.0)
        except grpc.aio.AioRpcError as error:
            log.debug("poll forwarded to %s failed: %s", address, error.code())
            return None
        return response if response.task_token else None

    async def close(self) -> None:
        for channel in self._channels.values():
            with contextlib.suppress(Exception):
                await channel.close()
        self._channels.clear()
