"""Task tokens: what goes out with a task comes back as the same token."""

from __future__ import annotations

import json
from dataclasses import asdict

from clepsydra.services.tokens import TaskToken


def test_a_token_encodes_every_field_and_decodes_to_itself() -> None:
    token = TaskToken("namespace", "workflow \u00e9", "run", 7, 3, "activity")
    assert json.loads(token.encode()) == asdict(token)
    assert TaskToken.decode(token.encode()) == token
