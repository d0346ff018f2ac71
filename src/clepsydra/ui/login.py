"""Signing in to the web UI on a server that requires tokens.

The UI's own requests carry no token (the built UI only knows the reference's OIDC flow),
so the UI server keeps the user's token in an HttpOnly cookie, set by a small sign-in form
at `/login`, and adds it as the `authorization: Bearer` header of each request the UI makes
to its API: the API checks it as it checks any other. The cookie is `SameSite=Strict` (and
`Secure` over TLS), and the UI's writes need the CSRF header as well, so another site cannot
use it.
"""

from __future__ import annotations

import html
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import Receive, Scope

TOKEN_COOKIE = "clepsydra-token"
LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
MAX_FORM_BYTES = 64 * 1024

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Sign in · Clepsydra</title>
<style>body{{font-family:sans-serif;max-width:36em;margin:4em auto}}
textarea{{width:100%;height:8em}}p.error{{color:#b00}}</style></head>
<body><h1>Sign in</h1>
<p>This server requires a token (a JWT). Paste yours: it is kept in a cookie of this
browser until you <a href="/logout">sign out</a> or close it.</p>{error}
<form method="post" action="/login"><textarea name="token" required></textarea>
<p><button type="submit">Sign in</button></p></form></body></html>
"""


def token_cookie(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key == b"cookie":
            morsel = SimpleCookie(value.decode("latin-1")).get(TOKEN_COOKIE)
            if morsel is not None and morsel.value:
                return morsel.value
    return None


def with_token(scope: Scope) -> Scope:
    """The request, with the cookie's token as its authorization header (unless it has one)."""
    token = token_cookie(scope)
    headers = scope["headers"]
    if token is None or any(key == b"authorization" for key, _ in headers):
        return scope
    return {**scope, "headers": [*headers, (b"authorization", f"Bearer {token}".encode("latin-1"))]}


def signed_in(scope: Scope) -> bool:
    return token_cookie(scope) is not None or any(key == b"authorization" for key, _ in scope["headers"])


def login_page(error: str = "") -> Response:
    shown = f'<p class="error">{html.escape(error)}</p>' if error else ""
    return HTMLResponse(PAGE.format(error=shown), status_code=400 if error else 200)


async def sign_in(receive: Receive, secure: bool) -> Response:
    """The sign-in form's answer: the cookie set and back to the UI, or the form again."""
    body, more = b"", True
    while more and len(body) <= MAX_FORM_BYTES:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    token = "".join(parse_qs(body.decode("utf-8", "replace")).get("token", [""])).strip()
    if token.lower().startswith("bearer "):
        token = token[len("bearer ") :].strip()
    if not token or any(c in token for c in ' ;,"\\') or len(body) > MAX_FORM_BYTES:
        return login_page("That is not a token.")
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", secure=secure)
    return response


def sign_out(secure: bool) -> Response:
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(TOKEN_COOKIE, httponly=True, samesite="strict", secure=secure)
    return response
