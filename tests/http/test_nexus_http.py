"""Nexus endpoints over the HTTP API, on the routes the web UI's Nexus page and `curl` use
(checked on the reference too, with CLEPSYDRA_TEST_SERVER=reference)."""

from __future__ import annotations

import uuid

import httpx


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
