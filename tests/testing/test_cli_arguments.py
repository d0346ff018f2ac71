"""The arguments the SDK passes to `temporal server start-dev` and to its Java test server.

Recorded from temporalio 1.35 by pointing `dev_server_existing_path` and
`test_server_existing_path` at a script that logs its argv.
"""

from __future__ import annotations

import logging
import shlex
from typing import Any

import pytest
from click.testing import CliRunner

from clepsydra import cli
from clepsydra.clock import SkippingClock, SystemClock
from clepsydra.server.app import Server

SDK_START_DEV_ARGS = shlex.split(
    "server start-dev --port 34971 --namespace default --ip 127.0.0.1 --log-format pretty --log-level warn"
    " --dynamic-config-value frontend.enableServerVersionCheck=false"
    " --dynamic-config-value frontend.enableUpdateWorkflowExecution=true"
    " --dynamic-config-value frontend.enableUpdateWorkflowExecutionAsyncAccepted=true"
    " --headless --search-attribute CustomKw=Keyword --search-attribute CustomInt=Int"
    " --search-attribute KL=KeywordList --search-attribute DT=Datetime --search-attribute TX=Text"
    " --search-attribute FL=Double --search-attribute BO=Bool"
)
SDK_START_DEV_UI_ARGS = shlex.split(
    "server start-dev --port 45899 --namespace ns1 --ip 127.0.0.1 --log-format pretty --log-level fatal"
    " --db-filename x.db --ui-port 46899"
)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Server]:
    """Parse the command line for real, but record the server instead of serving."""
    servers: list[Server] = []

    async def record(server: Server, what: str = "server") -> None:
        servers.append(server)

    monkeypatch.setattr(cli, "_serve", record)
    monkeypatch.setattr(cli, "_configure_logging", lambda level, fmt: None)
    return servers


def invoke(command: Any, args: list[str]) -> Any:
    return CliRunner().invoke(command, args, catch_exceptions=False)


def test_start_dev_accepts_what_the_sdk_passes(
    served: list[Server], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="clepsydra.cli")
    assert invoke(cli.main, SDK_START_DEV_ARGS).exit_code == 0
    (server,) = served
    assert (server.config.ip, server.config.port, server.config.namespaces) == (
        "127.0.0.1",
        34971,
        ["default"],
    )
    assert isinstance(server.clock, SystemClock)
    assert "frontend.enableServerVersionCheck=false ignored" in caplog.text


def test_start_dev_accepts_the_sdk_ui_variant(served: list[Server], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="clepsydra.cli")
    assert invoke(cli.main, SDK_START_DEV_UI_ARGS).exit_code == 0
    (server,) = served
    assert (server.config.db_filename, server.config.namespaces) == ("x.db", ["ns1"])
    assert server.config.web.ui_port == 46899  # served since the UI exists (issue 8)


@pytest.mark.parametrize(
    ("flag", "value", "complaint"),
    [
        ("--search-attribute", "Region=Keywrd", "is not one of Text, Keyword"),
        ("--search-attribute", "Region", "is not KEY=VALUE"),
        ("--dynamic-config-value", "limit.maxIDLength=lots", "is not a JSON value"),
    ],
)
def test_start_dev_rejects_malformed_values(
    served: list[Server], flag: str, value: str, complaint: str
) -> None:
    result = invoke(cli.main, ["server", "start-dev", flag, value])
    assert result.exit_code == 2
    assert complaint in result.output
    assert served == []


def test_test_server_takes_the_port_and_starts_locked(served: list[Server]) -> None:
    assert invoke(cli.run_test_server, ["34317"]).exit_code == 0
    (server,) = served
    assert server.config.port == 34317
    assert isinstance(server.clock, SkippingClock)
    assert server.clock.locked


def test_test_server_flag_starts_unlocked_and_extra_args_are_ignored(served: list[Server]) -> None:
    assert invoke(cli.run_test_server, ["34318", "--enable-time-skipping", "--some-java-flag"]).exit_code == 0
    (server,) = served
    assert isinstance(server.clock, SkippingClock)
    assert not server.clock.locked
