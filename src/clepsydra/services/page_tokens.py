"""Page tokens of lists that page by position: a JSON object holding the next offset."""

from __future__ import annotations

import json

from clepsydra.errors import InvalidArgument


def offset_token(offset: int) -> bytes:
    return json.dumps({"offset": offset}).encode()


def offset_of(token: bytes) -> int:
    """The offset a page token names (0 for none); InvalidArgument for a token not ours."""
    if not token:
        return 0
    try:
        offset = json.loads(token)["offset"]
        if isinstance(offset, int) and 0 <= offset < 2**63:
            return offset
    except (ValueError, KeyError, TypeError, RecursionError):
        pass
    raise InvalidArgument("Invalid NextPageToken.")
