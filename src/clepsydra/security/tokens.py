"""Checking an `authorization: Bearer <JWT>` header: signed by one of the key set's keys,
RS256 or ES256, not expired (nor used before its `nbf`), with a subject.

A token is checked once and its claims kept, keyed by the token itself, until it expires or
the keys change: a worker sends the same token with every poll, and verifying an RSA or
ECDSA signature costs far more than the RPC's other work before the handler.
"""

from __future__ import annotations

import logging
import time

from clepsydra.security.claims import DEFAULT_PERMISSIONS_CLAIM, Claims, claims_of
from clepsydra.security.keys import ALGORITHMS, KeySet

log = logging.getLogger(__name__)
CACHE_SIZE = 4096
NEVER = float("inf")


class BadToken(Exception):
    """No token, or one that does not verify; the message says why (for the log only)."""


class TokenVerifier:
    def __init__(self, keys: KeySet, permissions_claim: str = DEFAULT_PERMISSIONS_CLAIM) -> None:
        self.keys = keys
        self.permissions_claim = permissions_claim
        # token → (claims, expiry as a Unix time, key generation it was checked under)
        self._verified: dict[str, tuple[Claims, float, int]] = {}

    async def claims(self, header: str | None) -> Claims:
        """The claims of the bearer token in an `authorization` header, or BadToken."""
        if not header:
            raise BadToken("no authorization header")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise BadToken("unexpected authorization token format")
        token = token.strip()
        await self.keys.refresh()  # keys removed since a token was checked no longer open it
        cached = self._verified.get(token)
        if cached is not None:
            claims, expiry, generation = cached
            if generation == self.keys.generation and time.time() < expiry:
                return claims
            del self._verified[token]
        claims, expiry = await self._verify(token)
        if len(self._verified) >= CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = (claims, expiry, self.keys.generation)
        return claims

    async def _verify(self, token: str) -> tuple[Claims, float]:
        import jwt  # with its cryptography, loaded only by a server that checks tokens

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise BadToken(f"malformed token: {error}") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise BadToken(f"unexpected signing algorithm {algorithm!r}")
        kid = header.get("kid")
        candidates = [
            key
            for key in await self.keys.keys_for(kid if isinstance(kid, str) else None)
            if key.algorithm_name == algorithm
        ]
        if not candidates:
            raise BadToken(f"no {algorithm} key with id {kid!r}")
        failure: Exception | None = None
        for key in candidates:
            try:
                payload = jwt.decode(token, key.key, algorithms=[algorithm], options={"verify_aud": False})
                claims = claims_of(payload, self.permissions_claim)
            except (jwt.PyJWTError, ValueError) as error:
                failure = error
                continue
            expiry = payload.get("exp")
            return claims, float(expiry) if isinstance(expiry, int | float) else NEVER
        raise BadToken(str(failure))
