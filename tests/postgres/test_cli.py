"""`clepsydra server start` and `clepsydra db migrate`, in process: where settings come
from, and the schema rules. (tests/postgres/test_server.py runs them as real processes.)"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from clepsydra import cli
from clepsydra.server.app import Server
from tests.postgres.database import create_database, drop_database


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli.main, list(args), env=env)


@contextmanager
def database() -> Iterator[str]:
    """A fresh PostgreSQL database, for a test that is not a coroutine."""
    url = asyncio.run(create_database("clepsydra_cli"))
    try:
        yield url
    finally:
        asyncio.run(drop_database(url))


@pytest.fixture(autouse=True)
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_configure_logging", lambda level, fmt: None)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Server]:
    """Parse the command line for real, but record the server instead of serving."""
    servers: list[Server] = []

    async def record(server: Server, what: str = "server") -> None:
        servers.append(server)

    monkeypatch.setattr(cli, "_serve", record)
    return servers


def test_settings_come_from_the_command_line_the_environment_and_a_file(
    served: list[Server], tmp_path: Path
) -> None:
    settings = tmp_path / "clepsydra.toml"
    settings.write_text(
        'db-url = "postgresql://file@db/clepsydra"\nport = 9000\nip = "0.0.0.0"\n'
        'namespace = ["orders", "billing"]\nsearch-attribute = ["Customer=Keyword"]\n'
    )
    env = {"CLEPSYDRA_CONFIG": str(settings), "CLEPSYDRA_PORT": "9100"}
    result = invoke("server", "start", "--ip", "127.0.0.2", env=env)
    assert result.exit_code == 0, result.output
    (server,) = served
    config: Any = server.config
    assert (config.db_url, config.ip, config.port) == ("postgresql://file@db/clepsydra", "127.0.0.2", 9100)
    assert config.namespaces == ["orders", "billing"]
    assert config.search_attributes == {"Customer": "Keyword"}


def test_the_environment_alone_is_enough(served: list[Server]) -> None:
    env = {"CLEPSYDRA_DB_URL": "sqlite:///x.db", "CLEPSYDRA_NAMESPACE": "a b"}
    assert invoke("server", "start", env=env).exit_code == 0
    assert (served[0].config.db_url, served[0].config.namespaces) == ("sqlite:///x.db", ["a", "b"])


def test_the_http_api_and_the_web_ui_are_off_unless_asked_for(served: list[Server]) -> None:
    assert invoke("server", "start", "--db-url", "sqlite:///x.db").exit_code == 0
    env = {"CLEPSYDRA_UI_PORT": "8300"}
    assert (
        invoke("server", "start", "--db-url", "sqlite:///x.db", "--http-port", "7300", env=env).exit_code == 0
    )
    off, on = (server.config.web for server in served)
    assert (off.http_port, off.ui_port) == (None, None)
    assert (on.http_port, on.ui_port) == (7300, 8300)


def test_an_unknown_setting_in_the_file_is_refused(served: list[Server], tmp_path: Path) -> None:
    settings = tmp_path / "clepsydra.toml"
    settings.write_text('db-url = "sqlite:///x.db"\nprot = 1\n')
    result = invoke("server", "start", "--config", str(settings))
    assert result.exit_code == 2 and "unknown setting 'prot'" in result.output
    assert served == []


def test_help_names_each_settings_variable() -> None:
    text = invoke("server", "start", "--help").output
    for name in (
        "CONFIG",
        "DB_URL",
        "IP",
        "PORT",
        "NAMESPACE",
        "SEARCH_ATTRIBUTE",
        "LOG_LEVEL",
        "LOG_FORMAT",
        "HTTP_PORT",
        "UI_PORT",
        "ADVERTISE_ADDRESS",
    ):
        assert f"CLEPSYDRA_{name}" in text
    assert "CLEPSYDRA_DB_URL" in invoke("db", "migrate", "--help").output


def test_a_url_that_names_no_database_is_a_usage_error() -> None:
    for args in (["db", "migrate", "--db-url", "mysql://x/db"], ["server", "start", "--db-url", "x.db"]):
        result = invoke(*args)
        assert result.exit_code == 2 and "postgresql://" in result.output


def test_a_sqlite_file_is_migrated_by_db_migrate_not_by_server_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/clepsydra.db"  # an absolute path after the third slash
    refused = invoke("server", "start", "--db-url", url, "--port", "0")
    assert refused.exit_code == 1 and f"clepsydra db migrate --db-url {url}" in refused.output
    assert not (tmp_path / "clepsydra.db").exists()
    assert invoke("db", "migrate", "--db-url", url, "--shards", "4").exit_code == 2  # PostgreSQL only
    migrated = invoke("db", "migrate", "--db-url", url).output
    assert "applied migration 1 (0001_initial)" in migrated  # each step, by its name
    assert "schema migrated from version 0" in migrated
    assert "schema is up to date" in invoke("db", "migrate", "--db-url", url).output


def test_a_postgres_schema_behind_is_refused_until_migrated() -> None:
    with database() as url:
        refused = invoke("server", "start", "--port", "0", env={"CLEPSYDRA_DB_URL": url})
        assert refused.exit_code == 1
        assert "is empty" in refused.output and f"clepsydra db migrate --db-url {url}" in refused.output

        first = invoke("db", "migrate", "--db-url", url, "--shards", "8")
        assert first.exit_code == 0 and "migrated from version 0 to" in first.output
        again = invoke("db", "migrate", "--db-url", url)
        assert again.exit_code == 0 and "schema is up to date" in again.output
        other_count = invoke("db", "migrate", "--db-url", url, "--shards", "16")
        assert other_count.exit_code == 1 and "has 8 shards" in other_count.output


def test_a_password_in_the_url_is_not_shown() -> None:
    result = invoke("db", "migrate", "--db-url", "postgresql://user:secret@127.0.0.1:1/db")
    assert result.exit_code == 1
    assert "secret" not in result.output and "user:***@127.0.0.1:1" in result.output


@pytest.mark.parametrize(
    "url",
    [
        "postgresq://user:secret@127.0.0.1:1/db",  # a mistyped scheme
        "postgresql:/user:secret@127.0.0.1:1/db",  # a slash short
        "user:secret@127.0.0.1:1/db",  # no scheme at all
        "postgresql://127.0.0.1:1/db?user=user&password=secret",
    ],
)
@pytest.mark.parametrize("command", [("db", "migrate"), ("server", "start", "--port", "0")])
def test_a_password_in_a_url_typed_wrong_is_not_shown(url: str, command: tuple[str, ...]) -> None:
    result = invoke(*command, "--db-url", url)
    assert result.exit_code != 0
    assert "secret" not in result.output
