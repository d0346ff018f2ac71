"""The parts of security that talk to something: a key set fetched from a URL, a call
forwarded to another server process with its caller's token, and the command line."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, DescribeNamespaceResponse

from clepsydra.cluster.peers import FORWARDED, WORKFLOW_SERVICE, Peers
from clepsydra.security.caller import CALLER, Caller
from clepsydra.security.keys import KeySet
from clepsydra.security.tokens import BadToken, TokenVerifier
from tests.security_support import Signer


class KeyServer:
    """A JWKS endpoint whose keys the test changes, counting the fetches."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                body = json.dumps({"keys": server.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/jwks.json"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    server = KeyServer()
    yield server
    server.http.shutdown()


async def test_a_key_set_from_a_url_is_cached_and_fetched_again_for_a_new_key(
    key_server: KeyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = Signer("k1", "ES256"), Signer("k2", "RS256")
    key_server.keys = [first.jwk()]
    verifier = TokenVerifier(KeySet(url=key_server.url))
    for subject in ("a", "b", "c"):
        assert (await verifier.claims(f"Bearer {first.token(subject=subject)}")).subject == subject
    assert key_server.fetches == 1  # cached
    key_server.keys = [first.jwk(), second.jwk()]
    with pytest.raises(BadToken):  # an unknown key id right after a fetch: not fetched again yet
        await verifier.claims(f"Bearer {second.token()}")
    assert key_server.fetches == 1
    monkeypatch.setattr("clepsydra.security.keys.URL_REFRESH_SECONDS", 0.0)
    assert (await verifier.claims(f"Bearer {second.token(subject='new')}")).subject == "new"
    assert key_server.fetches == 2


async def test_a_forwarded_call_carries_its_callers_token() -> None:
    seen: list[dict[str, str]] = []

    async def describe(request: DescribeNamespaceRequest, context: grpc.aio.ServicerContext) -> Any:
        seen.append(dict(context.invocation_metadata() or ()))
        return DescribeNamespaceResponse()

    handler = grpc.unary_unary_rpc_method_handler(
        describe,
        request_deserializer=DescribeNamespaceRequest.FromString,
        response_serializer=DescribeNamespaceResponse.SerializeToString,
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler(WORKFLOW_SERVICE, {"DescribeNamespace": handler})]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    peers = Peers()
    try:
        address, request = f"127.0.0.1:{port}", DescribeNamespaceRequest(namespace="orders")
        await peers.call(address, "DescribeNamespace", request, DescribeNamespaceResponse, 5)
        token = CALLER.set(Caller("Bearer abc"))
        try:
            await asyncio.create_task(  # a task the handler started inherits its caller
                peers.call(address, "DescribeNamespace", request, DescribeNamespaceResponse, 5)
            )
        finally:
            CALLER.reset(token)
    finally:
        await peers.close()
        await server.stop(None)
    assert [m.get("authorization") for m in seen] == [None, "Bearer abc"]
    assert all(FORWARDED in m for m in seen)


def test_the_options_are_checked_before_the_server_starts(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from clepsydra.cli import main, start
    from clepsydra.server import settings
    from tests.security_support import make_pki

    pki = make_pki(tmp_path)
    runner = CliRunner()
    alone = runner.invoke(main, ["server", "start-dev", "--tls-cert-file", str(pki.server_cert)])
    assert alone.exit_code == 2 and "--tls-cert-file and --tls-key-file go together" in alone.output
    mismatched = ["--tls-cert-file", str(pki.server_cert), "--tls-key-file", str(pki.client_key)]
    assert runner.invoke(main, ["server", "start-dev", *mismatched]).exit_code == 2
    (tmp_path / "empty.json").write_text('{"keys": []}')
    empty = runner.invoke(main, ["server", "start-dev", "--auth-jwks-file", str(tmp_path / "empty.json")])
    assert empty.exit_code == 2 and "--auth-jwks-file" in empty.output
    nowhere = runner.invoke(main, ["server", "start-dev", "--authorizer", "no.such.module:authorize"])
    assert nowhere.exit_code == 2 and "--authorizer" in nowhere.output
    toml = tmp_path / "server.toml"
    toml.write_text(f'tls-cert-file = "{pki.server_cert}"\nauth-jwks-url = "https://idp.example/jwks"\n')
    loaded = settings.load(str(toml), start)
    assert loaded == {"tls_cert_file": str(pki.server_cert), "auth_jwks_url": "https://idp.example/jwks"}
