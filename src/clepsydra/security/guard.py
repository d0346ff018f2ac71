"""Every RPC checked before its handler runs, over gRPC, HTTP and the web UI alike.

The guard wraps the RPC tables (`api/rpc_table.py`) that all three serve from, so there is
one check and no way around it. A call without a valid token fails UNAUTHENTICATED; a call
the authorizer refuses fails PERMISSION_DENIED. Both say only "Request unauthorized.", as
the reference server does: why a token was refused goes to the log, not to the caller.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from clepsydra.errors import PermissionDenied, ServiceError
from clepsydra.security.access import ACCESS, Scope
from clepsydra.security.authorizer import Authorizer, default_authorizer
from clepsydra.security.caller import AUTHORIZATION, CALLER, Caller
from clepsydra.security.claims import Claims
from clepsydra.security.tokens import BadToken, TokenVerifier

log = logging.getLogger(__name__)
Handler = Callable[[Any, Any], Awaitable[Any]]
UNAUTHORIZED = "Request unauthorized."


class Unauthenticated(ServiceError):
    code_name = "UNAUTHENTICATED"


def authorization_of(context: Any) -> str:
    """The `authorization` metadata of a gRPC call (or header of an HTTP request)."""
    for key, value in context.invocation_metadata() or ():
        if key == AUTHORIZATION:
            return str(value)
    return ""


class Guard:
    """`verifier`: checks bearer tokens (None: no key set, the authorizer sees no claims)."""

    def __init__(self, verifier: TokenVerifier | None, authorizer: Authorizer = default_authorizer) -> None:
        self.verifier = verifier
        self.authorizer = authorizer

    def wrap(self, table: Mapping[str, Handler]) -> dict[str, Handler]:
        """The RPC table with each handler behind the check."""
        return {name: self.guarded(name, handler) for name, handler in table.items()}

    def guarded(self, rpc: str, handler: Handler) -> Handler:
        access = ACCESS.get(rpc)
        if access is not None and access.scope is Scope.PUBLIC:
            return handler  # version checks, which clients make first: everyone may make them

        async def behavior(request: Any, context: Any) -> Any:
            authorization = authorization_of(context)
            claims = await self.admit(rpc, getattr(request, "namespace", ""), authorization)
            reset = CALLER.set(Caller(authorization, claims))
            try:
                return await handler(request, context)
            finally:
                CALLER.reset(reset)

        behavior.__name__ = rpc
        return behavior

    async def admit(self, rpc: str, namespace: str, authorization: str) -> Claims | None:
        """The caller's claims, if it may make the call; Unauthenticated or PermissionDenied if not."""
        claims = None
        if self.verifier is not None:
            try:
                claims = await self.verifier.claims(authorization)
            except BadToken as error:
                log.info("%s refused: %s", rpc, error)
                raise Unauthenticated(UNAUTHORIZED) from None
        try:
            allowed = self.authorizer(claims, rpc, namespace)
            if inspect.isawaitable(allowed):
                allowed = await allowed
        except Exception:
            log.exception("the authorizer failed on %s", rpc)
            raise PermissionDenied(UNAUTHORIZED) from None
        if not allowed:
            who = claims.subject if claims else "a caller without a token"
            log.info("%s in namespace %r refused to %s", rpc, namespace, who)
            raise PermissionDenied(UNAUTHORIZED)
        return claims
