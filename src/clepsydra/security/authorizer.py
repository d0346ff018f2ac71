"""Whether a caller may make a call: the default authorizer, and loading another one.

An authorizer is any callable `(claims, rpc, namespace) -> bool` (or an awaitable of one):
`claims` are the verified token's (`Claims`, None when no key set is configured), `rpc` the
RPC's name (`StartWorkflowExecution`), `namespace` the request's namespace ("" for RPCs that
name none). `clepsydra.security.access.ACCESS[rpc]` says what the default one would ask.
Teams with their own rules name theirs with `--authorizer module:callable`.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable

from clepsydra.security.access import ACCESS, Scope
from clepsydra.security.claims import Claims

Authorizer = Callable[[Claims | None, str, str], bool | Awaitable[bool]]


def default_authorizer(claims: Claims | None, rpc: str, namespace: str) -> bool:
    """The reference server's rules: a role on the namespace, or system-wide, at least the
    one the RPC takes; cluster-wide RPCs take a system-wide role."""
    access = ACCESS.get(rpc)
    if access is None:
        return False
    if access.scope is Scope.PUBLIC:
        return True
    if claims is None:
        return False
    held = claims.system if access.scope is Scope.CLUSTER else claims.role_in(namespace)
    return held >= access.role


def load_authorizer(spec: str) -> Authorizer:
    """The callable named `module:attribute` (the attribute may be dotted)."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"{spec!r} is not module:callable")
    found: object = importlib.import_module(module_name)
    for part in attribute.split("."):
        found = getattr(found, part)
    if not callable(found):
        raise ValueError(f"{spec} is not callable")
    return found
