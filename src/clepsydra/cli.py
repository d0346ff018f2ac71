"""The `clepsydra` command."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys

import click

from clepsydra import __version__
from clepsydra.server.app import Server, ServerConfig

LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "level": record.levelname.lower(),
            "ts": self.formatTime(record),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def _configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=LOG_LEVELS[level], handlers=[handler], force=True)


@click.group()
@click.version_option(__version__, prog_name="clepsydra")
def main() -> None:
    """Clepsydra: a Temporal-compatible durable execution server."""


@main.group()
def server() -> None:
    """Run the server."""


@server.command("start-dev")
@click.option("--ip", default="127.0.0.1", show_default=True, help="IP address to serve on.")
@click.option("-p", "--port", default=7233, show_default=True, type=int, help="gRPC port.")
@click.option(
    "-f",
    "--db-filename",
    default=None,
    help="SQLite file that keeps workflows across restarts. Default: in memory, kept nothing.",
)
@click.option(
    "-n",
    "--namespace",
    "namespaces",
    multiple=True,
    help="Namespace to create at start (repeatable); 'default' always exists.",
)
@click.option("--log-level", type=click.Choice(list(LOG_LEVELS)), default="info", show_default=True)
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--headless", is_flag=True, help="Do not serve the web UI (there is none yet).")
@click.option("--ui-port", type=int, default=None, help="Accepted for compatibility; no UI yet.")
def start_dev(
    ip: str,
    port: int,
    db_filename: str | None,
    namespaces: tuple[str, ...],
    log_level: str,
    log_format: str,
    headless: bool,
    ui_port: int | None,
) -> None:
    """Start a development server in the foreground, as `temporal server start-dev` does."""
    _configure_logging(log_level, log_format)
    config = ServerConfig(ip=ip, port=port, db_filename=db_filename, namespaces=list(namespaces))
    asyncio.run(_serve(config))


async def _serve(config: ServerConfig) -> None:
    server = Server(config)
    await server.start()
    where = config.db_filename or "in memory (nothing is kept)"
    click.echo(f"Clepsydra {__version__} serving gRPC on {server.address}; database: {where}", err=False)
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    logging.getLogger(__name__).info("stopping")
    await server.stop()
