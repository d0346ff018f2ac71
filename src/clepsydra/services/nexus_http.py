"""A small HTTP/1.1 client for Nexus calls to external endpoints and callbacks to external
URLs: one POST per connection, a body of known length, the answer read to its end.

The server has no HTTP client among its dependencies and needs very little of one, so
this is written on asyncio's streams (TLS from the default context for https).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MAX_BODY = 4 * 1024 * 1024


class HttpFailure(Exception):
    """No answer: the connection failed, or the answer was not HTTP."""


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]  # names in lower case; a repeated header keeps its last value
    body: bytes
    links: list[str] = field(default_factory=list)  # every `nexus-link` header, in order


async def post(url: str, headers: dict[str, str], body: bytes, timeout: float) -> HttpAnswer:
    try:
        async with asyncio.timeout(timeout):
            return await _post(url, headers, body)
    except TimeoutError:
        raise HttpFailure("request timed out") from None
    except (OSError, ValueError, asyncio.IncompleteReadError) as error:
        raise HttpFailure(str(error) or type(error).__name__) from None


async def _post(url: str, headers: dict[str, str], body: bytes) -> HttpAnswer:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url}")
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    context = ssl.create_default_context() if secure else None
    reader, writer = await asyncio.open_connection(parts.hostname, port, ssl=context)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [f"POST {target} HTTP/1.1", f"host: {parts.netloc}", f"content-length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items() if "\n" not in value]
        lines.append("connection: close")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        return await _read_answer(reader)
    finally:
        writer.close()


async def _read_answer(reader: asyncio.StreamReader) -> HttpAnswer:
    status_line = (await reader.readline()).decode("latin-1").split(" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith("HTTP/"):
        raise ValueError("not an HTTP answer")
    answer = HttpAnswer(int(status_line[1]), {}, b"")
    while line := (await reader.readline()).decode("latin-1").strip():
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        answer.headers[name] = value
        if name == "nexus-link":
            answer.links.append(value)
    if answer.headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while size := int((await reader.readline()).split(b";")[0].strip() or b"0", 16):
            chunks.append(await reader.readexactly(size))
            await reader.readline()
        answer.body = b"".join(chunks)
    elif "content-length" in answer.headers:
        answer.body = await reader.readexactly(min(int(answer.headers["content-length"]), MAX_BODY))
    else:
        answer.body = await reader.read(MAX_BODY)
    return answer
