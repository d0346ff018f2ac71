"""The HTTP/JSON API against a running server, on the shapes the reference's HTTP port returns.

Run with CLEPSYDRA_TEST_SERVER=reference to check the expectations against
`temporal server start-dev --http-port ...`; tests of what Clepsydra does beyond the
reference (workflow ids with `/`) are skipped there.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from clepsydra.server.health import WithHealth
from tests.http.conftest import SEARCH_ATTRIBUTE
from tests.server_process import use_reference

NS = "/api/v1/namespaces/default"
JSON_PLAIN = base64.b64encode(b"json/plain").decode()


def new_id(prefix: str = "http") -> str:
    return f"{prefix}-{uuid.uuid4()}"


def wf(workflow_id: str) -> str:
    return f"{NS}/workflows/{quote(workflow_id, safe='')}"


def value_of(payload: Any) -> Any:
    """A payload's JSON value, whether shown in shorthand or (with metadata besides the
    encoding, such as a search attribute's type) in full."""
    if isinstance(payload, dict) and set(payload) == {"metadata", "data"}:
        assert payload["metadata"]["encoding"] == JSON_PLAIN
        return json.loads(base64.b64decode(payload["data"]))
    return payload


async def start(client: httpx.AsyncClient, workflow_id: str, **fields: Any) -> dict[str, Any]:
    body = {"workflowType": {"name": "HttpTest"}, "taskQueue": {"name": "http-no-worker"}} | fields
    response = await client.post(wf(workflow_id), json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def test_start_describe_and_list(http_client: httpx.AsyncClient) -> None:
    workflow_id = new_id()
    started = await start(
        http_client,
        workflow_id,
        input=[{"amount": 12}, "EUR"],
        workflowIdReusePolicy="AllowDuplicate",  # short enum names are accepted
        searchAttributes={"indexedFields": {SEARCH_ATTRIBUTE: "c-42"}},
    )
    assert started["started"] is True
    assert started["status"] == "WORKFLOW_EXECUTION_STATUS_RUNNING"
    run_id = started["runId"]

    described = (await http_client.get(wf(workflow_id))).json()
    info = described["workflowExecutionInfo"]
    assert info["execution"] == {"workflowId": workflow_id, "runId": run_id}
    assert info["type"] == {"name": "HttpTest"}
    assert info["status"] == "WORKFLOW_EXECUTION_STATUS_RUNNING"
    assert info["historyLength"] == "2"  # int64 as a string
    assert value_of(info["searchAttributes"]["indexedFields"][SEARCH_ATTRIBUTE]) == "c-42"
    assert described["executionConfig"]["taskQueue"]["name"] == "http-no-worker"

    query = f"WorkflowId = '{workflow_id}'"
    listed = (await http_client.get(f"{NS}/workflows", params={"query": query})).json()
    (execution,) = listed["executions"]
    assert execution["execution"] == {"workflowId": workflow_id, "runId": run_id}
    assert execution["status"] == "WORKFLOW_EXECUTION_STATUS_RUNNING"
    counted = (await http_client.get(f"{NS}/workflow-count", params={"query": query})).json()
    assert counted["count"] == "1"


async def test_signal_and_history_with_and_without_shorthand(http_client: httpx.AsyncClient) -> None:
    workflow_id = new_id()
    await start(http_client, workflow_id, input=[{"b": 1.50, "a": [1, "x"]}, None])
    signal = await http_client.post(
        f"{wf(workflow_id)}/signal/approve", json={"input": ["yes"], "header": {"fields": {"h": 7}}}
    )
    assert signal.status_code == 200, signal.text

    events = (await http_client.get(f"{wf(workflow_id)}/history")).json()["history"]["events"]
    assert [e["eventType"] for e in events] == [
        "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
        "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED",
    ]
    started = events[0]["workflowExecutionStartedEventAttributes"]
    # A json/plain payload is its value; a binary/null one keeps its full form.
    assert started["input"] == [{"a": [1, "x"], "b": 1.5}, {"metadata": {"encoding": "YmluYXJ5L251bGw="}}]
    signaled = events[2]["workflowExecutionSignaledEventAttributes"]
    assert signaled["signalName"] == "approve"
    assert signaled["input"] == ["yes"]
    assert signaled["header"] == {"fields": {"h": 7}}

    for full in (
        await http_client.get(f"{wf(workflow_id)}/history", params={"noPayloadShorthand": ""}),
        await http_client.get(
            f"{wf(workflow_id)}/history", headers={"Accept": "application/json+no-payload-shorthand"}
        ),
    ):
        first = full.json()["history"]["events"][0]["workflowExecutionStartedEventAttributes"]
        payload = first["input"]["payloads"][0]
        assert payload["metadata"] == {"encoding": JSON_PLAIN}
        # Stored as Go encodes it: sorted keys, 1.50 as 1.5.
        assert base64.b64decode(payload["data"]) == b'{"a":[1,"x"],"b":1.5}'


async def test_no_shorthand_content_type_takes_full_payloads_only(http_client: httpx.AsyncClient) -> None:
    headers = {"Content-Type": "application/json+no-payload-shorthand"}
    body = {"workflowType": {"name": "X"}, "taskQueue": {"name": "q"}}
    shorthand = await http_client.post(wf(new_id()), json=body | {"input": ["x"]}, headers=headers)
    assert (shorthand.status_code, shorthand.json()["code"]) == (400, 3)
    full = {"payloads": [{"metadata": {"encoding": JSON_PLAIN}, "data": base64.b64encode(b'"x"').decode()}]}
    started = await http_client.post(wf(new_id()), json=body | {"input": full}, headers=headers)
    assert started.status_code == 200, started.text


async def test_query_parameters(http_client: httpx.AsyncClient) -> None:
    workflow_id = new_id()
    await start(http_client, workflow_id)
    for signal in ("one", "two"):
        await http_client.post(f"{wf(workflow_id)}/signal/{signal}", json={})
    history = f"{wf(workflow_id)}/history"

    page = (await http_client.get(history, params={"maximumPageSize": 1, "unknownParam": "x"})).json()
    event_ids = [e["eventId"] for e in page["history"]["events"]]
    assert page["nextPageToken"]  # the reference pages by stored batch, Clepsydra by event
    while page.get("nextPageToken"):
        # snake_case names work as well as lowerCamel ones.
        query = {"maximum_page_size": 1, "next_page_token": page["nextPageToken"]}
        page = (await http_client.get(history, params=query)).json()
        event_ids += [e["eventId"] for e in page.get("history", {}).get("events", [])]
    assert event_ids == ["1", "2", "3", "4"]

    reverse = (await http_client.get(f"{wf(workflow_id)}/history-reverse")).json()
    assert [e["eventId"] for e in reverse["history"]["events"]] == ["4", "3", "2", "1"]

    # A nested field by its dotted path: the run id must be a UUID.
    bad_run = await http_client.get(wf(workflow_id), params={"execution.runId": "not-a-uuid"})
    assert bad_run.status_code == 400
    assert bad_run.json()["code"] == 3

    bad_int = await http_client.get(history, params={"maximumPageSize": "abc"})
    assert bad_int.status_code == 400
    assert bad_int.json()["code"] == 3
    twice = await http_client.get(history, params=[("maximumPageSize", "1"), ("maximumPageSize", "2")])
    assert twice.status_code == 400


async def test_enums_in_query_parameters(http_client: httpx.AsyncClient) -> None:
    workflow_id = new_id()
    await start(http_client, workflow_id)
    await http_client.post(f"{wf(workflow_id)}/terminate", json={"reason": "done"})
    for value in ("HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT", "2"):
        response = await http_client.get(
            f"{wf(workflow_id)}/history", params={"historyEventFilterType": value}
        )
        (event,) = response.json()["history"]["events"]
        assert event["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED"
        assert event["workflowExecutionTerminatedEventAttributes"]["reason"] == "done"


async def test_unknown_body_fields_are_rejected(http_client: httpx.AsyncClient) -> None:
    response = await http_client.post(
        wf(new_id()), json={"workflowType": {"name": "X"}, "taskQueue": {"name": "q"}, "bogus": 1}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 3
    assert 'unknown field "bogus"' in body["message"]

    nested = await http_client.post(
        wf(new_id()), json={"workflowType": {"name": "X", "nope": 2}, "taskQueue": {"name": "q"}}
    )
    assert nested.status_code == 400
    assert 'unknown field "nope"' in nested.json()["message"]

    malformed = await http_client.post(wf(new_id()), content=b'{"workflowType":')
    assert malformed.status_code == 400
    assert malformed.json()["code"] == 3


async def test_errors_are_google_rpc_status(http_client: httpx.AsyncClient) -> None:
    missing = await http_client.get(wf(new_id("missing")))
    assert missing.status_code == 404
    body = missing.json()
    assert body["code"] == 5
    assert body["message"].startswith("workflow not found for ID: ")
    assert body["details"][0]["@type"] == "type.googleapis.com/temporal.api.errordetails.v1.NotFoundFailure"

    no_namespace = await http_client.get("/api/v1/namespaces/no-such-namespace/workflows/x")
    assert no_namespace.status_code == 404
    detail = no_namespace.json()["details"][0]
    assert detail["@type"].endswith("NamespaceNotFoundFailure")
    assert detail["namespace"] == "no-such-namespace"

    workflow_id = new_id()
    started = await start(http_client, workflow_id)
    again = await http_client.post(
        wf(workflow_id), json={"workflowType": {"name": "X"}, "taskQueue": {"name": "q"}}
    )
    assert again.status_code == 409
    conflict = again.json()
    assert conflict["code"] == 6
    assert conflict["details"][0]["@type"].endswith("WorkflowExecutionAlreadyStartedFailure")
    assert conflict["details"][0]["runId"] == started["runId"]

    bad_query = await http_client.get(f"{NS}/workflows", params={"query": "WorkflowId ="})
    assert (bad_query.status_code, bad_query.json()["code"]) == (400, 3)

    no_route = await http_client.get("/api/v1/no/such/route")
    assert (no_route.status_code, no_route.json()) == (404, {"code": 5, "message": "Not Found"})
    wrong_method = await http_client.put(wf(workflow_id))
    assert (wrong_method.status_code, wrong_method.json()) == (
        501,
        {"code": 12, "message": "Method Not Allowed"},
    )


async def test_routes_without_the_api_prefix(http_client: httpx.AsyncClient) -> None:
    system = await http_client.get("/system-info")
    assert system.status_code == 200
    assert "capabilities" in system.json()
    namespaces = (await http_client.get("/cluster/namespaces")).json()
    assert "default" in [n["namespaceInfo"]["name"] for n in namespaces["namespaces"]]
    attributes = (await http_client.get("/cluster/namespaces/default/search-attributes")).json()
    assert attributes["customAttributes"][SEARCH_ATTRIBUTE] == "INDEXED_VALUE_TYPE_KEYWORD"
    workflow_id = new_id()
    await start(http_client, workflow_id)
    response = await http_client.get(f"/namespaces/default/workflows/{workflow_id}")
    assert response.json()["workflowExecutionInfo"]["execution"]["workflowId"] == workflow_id


@pytest.mark.skipif(use_reference(), reason="the reference's HTTP port cannot address ids with '/'")
async def test_path_variables_are_percent_decoded(http_client: httpx.AsyncClient) -> None:
    workflow_id = f"orders/{uuid.uuid4()}/ship it:now"
    started = await start(http_client, workflow_id)
    assert started["started"] is True
    described = (await http_client.get(wf(workflow_id))).json()
    assert described["workflowExecutionInfo"]["execution"]["workflowId"] == workflow_id
    signaled = await http_client.post(f"{wf(workflow_id)}/signal/{quote('a b/c', safe='')}", json={})
    assert signaled.status_code == 200
    events = (await http_client.get(f"{wf(workflow_id)}/history")).json()["history"]["events"]
    assert events[-1]["workflowExecutionSignaledEventAttributes"]["signalName"] == "a b/c"
    # An unencoded slash splits the segment: no route has that shape.
    assert (await http_client.get(f"{NS}/workflows/{workflow_id}")).status_code == 404


async def test_response_is_json_text(http_client: httpx.AsyncClient) -> None:
    response = await http_client.get("/api/v1/system-info")
    json.loads(response.text)
    if not use_reference():  # the reference answers with the content type "*"
        assert response.headers["content-type"] == "application/json"
    no_shorthand = "application/json+no-payload-shorthand"
    echoed = await http_client.get("/api/v1/system-info", headers={"Accept": no_shorthand})
    assert echoed.headers["content-type"] == no_shorthand


async def test_schedules_over_http_as_the_ui_uses_them(http_client: httpx.AsyncClient) -> None:
    schedule_id = new_id("http-schedule")
    path = f"{NS}/schedules/{schedule_id}"
    created = await http_client.post(
        path,
        json={
            "schedule": {
                "spec": {"cronString": ["30 2 * * *"]},
                "action": {
                    "startWorkflow": {
                        "workflowId": "nightly",
                        "workflowType": {"name": "HttpTest"},
                        "taskQueue": {"name": "http-no-worker"},
                    }
                },
            },
            "requestId": str(uuid.uuid4()),
        },
    )
    assert created.status_code == 200, created.text
    described = (await http_client.get(path)).json()
    [calendar] = described["schedule"]["spec"]["structuredCalendar"]
    assert calendar["hour"] == [{"start": 2, "end": 2, "step": 1}]
    assert calendar["minute"] == [{"start": 30, "end": 30, "step": 1}]
    assert described["schedule"]["policies"]["overlapPolicy"] == "SCHEDULE_OVERLAP_POLICY_SKIP"
    assert len(described["info"]["futureActionTimes"]) == 10

    paused = await http_client.post(f"{path}/patch", json={"patch": {"pause": "from the UI"}})
    assert paused.status_code == 200, paused.text

    async def listed_info() -> dict[str, Any]:
        listed = (await http_client.get(f"{NS}/schedules")).json()["schedules"]
        return next((s["info"] for s in listed if s["scheduleId"] == schedule_id), {})

    async with asyncio.timeout(30):  # the reference's list follows changes a little later
        while not (info := await listed_info()).get("paused"):
            await asyncio.sleep(0.1)
    assert info["notes"] == "from the UI"

    assert (await http_client.delete(path)).status_code == 200
    assert (await http_client.get(path)).status_code == 404


@pytest.mark.skipif(use_reference(), reason="the reference's HTTP port has no /health")
async def test_health_answers_while_the_database_answers(http_client: httpx.AsyncClient) -> None:
    response = await http_client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "SERVING"})


async def test_health_is_503_when_the_database_fails() -> None:
    async def unreachable() -> None:
        raise OSError("connection refused")

    async def api(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("/health is answered before the API")

    transport = httpx.ASGITransport(app=WithHealth(api, unreachable))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "NOT_SERVING", "error": "connection refused"}
