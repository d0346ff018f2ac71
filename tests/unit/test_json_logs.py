"""`--log-format json`: one JSON object per line, with an ISO 8601 time a log shipper can read."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import SignalWorkflowExecutionRequest, service_pb2

from clepsydra.api.rpc_table import rpc_table
from clepsydra.cli import JsonFormatter

WORKFLOW_SERVICE = service_pb2.DESCRIPTOR.services_by_name["WorkflowService"]


def test_a_json_log_line_has_an_iso_8601_utc_time() -> None:
    record = logging.LogRecord("clepsydra.test", logging.WARNING, "test.py", 1, "disk %s", ("full",), None)
    line = json.loads(JsonFormatter().format(record))
    assert (line["level"], line["logger"], line["msg"]) == ("warning", "clepsydra.test", "disk full")
    assert line["ts"].endswith("Z")
    when = datetime.fromisoformat(line["ts"])
    assert abs(when - datetime.fromtimestamp(record.created, UTC)).total_seconds() < 0.001


class Signups:
    """A service whose RPC logs while it serves."""

    async def SignalWorkflowExecution(self, request: SignalWorkflowExecutionRequest, context: object) -> None:
        logging.getLogger("clepsydra.test").warning("signal %s", request.signal_name)


async def test_a_line_logged_while_serving_an_rpc_names_it_its_namespace_and_workflow() -> None:
    table = rpc_table(WORKFLOW_SERVICE, [Signups()])
    lines: list[str] = []
    capture = logging.Handler()
    capture.emit = lambda record: lines.append(JsonFormatter().format(record))  # type: ignore[method-assign]
    logger = logging.getLogger("clepsydra.test")
    logger.addHandler(capture)
    try:
        request = SignalWorkflowExecutionRequest(
            namespace="payments",
            workflow_execution=WorkflowExecution(workflow_id="signup-42"),
            signal_name="go",
        )
        await table["SignalWorkflowExecution"](request, None)
        logger.warning("between calls")
    finally:
        logger.removeHandler(capture)
    during, after = (json.loads(line) for line in lines)
    assert during["msg"] == "signal go"
    assert (during["rpc"], during["namespace"], during["workflow_id"]) == (
        "SignalWorkflowExecution",
        "payments",
        "signup-42",
    )
    assert "rpc" not in after and "namespace" not in after
