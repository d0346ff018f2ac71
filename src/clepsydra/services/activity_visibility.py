"""List filters over standalone activities: the workflow list language with the activity's
names for its columns (`ActivityId`, `ActivityType`), confined to activity executions."""

from __future__ import annotations

from temporalio.api.activity.v1 import ActivityExecutionListInfo
from temporalio.api.common.v1 import ActivityType, SearchAttributes

from clepsydra.engine import codec
from clepsydra.engine import standalone_activities as standalone
from clepsydra.services.divided_lists import DividedList
from clepsydra.services.standalone_activities import ACTIVITY_STATUS
from clepsydra.store.base import VisibilityRecord

ACTIVITIES = DividedList(
    standalone.DIVISION,
    {"ActivityId": "WorkflowId", "ActivityType": "WorkflowType"},
    "ActivityId",
    standalone.PREFIX,
)
activity_query = ACTIVITIES.query


def list_info(record: VisibilityRecord) -> ActivityExecutionListInfo:
    search_attributes = SearchAttributes.FromString(record.search_attributes)
    del search_attributes.indexed_fields[standalone.DIVISION_ATTRIBUTE]
    info = ActivityExecutionListInfo(
        activity_id=record.key.workflow_id.removeprefix(standalone.PREFIX),
        run_id=record.key.run_id,
        activity_type=ActivityType(name=record.workflow_type),
        status=ACTIVITY_STATUS[record.status],
        search_attributes=search_attributes,
        task_queue=record.task_queue,
        state_transition_count=record.state_transition_count,
    )
    info.schedule_time.CopyFrom(codec.timestamp(record.start_time))
    info.execution_time.CopyFrom(codec.timestamp(record.execution_time))
    if record.close_time is not None:
        info.close_time.CopyFrom(codec.timestamp(record.close_time))
        info.execution_duration.FromTimedelta(record.close_time - record.execution_time)
    return info
