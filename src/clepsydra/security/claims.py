"""Who a caller is and what roles it holds, from its token's claims.

The mapping is the reference server's default JWT claim mapper: the `permissions` claim
(its name is configurable) lists `"<namespace>:<role>"` strings; `temporal-system` as the
namespace means every namespace and the cluster itself. Strings in another shape, or with a
role this server does not know, are ignored, as the reference ignores them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clepsydra.security.access import Role

SYSTEM_NAMESPACE = "temporal-system"
DEFAULT_PERMISSIONS_CLAIM = "permissions"
ROLES = {"read": Role.READ, "worker": Role.WORKER, "write": Role.WRITE, "admin": Role.ADMIN}


@dataclass(frozen=True)
class Claims:
    """What a verified token says: its subject, its roles, and every claim it carries."""

    subject: str
    system: Role = Role.NONE
    namespaces: Mapping[str, Role] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)

    def role_in(self, namespace: str) -> Role:
        """The caller's role on `namespace`: its own there, or its system-wide one."""
        return max(self.system, self.namespaces.get(namespace, Role.NONE))


def claims_of(payload: Mapping[str, Any], permissions_claim: str = DEFAULT_PERMISSIONS_CLAIM) -> Claims:
    """The roles a token's payload grants. `sub` must be a string (as on the reference)."""
    subject = payload.get("sub")
    if not isinstance(subject, str):
        raise ValueError('unexpected value type of "sub" claim')
    system = Role.NONE
    namespaces: dict[str, Role] = {}
    permissions = payload.get(permissions_claim)
    for permission in permissions if isinstance(permissions, list) else ():
        if not isinstance(permission, str):
            continue
        namespace, sep, role_name = permission.partition(":")
        role = ROLES.get(role_name.lower())
        if not sep or role is None:
            continue
        if namespace == SYSTEM_NAMESPACE:
            system = max(system, role)
        else:
            namespaces[namespace] = max(namespaces.get(namespace, Role.NONE), role)
    return Claims(subject, system, namespaces, dict(payload))
