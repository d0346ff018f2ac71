"""A Nexus service, its handlers and the workflows that call it, for tests/integration/test_nexus*.py.

Workflows in a module of their own: the SDK's sandbox imports this module again, and it
keeps no state at import that a test could disturb."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import nexusrpc
import nexusrpc.handler
from temporalio import nexus, workflow
from temporalio.exceptions import ApplicationError, NexusOperationError


@nexusrpc.service
class Greeter:
    echo: nexusrpc.Operation[str, str]
    refuse: nexusrpc.Operation[str, str]
    fail: nexusrpc.Operation[str, str]
    flaky: nexusrpc.Operation[str, str]
    greet: nexusrpc.Operation[str, str]
    greet_failing: nexusrpc.Operation[str, str]
    sleep: nexusrpc.Operation[str, str]
    gate: nexusrpc.Operation[str, str]


@workflow.defn
class Greeting:
    @workflow.run
    async def run(self, name: str) -> str:
        await workflow.sleep(0.3)
        return f"hello {name}"


@workflow.defn
class FailingGreeting:
    @workflow.run
    async def run(self, name: str) -> str:
        raise ApplicationError(f"no greeting for {name}", non_retryable=True)


@workflow.defn
class SleepingGreeting:
    @workflow.run
    async def run(self, name: str) -> str:
        await workflow.sleep(3600)
        return f"slept {name}"


@workflow.defn
class Gate:
    """Waits to be opened (by a signal) and answers with what it was opened with."""

    def __init__(self) -> None:
        self.opened_with: str | None = None

    @workflow.signal
    def open(self, text: str) -> None:
        self.opened_with = text

    @workflow.run
    async def run(self, name: str) -> str:
        await workflow.wait_condition(lambda: self.opened_with is not None)
        return f"{name} opened with {self.opened_with}"


@dataclass
class Seen:
    """What the handler saw of the requests it served."""

    headers: list[dict[str, str]] = field(default_factory=list)
    flaky_attempts: int = 0


@nexusrpc.handler.service_handler(service=Greeter)
class GreeterHandler:
    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    @nexusrpc.handler.sync_operation
    async def echo(self, ctx: nexusrpc.handler.StartOperationContext, text: str) -> str:
        self.seen.headers.append(dict(ctx.headers))
        return f"echo {text}"

    @nexusrpc.handler.sync_operation
    async def refuse(self, ctx: nexusrpc.handler.StartOperationContext, text: str) -> str:
        raise nexusrpc.HandlerError(f"bad {text}", type=nexusrpc.HandlerErrorType.BAD_REQUEST)

    @nexusrpc.handler.sync_operation
    async def fail(self, ctx: nexusrpc.handler.StartOperationContext, text: str) -> str:
        raise nexusrpc.OperationError(f"failed {text}", state=nexusrpc.OperationErrorState.FAILED)

    @nexusrpc.handler.sync_operation
    async def flaky(self, ctx: nexusrpc.handler.StartOperationContext, text: str) -> str:
        self.seen.flaky_attempts += 1
        if self.seen.flaky_attempts == 1:
            raise nexusrpc.HandlerError("not yet", type=nexusrpc.HandlerErrorType.INTERNAL)
        return f"flaky {text}"

    @nexus.workflow_run_operation
    async def greet(self, ctx: nexus.WorkflowRunOperationContext, name: str) -> nexus.WorkflowHandle[str]:
        return await ctx.start_workflow(Greeting.run, name, id=f"greeting-{uuid.uuid4()}")

    @nexus.workflow_run_operation
    async def greet_failing(
        self, ctx: nexus.WorkflowRunOperationContext, name: str
    ) -> nexus.WorkflowHandle[str]:
        return await ctx.start_workflow(FailingGreeting.run, name, id=f"failing-{uuid.uuid4()}")

    @nexus.workflow_run_operation
    async def sleep(self, ctx: nexus.WorkflowRunOperationContext, name: str) -> nexus.WorkflowHandle[str]:
        return await ctx.start_workflow(SleepingGreeting.run, name, id=f"sleeping-{uuid.uuid4()}")

    @nexus.workflow_run_operation
    async def gate(self, ctx: nexus.WorkflowRunOperationContext, name: str) -> nexus.WorkflowHandle[str]:
        return await ctx.start_workflow(Gate.run, name, id=f"gate-{name}")


@dataclass
class Call:
    endpoint: str
    operation: str
    text: str
    schedule_to_close_seconds: float = 0
    cancel: bool = False
    start_to_close_seconds: float = 0
    schedule_to_start_seconds: float = 0


@workflow.defn
class Caller:
    """Calls one operation and answers with its result, or with what its error says."""

    @workflow.run
    async def run(self, call: Call) -> str:
        client = workflow.create_nexus_client(service=Greeter, endpoint=call.endpoint)
        timeout = (
            timedelta(seconds=call.schedule_to_close_seconds) if call.schedule_to_close_seconds else None
        )
        timeouts = {
            name: timedelta(seconds=seconds)
            for name, seconds in (
                ("start_to_close_timeout", call.start_to_close_seconds),
                ("schedule_to_start_timeout", call.schedule_to_start_seconds),
            )
            if seconds
        }
        try:
            if call.cancel:
                handle = await client.start_operation(
                    call.operation, call.text, output_type=str, schedule_to_close_timeout=timeout
                )
                await asyncio.sleep(0.5)
                handle.cancel()
                return await handle
            result: str = await client.execute_operation(
                call.operation, call.text, output_type=str, schedule_to_close_timeout=timeout, **timeouts
            )
            return result
        except NexusOperationError as error:
            cause = error.cause
            return (
                f"{type(cause).__name__}: {cause}" if cause is not None else f"NexusOperationError: {error}"
            )
