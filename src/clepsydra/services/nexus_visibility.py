"""List filters over standalone Nexus operations: the workflow list language with the
operation's names for its columns (`OperationId`, `Endpoint`, `Operation`), confined to
operation executions; and the list entry of one."""

from __future__ import annotations

import json

from temporalio.api.common.v1 import Memo, SearchAttributes
from temporalio.api.nexus.v1 import NexusOperationExecutionListInfo

from clepsydra.engine import codec
from clepsydra.engine import standalone_nexus as standalone
from clepsydra.services.divided_lists import DividedList
from clepsydra.services.standalone_nexus import OPERATION_STATUS
from clepsydra.store.base import VisibilityRecord

# engine/standalone_nexus.py keeps the endpoint where a workflow keeps its task queue, the
# operation where its type.
OPERATIONS = DividedList(
    standalone.DIVISION,
    {"OperationId": "WorkflowId", "Endpoint": "TaskQueue", "Operation": "WorkflowType"},
    "OperationId",
    standalone.PREFIX,
)
nexus_query = OPERATIONS.query


def list_info(record: VisibilityRecord) -> NexusOperationExecutionListInfo:
    search_attributes = SearchAttributes.FromString(record.search_attributes)
    del search_attributes.indexed_fields[standalone.DIVISION_ATTRIBUTE]
    service = Memo.FromString(record.memo).fields["service"].data
    info = NexusOperationExecutionListInfo(
        operation_id=record.key.workflow_id.removeprefix(standalone.PREFIX),
        run_id=record.key.run_id,
        endpoint=record.task_queue,
        service=json.loads(service) if service else "",
        operation=record.workflow_type,
        status=OPERATION_STATUS[record.status],
        search_attributes=search_attributes,
        state_transition_count=record.state_transition_count,
    )
    info.schedule_time.CopyFrom(codec.timestamp(record.start_time))
    if record.close_time is not None:
        info.close_time.CopyFrom(codec.timestamp(record.close_time))
        info.execution_duration.FromTimedelta(record.close_time - record.start_time)
    return info
