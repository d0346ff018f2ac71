"""Workflows for the HTTP and UI tests, in a module of their own: the SDK's sandbox imports it,
and it must not import an HTTP client."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
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


@activity.defn
async def send_welcome_email() -> None:
    raise RuntimeError("mail server down")


@workflow.defn
class WelcomeWorkflow:
    """Sends an email through a mail server that is down: the activity fails until paused."""

    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(
            send_welcome_email,
            activity_id="email",
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=300), backoff_coefficient=1),
        )


@activity.defn
async def shout(text: str) -> str:
    return text.upper()
