"""Settings of `clepsydra server start` from a TOML file.

Each key is the long name of a command-line option (`db-url`, `port`, `namespace`, ...);
options that may be repeated take a list. Precedence, highest first: the command line,
the option's environment variable (`CLEPSYDRA_DB_URL`, ...), this file, the default.

    db-url = "postgresql://clepsydra@db.internal:5432/clepsydra"
    ip = "0.0.0.0"
    port = 7233
    namespace = ["orders", "billing"]
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import click


def load(path: str, command: click.Command) -> dict[str, Any]:
    """The file's settings as click's default_map for `command`; unknown keys are an error."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise click.BadParameter(f"cannot read {path}: {error}", param_hint="--config") from None
    known = {p.name for p in command.params if p.name and p.name != "config"}
    settings: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in known:
            options = ", ".join(sorted(n.replace("_", "-") for n in known))
            raise click.BadParameter(
                f"{path}: unknown setting {key!r} (known: {options})", param_hint="--config"
            )
        settings[name] = value
    return settings


def config_callback(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """An eager --config option: read the file before the other options take their values."""
    if value and ctx.command is not None:
        ctx.default_map = {**(ctx.default_map or {}), **load(value, ctx.command)}
