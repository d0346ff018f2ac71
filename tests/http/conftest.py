"""A server process with its HTTP API (and, on Clepsydra, its web UI) on, and clients for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from tests.server_process import ServerProcess, free_port, use_reference

# Registered at start, on Clepsydra and on the reference alike.
SEARCH_ATTRIBUTE = "HttpCustomer"


class WebServerProcess(ServerProcess):
    """A server process as `tests/server_process.py` starts one, with the web UI on (Clepsydra)."""

    def __init__(self, db_path: Path, log_path: Path, ui_port: int, *extra_args: str) -> None:
        super().__init__(db_path, log_path, *extra_args)
        self.ui_port = ui_port

    def command(self) -> list[str]:
        command = super().command()
        if use_reference():  # its UI server is not what these tests are about
            return command
        return [arg for arg in command if arg != "--headless"] + ["--ui-port", str(self.ui_port)]


@dataclass
class HttpServer:
    process: ServerProcess
    base_url: str
    ui_url: str

    @property
    def target(self) -> str:
        return self.process.target


@pytest.fixture(scope="session")
async def http_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[HttpServer]:
    work = tmp_path_factory.mktemp("http")
    port, ui_port = free_port(), free_port()
    args = ("--http-port", str(port), "--search-attribute", f"{SEARCH_ATTRIBUTE}=Keyword")
    process = WebServerProcess(work / "server.db", work / "server.log", ui_port, *args)
    await process.start()
    yield HttpServer(process, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{ui_port}")
    process.stop()


@pytest.fixture(scope="session")
async def http_client(http_server: HttpServer) -> AsyncIterator[httpx.AsyncClient]:
    # Long polls in these tests end when the workflow closes, well within a minute.
    async with httpx.AsyncClient(base_url=http_server.base_url, timeout=90) as client:
        yield client


@pytest.fixture(scope="session")
async def sdk_client(http_server: HttpServer) -> Client:
    return await Client.connect(http_server.target)
