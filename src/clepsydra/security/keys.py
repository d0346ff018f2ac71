"""The public keys that tokens are checked against: a JSON Web Key Set from a file, from a
URL, or both.

The file is read again when it changes (looked at no more than once a second), so keys can
be rotated without a restart. The URL's set is cached for five minutes and fetched again
sooner when a token names a key id it does not hold (at most every half minute, so that a
stream of forged key ids cannot make the server hammer the identity provider). The fetch
runs on a thread: urllib blocks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import urllib.request
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jwt

log = logging.getLogger(__name__)
ALGORITHMS = ("RS256", "ES256")
FILE_CHECK_SECONDS = 1.0
URL_CACHE_SECONDS = 300.0
URL_REFRESH_SECONDS = 30.0
URL_TIMEOUT_SECONDS = 10.0


class KeySetError(Exception):
    """A key set that cannot be read or holds no usable key."""


def parse_key_set(data: Any, where: str) -> list[jwt.PyJWK]:
    import jwt  # with its cryptography, loaded only by a server that checks tokens

    """The RS256 and ES256 keys of a JWKS document (other keys are skipped)."""
    try:
        keys = jwt.PyJWKSet.from_dict(data if isinstance(data, dict) else {}).keys
    except jwt.PyJWTError as error:
        raise KeySetError(f"{where}: {error}") from None
    usable = [key for key in keys if key.algorithm_name in ALGORITHMS]
    if not usable:
        raise KeySetError(f"{where}: no RS256 or ES256 key")
    return usable


class KeySet:
    """Keys by id, from a file and/or a URL. `generation` moves whenever the keys change, so
    that verified tokens cached under the old keys can be forgotten."""

    def __init__(self, file: str | None = None, url: str | None = None) -> None:
        if not file and not url:
            raise ValueError("a key set needs a file or a URL")
        self.file = file
        self.url = url
        self.generation = 0
        self._file_keys: list[jwt.PyJWK] = []
        self._file_stamp: tuple[float, int] | None = None
        self._file_checked = -FILE_CHECK_SECONDS
        self._url_keys: list[jwt.PyJWK] = []
        self._url_fetched = -URL_CACHE_SECONDS
        self._url_lock = asyncio.Lock()

    def load(self) -> None:
        """Read the file now: at start-up, so that a bad file stops the server at once."""
        if self.file:
            self._read_file(time.monotonic())

    async def refresh(self) -> None:
        """Read the file again if it changed, fetch the URL again if its copy is old."""
        now = time.monotonic()
        if self.file and now - self._file_checked >= FILE_CHECK_SECONDS:
            self._reload_file(now)
        if self.url and now - self._url_fetched >= URL_CACHE_SECONDS:
            await self._fetch_url()

    async def keys_for(self, kid: str | None) -> list[jwt.PyJWK]:
        """The keys a token with key id `kid` may be signed with (all of them without one)."""
        await self.refresh()
        found = _matching(self._file_keys + self._url_keys, kid)
        if not found and self.url and kid and time.monotonic() - self._url_fetched >= URL_REFRESH_SECONDS:
            await self._fetch_url()
            found = _matching(self._file_keys + self._url_keys, kid)
        return found

    def _reload_file(self, now: float) -> None:
        try:
            self._read_file(now)
        except (OSError, KeySetError) as error:  # keep the keys we had: a half-written file
            log.warning("key set %s not reloaded: %s", self.file, error)

    def _read_file(self, now: float) -> None:
        assert self.file is not None
        self._file_checked = now
        stat = os.stat(self.file)
        stamp = (stat.st_mtime, stat.st_size)
        if stamp == self._file_stamp:
            return
        with open(self.file, encoding="utf-8") as handle:
            try:
                data = json.load(handle)
            except ValueError as error:
                raise KeySetError(f"{self.file}: {error}") from None
        self._file_keys = parse_key_set(data, self.file)
        self._file_stamp = stamp
        self.generation += 1
        log.info("key set %s: %d keys", self.file, len(self._file_keys))

    async def _fetch_url(self) -> None:
        async with self._url_lock:
            started = time.monotonic()
            if started - self._url_fetched < URL_REFRESH_SECONDS:
                return  # another call fetched it meanwhile
            self._url_fetched = started
            assert self.url is not None
            try:
                data = await asyncio.to_thread(_get_json, self.url)
                keys = parse_key_set(data, self.url)
            except (OSError, ValueError, KeySetError) as error:
                log.warning("key set %s not fetched: %s", self.url, error)
                return
            if [k.key_id for k in keys] != [k.key_id for k in self._url_keys]:
                self.generation += 1
            self._url_keys = keys


def _matching(keys: list[jwt.PyJWK], kid: str | None) -> list[jwt.PyJWK]:
    return keys if kid is None else [key for key in keys if key.key_id == kid]


def _get_json(url: str) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=URL_TIMEOUT_SECONDS) as response:
        return json.loads(response.read())
