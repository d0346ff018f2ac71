"""Nexus over HTTP: endpoints on the HTTP API's routes (the web UI's Nexus page and `curl`
use them), and the Nexus protocol at an endpoint's URL, answered by the endpoint's handler
workers. Checked on the reference too, with CLEPSYDRA_TEST_SERVER=reference."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from temporalio.api.nexus.v1 import EndpointSpec, EndpointTarget
from temporalio.api.operatorservice.v1 import CreateNexusEndpointRequest
from temporalio.client import Client
from temporalio.worker import Worker

from tests.http.conftest import HttpServer
from tests.integration.nexus_support import Call, Caller, GreeterHandler, Greeting, Seen
from tests.server_process import use_reference


async def test_endpoints_are_created_listed_read_updated_and_deleted_over_http(
    http_client: httpx.AsyncClient,
) -> None:
    name = f"http-{uuid.uuid4().hex[:10]}"
    spec = {"name": name, "target": {"worker": {"namespace": "default", "taskQueue": "handlers"}}}
    created = await http_client.post("/api/v1/nexus/endpoints", json={"spec": spec})
    assert created.status_code == 200, created.text
    endpoint = created.json()["endpoint"]
    assert endpoint["version"] == "1"
    assert endpoint["spec"] == spec
    assert endpoint["urlPrefix"] == f"/nexus/endpoints/{endpoint['id']}/services"

    listed = await http_client.get("/api/v1/nexus/endpoints", params={"name": name})
    assert [e["id"] for e in listed.json()["endpoints"]] == [endpoint["id"]]
    got = await http_client.get(f"/api/v1/nexus/endpoints/{endpoint['id']}")
    assert got.json()["endpoint"] == endpoint

    spec["description"] = {"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "ImhpIg=="}
    updated = await http_client.post(
        f"/api/v1/nexus/endpoints/{endpoint['id']}/update", json={"version": "1", "spec": spec}
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["endpoint"]["version"] == "2"
    stale = await http_client.post(
        f"/api/v1/nexus/endpoints/{endpoint['id']}/update", json={"version": "1", "spec": spec}
    )
    assert stale.status_code == 400
    assert stale.json()["message"] == "nexus endpoint version mismatch. received: 1 expected 2"

    deleted = await http_client.delete(f"/api/v1/nexus/endpoints/{endpoint['id']}", params={"version": "2"})
    assert deleted.status_code == 200, deleted.text
    missing = await http_client.get(f"/api/v1/nexus/endpoints/{endpoint['id']}")
    assert missing.status_code == 404
    assert missing.json()["message"] == f"Nexus endpoint with ID `{endpoint['id']}` not found"


async def test_an_endpoint_url_serves_the_nexus_protocol(
    http_server: HttpServer, http_client: httpx.AsyncClient
) -> None:
    client = await Client.connect(http_server.target)
    task_queue = f"nexus-http-{uuid.uuid4()}"
    target = EndpointTarget(worker=EndpointTarget.Worker(namespace="default", task_queue=task_queue))
    created = await client.operator_service.create_nexus_endpoint(
        CreateNexusEndpointRequest(spec=EndpointSpec(name=f"http-{uuid.uuid4().hex[:10]}", target=target))
    )
    await asyncio.sleep(1)  # the reference takes a moment to know a new endpoint
    base = f"/nexus/endpoints/{created.endpoint.id}/services/Greeter"
    json_body = {"content-type": "application/json"}
    worker = Worker(
        client, task_queue=task_queue, workflows=[Greeting], nexus_service_handlers=[GreeterHandler(Seen())]
    )
    async with worker:
        echoed = await http_client.post(f"{base}/echo", content='"hi"', headers=json_body)
        assert (echoed.status_code, echoed.json()) == (200, "echo hi")

        refused = await http_client.post(f"{base}/refuse", content='"x"', headers=json_body)
        assert refused.status_code == 400
        assert refused.json()["message"] == "bad x"
        assert refused.headers["temporal-nexus-failure-source"] == "worker"

        failed = await http_client.post(f"{base}/fail", content='"x"', headers=json_body)
        assert failed.status_code == 424
        assert failed.headers["nexus-operation-state"] == "failed"
        assert failed.json()["message"] == "failed x"

        started = await http_client.post(f"{base}/greet", content='"async"', headers=json_body)
        assert started.status_code == 201
        assert started.json()["state"] == "running" and started.json()["token"]
        assert "eventType=WorkflowExecutionStarted" in started.headers["nexus-link"]

        canceled = await http_client.post(
            f"{base}/greet/cancel", headers={"nexus-operation-token": started.json()["token"]}
        )
        assert canceled.status_code == 202

    missing = await http_client.post(f"/nexus/endpoints/{uuid.uuid4()}/services/Greeter/echo", content='"x"')
    assert missing.status_code == 404
    assert missing.json() == {
        "message": "nexus endpoint not found",
        "metadata": {"type": "nexus.HandlerError"},
        "details": {"type": "NOT_FOUND", "retryableOverride": False},
    }


@pytest.mark.skipif(
    use_reference(), reason="the reference calls external URLs only when allowed by its config"
)
async def test_an_endpoint_with_an_external_target_is_called_over_http(
    http_server: HttpServer, http_client: httpx.AsyncClient
) -> None:
    """An endpoint whose target is a URL, here this server's own Nexus route for another
    endpoint: the start request, the handler's answer and (for an async operation) its
    completion callback all go over HTTP."""
    client = await Client.connect(http_server.target)
    handlers, callers = f"nexus-handlers-{uuid.uuid4()}", f"nexus-callers-{uuid.uuid4()}"
    worker_target = EndpointTarget(worker=EndpointTarget.Worker(namespace="default", task_queue=handlers))
    inner = await client.operator_service.create_nexus_endpoint(
        CreateNexusEndpointRequest(
            spec=EndpointSpec(name=f"inner-{uuid.uuid4().hex[:8]}", target=worker_target)
        )
    )
    url = f"{http_server.base_url}/nexus/endpoints/{inner.endpoint.id}/services"
    outer_name = f"outer-{uuid.uuid4().hex[:8]}"
    await client.operator_service.create_nexus_endpoint(
        CreateNexusEndpointRequest(
            spec=EndpointSpec(
                name=outer_name, target=EndpointTarget(external=EndpointTarget.External(url=url))
            )
        )
    )
    handler_worker = Worker(
        client, task_queue=handlers, workflows=[Greeting], nexus_service_handlers=[GreeterHandler(Seen())]
    )
    async with handler_worker, Worker(client, task_queue=callers, workflows=[Caller]):
        results = [
            await client.execute_workflow(
                Caller.run, Call(outer_name, operation, text), id=f"caller-{uuid.uuid4()}", task_queue=callers
            )
            for operation, text in (("echo", "hi"), ("greet", "world"), ("refuse", "x"), ("fail", "y"))
        ]
    assert results == [
        "echo hi",
        "hello world",
        "HandlerError: bad x",
        "ApplicationError: OperationError: failed y",
    ]
