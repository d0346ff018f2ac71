"""Test Temporal workflows against Clepsydra, in the test process, with nothing to download.

- `start_local()` / `start_time_skipping()`: a `temporalio.testing.WorkflowEnvironment`
  on a new in-process server, like the SDK's methods of the same names.
- `InProcessServer`: the server itself, for a client of your own (`await server.connect()`).
- The pytest plugin (`clepsydra.testing.pytest_plugin`, loaded automatically) offers
  these as fixtures: `clepsydra_server`, `clepsydra_client`, `clepsydra_env`,
  `clepsydra_time_skipping_env` and `clepsydra_task_queue`.
"""

from clepsydra.testing.environment import (
    ClepsydraEnvironment,
    TimeSkippingEnvironment,
    environment,
    start_local,
    start_time_skipping,
)
from clepsydra.testing.server import InProcessServer

__all__ = [
    "ClepsydraEnvironment",
    "InProcessServer",
    "TimeSkippingEnvironment",
    "environment",
    "start_local",
    "start_time_skipping",
]
