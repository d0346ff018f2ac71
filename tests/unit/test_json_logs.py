"""`--log-format json`: one JSON object per line, with an ISO 8601 time a log shipper can read."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from clepsydra.cli import JsonFormatter


def test_a_json_log_line_has_an_iso_8601_utc_time() -> None:
    record = logging.LogRecord("clepsydra.test", logging.WARNING, "test.py", 1, "disk %s", ("full",), None)
    line = json.loads(JsonFormatter().format(record))
    assert (line["level"], line["logger"], line["msg"]) == ("warning", "clepsydra.test", "disk full")
    assert line["ts"].endswith("Z")
    when = datetime.fromisoformat(line["ts"])
    assert abs(when - datetime.fromtimestamp(record.created, UTC)).total_seconds() < 0.001
