"""The HTTP layer's pure parts: routes from the annotations, path templates, JSON with payload
shorthand, short enum names, query parameters. No server."""

from __future__ import annotations

import base64
import json

import pytest
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import HistoryEventFilterType, WorkflowIdReusePolicy
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.operatorservice.v1 import service_pb2 as operator_service_pb2
from temporalio.api.workflowservice.v1 import (
    GetWorkflowExecutionHistoryRequest,
    StartWorkflowExecutionRequest,
)
from temporalio.api.workflowservice.v1 import service_pb2 as workflow_service_pb2

from clepsydra.http import gojson, params, protojson
from clepsydra.http.context import HttpContext, parse_grpc_timeout
from clepsydra.http.routes import NoRoute, Router, parse_template, routes_for

WORKFLOW_SERVICE = workflow_service_pb2.DESCRIPTOR.services_by_name["WorkflowService"]
OPERATOR_SERVICE = operator_service_pb2.DESCRIPTOR.services_by_name["OperatorService"]


def plain(data: bytes) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (100.0, "100"),
        (1.5, "1.5"),
        (-0.25, "-0.25"),
        (12345678901234567890.0, "12345678901234567000"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (0.000001, "0.000001"),
        (0.0, "0"),
    ],
)
def test_numbers_as_go_writes_them(value: float, text: str) -> None:
    assert gojson.number(value) == text


def test_go_json_sorts_keys_and_escapes_html_when_storing() -> None:
    value = gojson.loads('{"b": 1.50, "a": "<&>é"}')
    assert gojson.dumps(value) == '{"a":"<&>é","b":1.5}'
    assert gojson.dumps(value, html_escape=True) == '{"a":"\\u003c\\u0026\\u003eé","b":1.5}'


def test_routes_come_from_the_annotations() -> None:
    for service in (WORKFLOW_SERVICE, OPERATOR_SERVICE):
        routes = routes_for(service)
        by_method: dict[str, list[str]] = {}
        for route in routes:
            by_method.setdefault(route.method.name, []).append(route.path)
            assert route.body in ("", "*")
        # Every annotated RPC is reachable with and without the /api/v1 prefix.
        for paths in by_method.values():
            assert any(p.startswith("/api/v1/") for p in paths)
            assert any(not p.startswith("/api/v1/") for p in paths)
    names = {r.method.name for r in routes_for(WORKFLOW_SERVICE)}
    assert {"StartWorkflowExecution", "GetWorkflowExecutionHistory", "ListWorkflowExecutions"} <= names
    assert "PollWorkflowTaskQueue" not in names  # not annotated: gRPC only, as on the reference


def test_router_matches_literals_variables_and_encoded_slashes() -> None:
    router = Router(routes_for(WORKFLOW_SERVICE))
    route, values = router.match("POST", "/api/v1/namespaces/ns/workflows/a%2Fb/signal/go%20on")
    assert route.method.name == "SignalWorkflowExecution"
    assert values == {"namespace": "ns", "workflow_execution.workflow_id": "a/b", "signal_name": "go on"}
    route, values = router.match("GET", "/namespaces/ns/workflows/order:17")
    assert (route.method.name, values["execution.workflow_id"]) == ("DescribeWorkflowExecution", "order:17")
    with pytest.raises(NoRoute) as not_found:
        router.match("GET", "/api/v1/namespaces/ns/nothing/here/at/all")
    assert not not_found.value.method_not_allowed
    with pytest.raises(NoRoute) as wrong_method:
        router.match("PUT", "/api/v1/namespaces/ns/workflows/w")
    assert wrong_method.value.method_not_allowed


def test_templates_with_wildcards_and_verbs() -> None:
    template = parse_template("/v1/{name=projects/*/files/**}:download")
    assert template.verb == "download"
    assert template.match(["v1", "projects", "p", "files", "a", "b"], "download") == {
        "name": "projects/p/files/a/b"
    }
    assert template.match(["v1", "projects", "p", "files", "a"], "") is None


def test_payload_shorthand_out() -> None:
    payloads = Payloads(
        payloads=[
            plain(b'{"z": 1.0, "a": "<x>"}'),
            Payload(metadata={"encoding": b"binary/null"}),
            Payload(metadata={"encoding": b"json/plain", "other": b"x"}, data=b"1"),
            Payload(metadata={"encoding": b"json/protobuf", "messageType": b"a.B"}, data=b'{"k":2}'),
            plain(b"not json"),
        ]
    )
    out = json.loads(protojson.to_json(payloads, shorthand=True))
    assert out[0] == {"a": "<x>", "z": 1}
    assert out[1] == {"metadata": {"encoding": base64.b64encode(b"binary/null").decode()}}
    assert "metadata" in out[2]  # extra metadata: full form
    assert out[3] == {"_protoMessageType": "a.B", "k": 2}
    assert "metadata" in out[4]  # not JSON: full form rather than an error
    assert "payloads" in json.loads(protojson.to_json(payloads, shorthand=False))


def test_payload_shorthand_in_and_short_enum_names() -> None:
    request = StartWorkflowExecutionRequest()
    protojson.parse(
        {
            "input": [{"b": 2, "a": 1}, None, {"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "MQ=="}],
            "header": {"fields": {"h": {"_protoMessageType": "a.B", "x": 1}}},
            "workflowIdReusePolicy": "allow_duplicate",
            "workflow_id_conflict_policy": "WORKFLOW_ID_CONFLICT_POLICY_FAIL",
        },
        request,
    )
    first, null, full = request.input.payloads
    assert (first.metadata["encoding"], first.data) == (b"json/plain", b'{"a":1,"b":2}')
    assert null.metadata["encoding"] == b"binary/null" and not null.data
    assert full.data == b"1"
    assert request.header.fields["h"].metadata["messageType"] == b"a.B"
    assert request.workflow_id_reuse_policy == WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
    # An object that merely looks like a payload (no data) is a JSON value.
    request = StartWorkflowExecutionRequest()
    protojson.parse({"input": {"payloads": [{"metadata": {}}]}}, request)
    assert request.input.payloads[0].data == b'{"metadata":{}}'


def test_bad_json_is_reported_by_field() -> None:
    with pytest.raises(protojson.BadJson, match='unknown field "nope"'):
        protojson.parse({"workflowType": {"nope": 1}}, StartWorkflowExecutionRequest())
    with pytest.raises(protojson.BadJson):
        protojson.parse({"workflowIdReusePolicy": "Sometimes"}, StartWorkflowExecutionRequest())


def test_query_parameters_to_fields() -> None:
    descriptor = GetWorkflowExecutionHistoryRequest.DESCRIPTOR
    query = params.query_to_json(
        descriptor,
        [
            ("execution.runId", "r"),
            ("execution.workflow_id", "ignored: bound by the path"),
            ("waitNewEvent", "true"),
            ("historyEventFilterType", "CloseEvent"),
            ("maximum_page_size", "5"),
            ("noPayloadShorthand", ""),
        ],
        bound={"namespace", "execution.workflow_id"},
    )
    request = GetWorkflowExecutionHistoryRequest()
    protojson.parse(query, request)
    params.set_path_field(request, "execution.workflow_id", "a/b")
    assert request.execution.run_id == "r"
    assert request.execution.workflow_id == "a/b"
    assert request.wait_new_event is True
    assert request.history_event_filter_type == HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT
    assert request.maximum_page_size == 5
    with pytest.raises(protojson.BadJson):
        params.query_to_json(descriptor, [("waitNewEvent", "maybe")], set())


def test_output_sorts_map_entries_and_keeps_field_order() -> None:
    event = HistoryEvent(event_id=3)
    event.workflow_execution_signaled_event_attributes.header.fields["b"].CopyFrom(plain(b"2"))
    event.workflow_execution_signaled_event_attributes.header.fields["a"].CopyFrom(plain(b"1"))
    text = protojson.to_json(event, shorthand=True)
    assert text.startswith('{"eventId":"3",')
    assert '"header":{"fields":{"a":1,"b":2}}' in text


def test_grpc_timeout_header_bounds_the_call() -> None:
    assert parse_grpc_timeout("3S") == 3.0
    assert parse_grpc_timeout("500m") == 0.5
    assert parse_grpc_timeout("2M") == 120.0
    assert parse_grpc_timeout("soon") is None
    assert HttpContext((), "", None).time_remaining() is None
    remaining = HttpContext((), "", 30.0).time_remaining()
    assert remaining is not None and 0 < remaining <= 30.0
