"""TLS for every listener, from a certificate, its key and (for mutual TLS) the CA that
client certificates must chain to.

The files are looked at again at most once a second, on a connection's handshake, and a
new certificate or key is served from the next handshake on: renewing a certificate (by
hand, cert-manager, certbot) needs no restart. The gRPC port uses gRPC's own dynamic
credentials, which take a new client CA too; the HTTP ports swap the handshake's
`SSLContext` for one built from the new files.
"""

from __future__ import annotations

import logging
import os
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

log = logging.getLogger(__name__)
CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class TlsFiles:
    cert_file: str
    key_file: str
    client_ca_file: str | None = None

    @property
    def mutual(self) -> bool:
        return self.client_ca_file is not None

    def paths(self) -> list[str]:
        return [self.cert_file, self.key_file, *([self.client_ca_file] if self.client_ca_file else [])]


class _Watch:
    """Whether any of the files changed since the last look (looking at most once a second)."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        self.checked = time.monotonic()
        self.stamps = self._stamps()

    def _stamps(self) -> list[tuple[float, int]]:
        stamps = []
        for path in self.paths:
            try:
                stat = os.stat(path)
            except OSError:
                stamps.append((0.0, -1))  # being replaced: try again on the next look
            else:
                stamps.append((stat.st_mtime, stat.st_size))
        return stamps

    def changed(self) -> bool:
        now = time.monotonic()
        if now - self.checked < CHECK_SECONDS:
            return False
        self.checked = now
        stamps = self._stamps()
        if stamps == self.stamps or any(size < 0 for _, size in stamps):
            return False
        self.stamps = stamps
        return True


class ServerTls:
    """The credentials of a server's listeners; the files are read (and checked) at once."""

    def __init__(self, files: TlsFiles) -> None:
        self.files = files
        self._grpc_watch = _Watch(files.paths())
        self._http_watch = _Watch(files.paths())
        self._context = self._new_context()  # fails at start-up on a bad file
        self._grpc_initial = self._grpc_configuration()

    def _read(self, path: str | None) -> bytes | None:
        return None if path is None else Path(path).read_bytes()

    def _grpc_configuration(self) -> Any:
        files = self.files
        return grpc.ssl_server_certificate_configuration(
            [(Path(files.key_file).read_bytes(), Path(files.cert_file).read_bytes())],
            root_certificates=self._read(files.client_ca_file),
        )

    def grpc_credentials(self) -> grpc.ServerCredentials:
        return grpc.dynamic_ssl_server_credentials(
            self._grpc_initial, self._fetch_grpc, require_client_authentication=self.files.mutual
        )

    def _fetch_grpc(self) -> Any:
        """Called by gRPC on each handshake: a new configuration if the files changed, else None."""
        if not self._grpc_watch.changed():
            return None
        try:
            configuration = self._grpc_configuration()
        except (OSError, ValueError) as error:
            log.warning("TLS files not reloaded for gRPC: %s", error)
            return None
        log.info("TLS certificate reloaded for gRPC from %s", self.files.cert_file)
        return configuration

    def ssl_context(self) -> ssl.SSLContext:
        """The context the HTTP listeners start with; it moves each handshake to the newest."""
        return self._context

    def _new_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.files.cert_file, self.files.key_file)
        if self.files.client_ca_file:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(self.files.client_ca_file)
        context.sni_callback = self._on_hello
        return context

    def _on_hello(
        self, connection: ssl.SSLObject, _server_name: str | None, _context: ssl.SSLContext
    ) -> None:
        if self._http_watch.changed():
            try:
                self._context = self._new_context()
                log.info("TLS certificate reloaded for HTTP from %s", self.files.cert_file)
            except (OSError, ssl.SSLError) as error:
                log.warning("TLS files not reloaded for HTTP: %s", error)
        if connection.context is not self._context:
            connection.context = self._context

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """How this server calls the others of its cluster: trusting the client CA (or its
        own certificate, when self-signed), presenting its own certificate for mutual TLS."""
        files = self.files
        return grpc.ssl_channel_credentials(
            root_certificates=self._read(files.client_ca_file or files.cert_file),
            private_key=self._read(files.key_file),
            certificate_chain=self._read(files.cert_file),
        )
