"""Workflow updates, from the client's side: admit, offer to the worker, wait for a stage.

Admitted updates live in memory, as on the reference server: an update the worker
has not accepted yet is not durable, and the client retries it (by its update id)
if the server restarts. Once accepted, its stage and outcome are in mutable state
and history.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from google.protobuf import any_pb2
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import UpdateWorkflowExecutionLifecycleStage, WorkflowExecutionStatus
from temporalio.api.failure.v1 import ApplicationFailureInfo, Failure
from temporalio.api.protocol.v1 import Message
from temporalio.api.update.v1 import Outcome, Request, UpdateRef
from temporalio.api.workflowservice.v1 import (
    PollWorkflowExecutionUpdateRequest,
    PollWorkflowExecutionUpdateResponse,
    UpdateWorkflowExecutionRequest,
    UpdateWorkflowExecutionResponse,
)

from clepsydra.engine import speculative
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import ExecutionKey, ExecutionState
from clepsydra.errors import WORKFLOW_COMPLETED, InvalidArgument, NotFound
from clepsydra.history.core import HistoryCore

Stage = UpdateWorkflowExecutionLifecycleStage
ADMITTED = Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED
ACCEPTED = Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED
COMPLETED = Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED
CONTINUED_AS_NEW = WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW
# The outcome of an update accepted but not completed when its run closed: an update
# failure, since a caller told "accepted" expects an outcome, not an error.
CLOSED_BEFORE_COMPLETION = Outcome(
    failure=Failure(
        message="Workflow Update failed because the Workflow completed before the Update completed.",
        source="Server",
        application_failure_info=ApplicationFailureInfo(
            type="AcceptedUpdateCompletedWorkflow", non_retryable=True
        ),
    )
)
ABORTED_BY_CLOSE = "workflow update was aborted by closing workflow"


@dataclass
class _Waiting:
    """An update in flight: its request and how far it got."""

    request: Request
    key: ExecutionKey  # the run it is for: the next one, if its run continued as new first
    stage: Stage.ValueType = ADMITTED
    outcome: Outcome | None = None
    error: NotFound | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def reach(self, stage: Stage.ValueType, outcome: Outcome | None) -> None:
        self.stage = max(self.stage, stage)
        self.outcome = outcome or self.outcome
        self.changed.set()


class Updates:
    def __init__(self, core: HistoryCore) -> None:
        self.core = core
        self._in_flight: dict[ExecutionKey, dict[str, _Waiting]] = {}

    async def update(
        self, namespace_id: str, request: UpdateWorkflowExecutionRequest, timeout: float
    ) -> UpdateWorkflowExecutionResponse:
        update_id = request.request.meta.update_id
        if not update_id:
            raise InvalidArgument("UpdateId is not set on request.")
        if not request.request.input.name:
            raise InvalidArgument("Update name is not set on request.")
        execution = request.workflow_execution
        key = await self.core.resolve(namespace_id, execution.workflow_id, execution.run_id)
        async with self.core.read(key) as state:
            other_chain = (
                bool(request.first_execution_run_id) and state.first_run_id != request.first_execution_run_id
            )
            waiting = self._known(state, update_id)
            running = state.running
        if other_chain:
            raise NotFound("workflow execution not found")
        if waiting is None:
            if not running:
                raise NotFound(WORKFLOW_COMPLETED)
            waiting = _Waiting(request.request, key)
            self._in_flight.setdefault(key, {})[update_id] = waiting
            await self.core.update(key, _offer)
        wanted = request.wait_policy.lifecycle_stage or COMPLETED
        await self._wait(waiting, wanted, timeout)
        return UpdateWorkflowExecutionResponse(
            update_ref=UpdateRef(
                workflow_execution=WorkflowExecution(workflow_id=key.workflow_id, run_id=waiting.key.run_id),
                update_id=update_id,
            ),
            outcome=waiting.outcome,
            stage=waiting.stage,
        )

    async def poll(
        self, namespace_id: str, request: PollWorkflowExecutionUpdateRequest, timeout: float
    ) -> PollWorkflowExecutionUpdateResponse:
        ref = request.update_ref
        key = await self.core.resolve(
            namespace_id, ref.workflow_execution.workflow_id, ref.workflow_execution.run_id
        )
        async with self.core.read(key) as state:
            waiting = self._known(state, ref.update_id)
        if waiting is None:
            raise NotFound(f"update {ref.update_id} not found")
        await self._wait(waiting, request.wait_policy.lifecycle_stage or COMPLETED, timeout)
        return PollWorkflowExecutionUpdateResponse(
            outcome=waiting.outcome,
            stage=waiting.stage,
            update_ref=UpdateRef(
                workflow_execution=WorkflowExecution(workflow_id=key.workflow_id, run_id=key.run_id),
                update_id=ref.update_id,
            ),
        )

    async def seen(self, key: ExecutionKey, update_id: str) -> tuple[Stage.ValueType, Outcome | None] | None:
        """How far an update id got on a run, if the run has seen it: admitted (in memory),
        accepted, or completed with its outcome (kept with the run after it closed)."""
        async with self.core.read(key) as state:
            waiting = self._known(state, update_id)
        return None if waiting is None else (waiting.stage, waiting.outcome)

    def _known(self, state: ExecutionState, update_id: str) -> _Waiting | None:
        """An update seen before: in flight in memory, or accepted in mutable state."""
        in_flight = self._in_flight.get(state.key, {}).get(update_id)
        if in_flight is not None:
            return in_flight
        info = state.updates.get(update_id)
        if info is None:
            return None
        done = _Waiting(Request(), state.key)
        if info.outcome is None and not state.running:
            done.reach(COMPLETED, CLOSED_BEFORE_COMPLETION)
            return done
        done.reach(COMPLETED if info.outcome is not None else ACCEPTED, info.outcome)
        if info.outcome is None:  # accepted: wait here for its completion
            self._in_flight.setdefault(state.key, {})[update_id] = done
        return done

    async def _wait(self, waiting: _Waiting, stage: Stage.ValueType, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while waiting.stage < stage and waiting.error is None:
                    waiting.changed.clear()
                    await waiting.changed.wait()
        if waiting.error is not None:
            raise waiting.error

    def messages(self, key: ExecutionKey, sequencing_event_id: int) -> list[Message]:
        """Requests for the worker's next workflow task: every update not yet accepted."""
        messages = []
        for update_id, waiting in self._in_flight.get(key, {}).items():
            if waiting.stage != ADMITTED:
                continue
            body = any_pb2.Any()
            body.Pack(waiting.request)
            messages.append(
                Message(
                    id=f"{update_id}/request",
                    protocol_instance_id=update_id,
                    event_id=sequencing_event_id,
                    body=body,
                )
            )
        return messages

    # -- a CommitListener of the update path: how far each update in flight got ---------------

    def committed(self, m: Mutation) -> None:
        continued = m.successor is not None and m.state.status == CONTINUED_AS_NEW
        self._catch_up(
            m.state, m.update_outcomes, m.successor.state.key if continued and m.successor else None
        )

    def changed_elsewhere(self, state: ExecutionState) -> None:
        """Another process changed the workflow: the state says how far each update got."""
        outcomes = [
            (update_id, COMPLETED if info.outcome is not None else ACCEPTED, info.outcome)
            for update_id, info in state.updates.items()
        ]
        self._catch_up(state, outcomes)

    def _catch_up(
        self,
        state: ExecutionState,
        outcomes: list[tuple[str, Stage.ValueType, Outcome | None]],
        next_run: ExecutionKey | None = None,
    ) -> None:
        key = state.key
        in_flight = self._in_flight.get(key)
        if not in_flight:
            return
        for update_id, stage, outcome in outcomes:
            waiting = in_flight.get(update_id)
            if waiting is not None:
                waiting.reach(stage, outcome)
                if stage == COMPLETED:
                    del in_flight[update_id]
        if not state.running:
            self._run_closed(in_flight, next_run)
        elif state.workflow_task is None and any(w.stage == ADMITTED for w in in_flight.values()):
            # The worker finished a task without seeing these updates: offer them in a new one.
            asyncio.get_running_loop().create_task(self.core.update(key, _offer))
        if not in_flight:
            self._in_flight.pop(key, None)

    def _run_closed(self, in_flight: dict[str, _Waiting], next_run: ExecutionKey | None) -> None:
        """As the reference does: accepted updates fail; admitted ones go to the run that
        continues this one as new, or end with an error if there is none."""
        moved = {}
        for update_id, waiting in in_flight.items():
            if waiting.stage >= ACCEPTED:
                waiting.reach(COMPLETED, CLOSED_BEFORE_COMPLETION)
            elif next_run is not None:
                waiting.key = next_run
                moved[update_id] = waiting
            else:
                waiting.error = NotFound(ABORTED_BY_CLOSE)
                waiting.changed.set()
        in_flight.clear()
        if next_run is not None and moved:
            self._in_flight.setdefault(next_run, {}).update(moved)
            asyncio.get_running_loop().create_task(self.core.update(next_run, _offer))


def _offer(m: Mutation) -> None:
    """Make sure a workflow task is coming, to carry admitted updates to the worker: on an
    idle workflow, a speculative one, which leaves no trace if they are all rejected."""
    speculative.schedule(m)
