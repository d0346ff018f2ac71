"""Refusing what another web site can make a browser send to the HTTP API or the web UI.

Any page a user opens can make the browser send a "simple" request (a form's content types,
or `text/plain`) to `http://localhost:7243` without asking the server first, and the request
takes effect even though the page never sees the answer. And a site whose name is made to
resolve to 127.0.0.1 (DNS rebinding) can even read the answers, since the browser takes the
server for that site. So, before any route:

- a server listening on a loopback address answers only requests addressed to a loopback
  name (`Host: localhost:7243`, `127.0.0.1:...`, `[::1]:...`): a rebound name is refused;
- a request that changes something (any method but GET, HEAD and OPTIONS) is refused when
  the browser says it comes from another site (`Sec-Fetch-Site: cross-site`), or when its
  `Origin` is not the server it is sent to;
- one the browser vouches for as coming from this server's own pages (`Sec-Fetch-Site:
  same-origin`, or an `Origin` that is this server) passes, whatever its content type: the
  web UI posts its JSON as plain text;
- otherwise a body of plain text or multipart is refused (the API reads JSON; clients send
  `application/json`, or no content type at all), and a form's body
  (`application/x-www-form-urlencoded`) is refused when the request comes from a browser
  (it has a `Referer`, a cookie or a `Sec-Fetch-Site`) and taken as JSON otherwise: it is
  what `curl -d` says of the JSON it sends.

Clients that are not browsers (the SDKs, the CLI, curl) send none of the browser's headers
and are not affected.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
NOT_JSON = {"text/plain", "multipart/form-data"}
FORM = "application/x-www-form-urlencoded"
BROWSER_HEADERS = ("origin", "referer", "cookie", "sec-fetch-site")
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
PERMISSION_DENIED = 7


def is_loopback(ip: str) -> bool:
    try:
        return ip == "localhost" or ipaddress.ip_address(ip.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_name(host: str) -> str:
    """`localhost` of `localhost:7243`, `::1` of `[::1]:7243`."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def refusal(scope: Scope, loopback_only: bool, form_paths: frozenset[str] = frozenset()) -> str | None:
    """Why a request is refused as one a browser was made to send, or None."""
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    host = headers.get("host", "")
    if loopback_only and host and _host_name(host).lower() not in LOOPBACK_NAMES:
        return f"host {host!r} is not this server"
    if scope["method"] in SAFE_METHODS:
        return None
    if headers.get("sec-fetch-site") == "cross-site":
        return "cross-site request refused"
    origin = headers.get("origin")
    if origin is not None and urlsplit(origin).netloc.lower() != host.lower():
        return f"origin {origin!r} is not this server"
    if origin is not None or headers.get("sec-fetch-site") == "same-origin":
        return None  # from this server's own pages
    content_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    browser = any(name in headers for name in BROWSER_HEADERS)
    if scope["path"] in form_paths:
        return None
    if content_type in NOT_JSON or (content_type == FORM and browser):
        return f"content type {content_type!r} refused: send application/json"
    return None


class SameSiteOnly:
    """`app`, behind the checks above. `ip`: the address the server listens on."""

    def __init__(self, app: ASGIApp, ip: str, form_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.loopback_only = is_loopback(ip)
        self.form_paths = form_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            reason = refusal(scope, self.loopback_only, self.form_paths)
            if reason is not None:
                body = {"code": PERMISSION_DENIED, "message": reason, "details": []}
                await JSONResponse(body, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)
