"""The event loop a server process runs on: uvloop where it is installed, else asyncio's.

Every RPC is a handful of event loop callbacks (gRPC's completion queue, the handler's
awaits, the store's thread hand-offs), so the loop's own cost is a real share of the
server's CPU: uvloop takes about a sixth off the CPU of a trivial RPC here (see
BENCHMARKS.md). CLEPSYDRA_EVENT_LOOP=asyncio picks asyncio's loop regardless.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, on uvloop unless it is missing or CLEPSYDRA_EVENT_LOOP=asyncio."""
    wanted = os.environ.get("CLEPSYDRA_EVENT_LOOP", "uvloop")
    if wanted == "uvloop" and importlib.util.find_spec("uvloop") is not None:
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)
