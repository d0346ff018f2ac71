"""`clepsydra server start-dev`'s HTTP API and web UI flags, parsed for real (nothing served)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from clepsydra import cli
from clepsydra.server.app import Server
from clepsydra.server.frontends import WebConfig


@pytest.fixture
def web_config(monkeypatch: pytest.MonkeyPatch) -> list[WebConfig]:
    configs: list[WebConfig] = []

    async def record(server: Server, what: str = "server") -> None:
        configs.append(server.config.web)

    monkeypatch.setattr(cli, "_serve", record)
    monkeypatch.setattr(cli, "_configure_logging", lambda level, fmt: None)
    return configs


def start_dev(*args: str) -> None:
    result = CliRunner().invoke(cli.main, ["server", "start-dev", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_defaults_as_the_reference(web_config: list[WebConfig]) -> None:
    start_dev()
    start_dev("--port", "7000")
    default, other_port = web_config
    assert (default.http_port, default.ui_port) == (7243, 8233)
    assert other_port.ui_port == 8000  # the gRPC port plus 1000
    assert default.http_fallback and default.ui_fallback  # a default port that is taken is not fatal


def test_ports_asked_for_and_headless(web_config: list[WebConfig]) -> None:
    start_dev("--http-port", "9001", "--ui-port", "9002", "--ui-codec-endpoint", "http://codec")
    start_dev("--headless", "--ui-port", "0", "--ui-assets", "/srv/ui")
    start_dev("--ui-asset-path", "/srv/other")  # the reference's name
    asked, headless, reference_name = web_config
    assert (asked.http_port, asked.ui_port, asked.ui_codec_endpoint) == (9001, 9002, "http://codec")
    assert not (asked.http_fallback or asked.ui_fallback)
    assert (headless.ui_port, headless.ui_assets) == (None, "/srv/ui")
    assert reference_name.ui_assets == "/srv/other"
