"""Workflows for the HTTP and UI tests, in a module of their own: the SDK's sandbox imports it,
and it must not import an HTTP client."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError


@workflow.defn(name="HttpGreeting")
class Greeting:
    """Greets the first name it is signalled; fails for the greeting "fail"."""

    def __init__(self) -> None:
        self.names: list[str] = []

    @workflow.run
    async def run(self, greeting: str) -> str:
        if greeting == "fail":
            raise ApplicationError("no greeting today", non_retryable=True)
        if greeting != "now":
            await workflow.wait_condition(lambda: bool(self.names))
        return f"{greeting}, {self.names[0] if self.names else 'world'}!"

    @workflow.signal
    def name(self, name: str) -> None:
        self.names.append(name)
