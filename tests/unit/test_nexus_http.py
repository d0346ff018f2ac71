"""The small HTTP client behind Nexus calls to other servers, against a local socket server:
answers of known length and chunked ones, links, and callbacks asked again after a 503."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from temporalio.api.common.v1 import Payload

from clepsydra.engine.nexus_operations import Succeeded
from clepsydra.services import nexus_external, nexus_http

Answer = Callable[[bytes], bytes]


@pytest.fixture
async def served() -> AsyncIterator[tuple[list[bytes], list[bytes], str]]:
    """(requests received, answers to give in turn, base URL)."""
    received: list[bytes] = []
    answers: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(
            next(line for line in head.split(b"\r\n") if line.startswith(b"content-length")).split(b":")[1]
        )
        received.append(head + await reader.readexactly(length))
        writer.write(answers.pop(0))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield received, answers, f"http://127.0.0.1:{port}"
    server.close()


async def test_an_answer_of_known_length_with_links(served: tuple[list[bytes], list[bytes], str]) -> None:
    received, answers, base = served
    answers.append(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 4\r\n"
        b'nexus-link: <a>; type="x"\r\nnexus-link: <b>; type="y"\r\n\r\n"ok"'
    )
    answer = await nexus_http.post(f"{base}/svc/op", {"nexus-request-id": "r1"}, b'"in"', 5)
    assert (answer.status, answer.body, answer.links) == (200, b'"ok"', ['<a>; type="x"', '<b>; type="y"'])
    assert received[0].startswith(b"POST /svc/op HTTP/1.1\r\n")
    assert b"nexus-request-id: r1\r\n" in received[0] and received[0].endswith(b'"in"')


async def test_a_chunked_answer(served: tuple[list[bytes], list[bytes], str]) -> None:
    _, answers, base = served
    answers.append(
        b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    answer = await nexus_http.post(base, {}, b"", 5)
    assert (answer.status, answer.body) == (201, b"abcde")


async def test_nothing_listening_is_a_failure_not_an_error() -> None:
    with pytest.raises(nexus_http.HttpFailure):
        await nexus_http.post("http://127.0.0.1:1/x", {}, b"", 5)


async def test_a_callback_is_asked_again_after_an_answer_that_may_change(
    served: tuple[list[bytes], list[bytes], str],
) -> None:
    received, answers, base = served
    answers += [
        b"HTTP/1.1 503 Busy\r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
    ]
    outcome = Succeeded(Payload(metadata={"encoding": b"json/plain"}, data=b'"done"'))
    failure = await nexus_external.deliver(
        f"{base}/cb", {"token": "t"}, outcome, "op", 5, retry_delays=(0.01,)
    )
    assert failure is None
    assert len(received) == 2
    assert b"nexus-operation-state: succeeded\r\n" in received[1] and received[1].endswith(b'"done"')


async def test_a_refused_callback_is_not_asked_again(served: tuple[list[bytes], list[bytes], str]) -> None:
    received, answers, base = served
    answers.append(b"HTTP/1.1 404 Not Found\r\ncontent-length: 4\r\n\r\ngone")
    outcome = Succeeded(None)
    failure = await nexus_external.deliver(f"{base}/cb", {}, outcome, "", 5, retry_delays=(0.01,))
    assert failure is not None and failure.message == "callback answered 404: gone"
    assert len(received) == 1
