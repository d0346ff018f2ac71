"""Auto reset points: the first workflow task each build of the worker completed in a chain
of runs, where `temporal workflow reset` (and the UI) offer to take the workflow back to.

As on the reference, a point names the binary checksum and build id the completion reported,
is marked resettable unless children, signals or cancel requests to other workflows are
pending, keeps the newest MAX_POINTS, and the points of a run pass to the run that continues it.
"""

from __future__ import annotations

from temporalio.api.workflow.v1 import ResetPointInfo
from temporalio.api.workflowservice.v1 import RespondWorkflowTaskCompletedRequest

from clepsydra.engine import codec
from clepsydra.engine.mutation import Mutation
from clepsydra.engine.state import ExecutionState

MAX_POINTS = 20


def build_id(request: RespondWorkflowTaskCompletedRequest) -> str:
    if request.deployment_options.build_id:
        return request.deployment_options.build_id
    return request.worker_version_stamp.build_id


def add(m: Mutation, completed_event_id: int, request: RespondWorkflowTaskCompletedRequest) -> None:
    s = m.state
    checksum, build = request.binary_checksum, build_id(request)
    points = s.auto_reset_points.points
    if any(p.binary_checksum == checksum and p.build_id == build for p in points):
        return
    points.append(
        ResetPointInfo(
            binary_checksum=checksum,
            build_id=build,
            run_id=s.run_id,
            first_workflow_task_completed_id=completed_event_id,
            create_time=codec.timestamp(m.now),
            resettable=resettable(s),
        )
    )
    del points[: max(0, len(points) - MAX_POINTS)]


def resettable(s: ExecutionState) -> bool:
    return not (s.children or s.signals_out or s.cancels_out)
