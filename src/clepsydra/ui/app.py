"""The web UI's ASGI app: the built single-page app, its settings, and the API it calls.

- `GET /api/v1/settings`: what the UI asks first (PascalCase, as the reference's ui-server
  answers), with news fetching off so that the page never reaches outside;
- `/api/v1/*`: the HTTP API with payload shorthand off (the UI decodes payloads itself);
  writes need the `X-CSRF-TOKEN` header to match the `_csrf` cookie, as on the reference, so
  another site open in the same browser cannot drive the server;
- anything else: a file of the built app, or `index.html` for the app's own routes.

On a server that requires tokens, `/login` takes the user's token and keeps it in a cookie
that becomes the API requests' `authorization` header (`login.py`).
"""

from __future__ import annotations

import secrets
from http.cookies import SimpleCookie
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from clepsydra.http.api import HttpApi
from clepsydra.ui import login
from clepsydra.ui.assets import UiAssets

CSRF_COOKIE = "_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
IMMUTABLE_PREFIX = "/_app/immutable/"


def settings(version: str, codec_endpoint: str = "") -> dict[str, Any]:
    return {
        "Auth": {"Enabled": False, "Options": None, "RedirectToProvider": False},
        "DefaultNamespace": "",
        "ShowTemporalSystemNamespace": False,
        "NavCollapsedByDefault": False,
        "FeedbackURL": "",
        "DisableNewsFetch": True,
        "Codec": {
            "Endpoint": codec_endpoint,
            "PassAccessToken": False,
            "IncludeCredentials": False,
            "DefaultErrorMessage": "",
            "DefaultErrorLink": "",
        },
        "Version": version,
        "DisableWriteActions": False,
        "WorkflowTerminateDisabled": False,
        "WorkflowCancelDisabled": False,
        "WorkflowSignalDisabled": False,
        "WorkflowUpdateDisabled": False,
        "WorkflowResetDisabled": False,
        "WorkflowPauseDisabled": False,
        "BatchActionsDisabled": False,
        "StartWorkflowDisabled": False,
        "HideWorkflowQueryErrors": False,
        "RefreshWorkflowCountsDisabled": False,
        "ActivityCommandsDisabled": False,
    }


class _SinglePageFiles(StaticFiles):
    """Static files; a path that names no file is one of the app's routes: answer index.html."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except HTTPException as error:
            if error.status_code != 404 or path.startswith("_app/"):  # a missing asset stays missing
                return PlainTextResponse(error.detail, error.status_code, error.headers)
            return await super().get_response("index.html", scope)


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope["headers"]:
        if key == b"cookie":
            morsel = SimpleCookie(value.decode("latin-1")).get(name)
            if morsel is not None:
                return morsel.value
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    return next((v.decode("latin-1") for k, v in scope["headers"] if k == name), None)


class UiApp:
    def __init__(
        self,
        assets: UiAssets,
        api: HttpApi,
        codec_endpoint: str = "",
        sign_in: bool = False,
        secure: bool = False,
    ) -> None:
        """`sign_in`: the API requires tokens, taken at /login; `secure`: served over TLS."""
        self.api = api
        self.settings = settings(assets.version, codec_endpoint)
        self.files = _SinglePageFiles(directory=assets.root)
        self.sign_in = sign_in
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        token = _cookie(scope, CSRF_COOKIE)
        send = self._with_headers(send, None if token else secrets.token_hex(16), scope["path"])
        path, method = scope["path"], scope["method"]
        if path == "/healthz":  # for load balancers and probes, as the reference's UI server answers
            await JSONResponse({"status": "OK"})(scope, receive, send)
        elif self.sign_in and path in (login.LOGIN_PATH, login.LOGOUT_PATH):
            await self._sign_in(scope, receive, send)
        elif path == "/api/v1/settings":
            await JSONResponse(self.settings)(scope, receive, send)
        elif path.startswith("/api/"):
            if method not in SAFE_METHODS and (not token or _header(scope, CSRF_HEADER.encode()) != token):
                refusal = JSONResponse({"message": "missing csrf token in request header"}, 400)
                await refusal(scope, receive, send)
            else:
                await self.api(login.with_token(scope) if self.sign_in else scope, receive, send)
        elif self.sign_in and not path.startswith("/_app/") and not login.signed_in(scope):
            await RedirectResponse(login.LOGIN_PATH, status_code=303)(scope, receive, send)
        else:
            await self.files(scope, receive, send)

    async def _sign_in(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == login.LOGOUT_PATH:
            response = login.sign_out(self.secure)
        elif scope["method"] == "POST":
            response = await login.sign_in(receive, self.secure)
        else:
            response = login.login_page()
        await response(scope, receive, send)

    @staticmethod
    def _with_headers(send: Send, new_token: str | None, path: str) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "SAMEORIGIN"
                if path.startswith(IMMUTABLE_PREFIX):  # content-hashed names never change
                    headers["Cache-Control"] = "public, max-age=31536000, immutable"
                elif not path.startswith("/api/"):
                    headers["Cache-Control"] = "no-cache"
                if new_token:
                    headers.append("Set-Cookie", f"{CSRF_COOKIE}={new_token}; Path=/; SameSite=Strict")
            await send(message)

        return wrapped
