"""TLS on every listener, bearer tokens, and who may call what (see docs/security.md).

`SecurityConfig` is what the command line sets; `guard_of` builds the check that every RPC
passes before its handler (`guard.py`), and `ServerTls` the listeners' credentials.
"""

from __future__ import annotations

from dataclasses import dataclass

from clepsydra.security.access import ACCESS, Access, Role, Scope
from clepsydra.security.authorizer import Authorizer, default_authorizer, load_authorizer
from clepsydra.security.claims import DEFAULT_PERMISSIONS_CLAIM, Claims
from clepsydra.security.guard import Guard
from clepsydra.security.keys import KeySet
from clepsydra.security.tls import ServerTls, TlsFiles
from clepsydra.security.tokens import TokenVerifier

__all__ = [
    "ACCESS",
    "Access",
    "Authorizer",
    "Claims",
    "Guard",
    "Role",
    "Scope",
    "SecurityConfig",
    "ServerTls",
    "TlsFiles",
    "guard_of",
]


@dataclass(frozen=True)
class SecurityConfig:
    tls: TlsFiles | None = None
    # Bearer tokens are required once a key set is given (a file, a URL or both).
    jwks_file: str | None = None
    jwks_url: str | None = None
    permissions_claim: str = DEFAULT_PERMISSIONS_CLAIM
    # module:callable of an authorizer to use instead of the default one.
    authorizer: str | None = None

    @property
    def authorizes(self) -> bool:
        return bool(self.jwks_file or self.jwks_url or self.authorizer)


def guard_of(config: SecurityConfig) -> Guard | None:
    """The check every RPC passes, or None when the server authorizes nothing. Reads the key
    file and imports the authorizer now, so that a mistake stops the server at start-up."""
    if not config.authorizes:
        return None
    verifier = None
    if config.jwks_file or config.jwks_url:
        keys = KeySet(config.jwks_file, config.jwks_url)
        keys.load()
        verifier = TokenVerifier(keys, config.permissions_claim)
    authorizer: Authorizer = load_authorizer(config.authorizer) if config.authorizer else default_authorizer
    return Guard(verifier, authorizer)
