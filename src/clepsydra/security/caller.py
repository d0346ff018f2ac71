"""Who made the call being served, for the code it runs: a context variable, set by the
guard (`guard.py`) before the handler runs and inherited by the tasks the handler starts.

Calls passed on to another server process (a request forwarded to the owner of its
workflow, a poll sent where tasks wait) carry the caller's own `authorization` header, so
that the process serving them checks the caller's rights, not the forwarding server's.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from clepsydra.security.claims import Claims

AUTHORIZATION = "authorization"


@dataclass(frozen=True)
class Caller:
    authorization: str = ""
    claims: Claims | None = None


CALLER: ContextVar[Caller | None] = ContextVar("clepsydra_caller", default=None)


def forwarded_metadata() -> tuple[tuple[str, str], ...]:
    """The metadata that carries the current caller's identity on a call to another process."""
    caller = CALLER.get()
    return ((AUTHORIZATION, caller.authorization),) if caller and caller.authorization else ()
