"""The Kubernetes manifests in deploy/ parse, and every command, flag and CLEPSYDRA_* variable
their containers use is one the `clepsydra` command accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from clepsydra.cli import main

MANIFESTS = sorted((Path(__file__).parents[2] / "deploy" / "kubernetes").rglob("*.yaml"))


def containers() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in MANIFESTS:
        for document in yaml.safe_load_all(path.read_text()):
            pod = document.get("spec", {}).get("template", {}).get("spec", {})
            for container in [*pod.get("initContainers", []), *pod.get("containers", [])]:
                found.append((path.name, container))
    return found


def command_of(args: list[str]) -> tuple[click.Command, list[str]]:
    """The click command the arguments name, and the arguments left for it."""
    command: click.Command = main
    rest = list(args)
    while isinstance(command, click.Group) and rest and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    return command, rest


def test_every_manifest_parses() -> None:
    assert MANIFESTS, "no manifests found"
    kinds = {doc["kind"] for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text())}
    assert {"Deployment", "Job", "Service", "Secret", "StatefulSet"} <= kinds


@pytest.mark.parametrize(("manifest", "container"), containers(), ids=lambda value: str(value)[:40])
def test_containers_use_only_what_the_cli_accepts(manifest: str, container: dict[str, Any]) -> None:
    command, rest = command_of(container.get("args", []))
    assert not isinstance(command, click.Group), f"{manifest}: {container['args']} names no command"
    options = {name for param in command.params for name in getattr(param, "opts", [])}
    flags = [arg.split("=")[0] for arg in rest if arg.startswith("--")]
    assert set(flags) <= options, f"{manifest}: unknown flags {set(flags) - options}"
    variables = {param.envvar for param in command.params if isinstance(param.envvar, str)}
    used = {env["name"] for env in container.get("env", []) if env["name"].startswith("CLEPSYDRA_")}
    assert used <= variables, f"{manifest}: unknown variables {used - variables}"
