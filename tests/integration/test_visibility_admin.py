"""Namespaces, search attributes, deleting runs and describing task queues, through the SDK's
service clients, as the reference answers them."""

from __future__ import annotations

import json
import uuid

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.common.v1 import Payload, SearchAttributes, WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import DescribeTaskQueueMode, IndexedValueType, NamespaceState
from temporalio.api.namespace.v1 import NamespaceConfig, NamespaceFilter, UpdateNamespaceInfo
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    DeleteNamespaceRequest,
    ListSearchAttributesRequest,
    RemoveSearchAttributesRequest,
)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DeleteWorkflowExecutionRequest,
    DeprecateNamespaceRequest,
    DescribeNamespaceRequest,
    DescribeTaskQueueRequest,
    GetSearchAttributesRequest,
    ListNamespacesRequest,
    ListTaskQueuePartitionsRequest,
    PollWorkflowTaskQueueRequest,
    RegisterNamespaceRequest,
    StartWorkflowExecutionRequest,
    UpdateNamespaceRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from tests.integration.visibility_support import ensure_search_attributes, eventually, list_ids

K = IndexedValueType


def hours(n: int) -> Duration:
    return Duration(seconds=n * 3600)


async def rpc_error(call: object) -> RPCError:
    """The error the call fails with (an AssertionError if it succeeds, so `eventually` retries)."""
    try:
        await call  # type: ignore[misc]
    except RPCError as error:
        return error
    raise AssertionError("the call succeeded")


async def new_namespace(client: Client, **kwargs: object) -> str:
    name = f"vis-ns-{uuid.uuid4().hex[:8]}"
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace=name, workflow_execution_retention_period=hours(48), **kwargs)  # type: ignore[arg-type]
    )
    return name


# -- namespaces ----------------------------------------------------------------------------------


async def test_register_describe_update_deprecate(client: Client) -> None:
    ws = client.workflow_service
    name = await new_namespace(client, description="first", owner_email="a@b.c", data={"k": "v"})
    described = await ws.describe_namespace(DescribeNamespaceRequest(namespace=name))
    assert (described.namespace_info.name, described.namespace_info.description) == (name, "first")
    assert described.namespace_info.state == NamespaceState.NAMESPACE_STATE_REGISTERED
    assert described.config.workflow_execution_retention_ttl.ToSeconds() == 48 * 3600
    assert described.namespace_info.limits.blob_size_limit_error == 2 * 1024 * 1024
    by_id = await ws.describe_namespace(DescribeNamespaceRequest(id=described.namespace_info.id))
    assert by_id.namespace_info.name == name

    updated = await ws.update_namespace(
        UpdateNamespaceRequest(
            namespace=name,
            update_info=UpdateNamespaceInfo(description="second", data={"k2": "v2"}),
            config=NamespaceConfig(workflow_execution_retention_ttl=hours(2)),
        )
    )
    assert updated.namespace_info.description == "second"
    assert dict(updated.namespace_info.data) == {"k": "v", "k2": "v2"}  # data is merged
    assert updated.namespace_info.owner_email == "a@b.c"
    assert updated.config.workflow_execution_retention_ttl.ToSeconds() == 7200

    await ws.deprecate_namespace(DeprecateNamespaceRequest(namespace=name))
    described = await ws.describe_namespace(DescribeNamespaceRequest(namespace=name))
    assert described.namespace_info.state == NamespaceState.NAMESPACE_STATE_DEPRECATED
    error = await rpc_error(
        ws.update_namespace(
            UpdateNamespaceRequest(
                namespace=name,
                update_info=UpdateNamespaceInfo(state=NamespaceState.NAMESPACE_STATE_REGISTERED),
            )
        )
    )
    assert (error.status, error.message) == (
        RPCStatusCode.INVALID_ARGUMENT,
        "Invalid namespace state update.",
    )


async def test_namespace_errors(client: Client) -> None:
    ws = client.workflow_service
    name = await new_namespace(client)
    error = await rpc_error(
        ws.register_namespace(
            RegisterNamespaceRequest(namespace=name, workflow_execution_retention_period=hours(2))
        )
    )
    assert (error.status, error.message) == (
        RPCStatusCode.ALREADY_EXISTS,
        f'Namespace "{name}" already exists',
    )
    for retention in (None, Duration(seconds=60)):
        error = await rpc_error(
            ws.register_namespace(
                RegisterNamespaceRequest(namespace=f"{name}-x", workflow_execution_retention_period=retention)
            )
        )
        assert (error.status, error.message) == (
            RPCStatusCode.INVALID_ARGUMENT,
            "A valid retention period is not set on request.",
        )
    error = await rpc_error(
        ws.update_namespace(
            UpdateNamespaceRequest(
                namespace=name, config=NamespaceConfig(workflow_execution_retention_ttl=Duration(seconds=60))
            )
        )
    )
    assert error.message == "A valid retention period is not set on request."
    error = await rpc_error(ws.update_namespace(UpdateNamespaceRequest(namespace="no-such-namespace")))
    assert (error.status, error.message) == (
        RPCStatusCode.NOT_FOUND,
        "Namespace no-such-namespace is not found.",
    )
    error = await rpc_error(ws.describe_namespace(DescribeNamespaceRequest()))
    assert (error.status, error.message) == (RPCStatusCode.INVALID_ARGUMENT, "Namespace not set on request.")


async def test_list_namespaces_pages(client: Client) -> None:
    await new_namespace(client)
    everything = await client.workflow_service.list_namespaces(ListNamespacesRequest())
    names, token = [], b""
    while True:
        page = await client.workflow_service.list_namespaces(
            ListNamespacesRequest(page_size=1, next_page_token=token)
        )
        names += [n.namespace_info.name for n in page.namespaces]
        token = page.next_page_token
        if not token:
            break
    assert sorted(names) == sorted(n.namespace_info.name for n in everything.namespaces)
    assert "default" in names


async def test_delete_namespace_renames_it_then_removes_it(client: Client) -> None:
    name = await new_namespace(client)
    other = await Client.connect(client.service_client.config.target_host, namespace=name)
    await other.start_workflow("Doomed", id="doomed", task_queue="nowhere")
    id_ = (
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=name))
    ).namespace_info.id

    deleted = await client.operator_service.delete_namespace(DeleteNamespaceRequest(namespace=name))
    assert deleted.deleted_namespace == f"{name}-deleted-{id_[:5]}"
    error = await rpc_error(
        client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=name))
    )
    assert (error.status, error.message) == (RPCStatusCode.NOT_FOUND, f"Namespace {name} is not found.")
    listed = await client.workflow_service.list_namespaces(ListNamespacesRequest())
    assert name not in [n.namespace_info.name for n in listed.namespaces]

    async def gone() -> None:
        everything = await client.workflow_service.list_namespaces(
            ListNamespacesRequest(namespace_filter=NamespaceFilter(include_deleted=True))
        )
        assert id_ not in [n.namespace_info.id for n in everything.namespaces]

    await eventually(gone, timeout=60)


async def test_delete_namespace_errors(client: Client) -> None:
    error = await rpc_error(
        client.operator_service.delete_namespace(DeleteNamespaceRequest(namespace="temporal-system"))
    )
    # The reference refuses (its system namespace); Clepsydra has none, so it is not found.
    assert error.status in (RPCStatusCode.FAILED_PRECONDITION, RPCStatusCode.NOT_FOUND)
    error = await rpc_error(
        client.operator_service.delete_namespace(DeleteNamespaceRequest(namespace="no-such"))
    )
    assert (error.status, error.message) == (RPCStatusCode.NOT_FOUND, "Namespace no-such is not found.")
    error = await rpc_error(client.operator_service.delete_namespace(DeleteNamespaceRequest()))
    assert (error.status, error.message) == (RPCStatusCode.INVALID_ARGUMENT, "Namespace not set on request.")


# -- search attributes ---------------------------------------------------------------------------


async def test_add_list_remove_search_attributes(client: Client) -> None:
    name = await new_namespace(client)
    op = client.operator_service
    await op.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=name,
            search_attributes={"Color": K.INDEXED_VALUE_TYPE_KEYWORD, "Size": K.INDEXED_VALUE_TYPE_INT},
        )
    )
    # Adding a name that exists is a no-op, whatever type is asked.
    await op.add_search_attributes(
        AddSearchAttributesRequest(namespace=name, search_attributes={"Color": K.INDEXED_VALUE_TYPE_TEXT})
    )
    listed = await op.list_search_attributes(ListSearchAttributesRequest(namespace=name))
    assert dict(listed.custom_attributes) == {
        "Color": K.INDEXED_VALUE_TYPE_KEYWORD,
        "Size": K.INDEXED_VALUE_TYPE_INT,
    }
    assert listed.system_attributes["WorkflowId"] == K.INDEXED_VALUE_TYPE_KEYWORD
    assert listed.system_attributes["TemporalChangeVersion"] == K.INDEXED_VALUE_TYPE_KEYWORD_LIST
    assert listed.system_attributes["ExecutionDuration"] == K.INDEXED_VALUE_TYPE_INT
    described = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=name))
    assert sorted(described.config.custom_search_attribute_aliases.values()) == ["Color", "Size"]

    await op.remove_search_attributes(
        RemoveSearchAttributesRequest(namespace=name, search_attributes=["Size"])
    )
    await op.remove_search_attributes(
        RemoveSearchAttributesRequest(namespace=name, search_attributes=["Nope"])
    )
    listed = await op.list_search_attributes(ListSearchAttributesRequest(namespace=name))
    assert dict(listed.custom_attributes) == {"Color": K.INDEXED_VALUE_TYPE_KEYWORD}
    keys = await client.workflow_service.get_search_attributes(GetSearchAttributesRequest())
    assert keys.keys["WorkflowType"] == K.INDEXED_VALUE_TYPE_KEYWORD and "Keyword01" in keys.keys


async def test_search_attribute_errors(client: Client) -> None:
    name = await new_namespace(client)
    op = client.operator_service

    async def add(attributes: dict[str, int], namespace: str = name) -> RPCError:
        return await rpc_error(
            op.add_search_attributes(
                AddSearchAttributesRequest(namespace=namespace, search_attributes=attributes)
            )
        )

    error = await add({"WorkflowId": K.INDEXED_VALUE_TYPE_KEYWORD})
    assert (error.status, error.message) == (
        RPCStatusCode.INVALID_ARGUMENT,
        "Search attribute WorkflowId is reserved by system.",
    )
    error = await add({f"T{i}": K.INDEXED_VALUE_TYPE_TEXT for i in range(4)})
    assert (
        error.message
        == "Unable to create search attributes: cannot have more than 3 search attribute of type Text."
    )
    error = await add({})
    assert error.message == "SearchAttributes are not set on request."
    error = await add({"X": K.INDEXED_VALUE_TYPE_INT}, namespace="")
    assert error.message == "Namespace is not set on request."
    error = await add({"X": K.INDEXED_VALUE_TYPE_INT}, namespace="no-such")
    assert (error.status, error.message) == (RPCStatusCode.NOT_FOUND, "Namespace no-such is not found.")
    error = await rpc_error(
        op.remove_search_attributes(
            RemoveSearchAttributesRequest(namespace=name, search_attributes=["WorkflowId"])
        )
    )
    assert error.message == "Unable to remove non-custom search attributes: WorkflowId."
    listed = await op.list_search_attributes(ListSearchAttributesRequest(namespace=name))
    assert dict(listed.custom_attributes) == {}  # the failed add added nothing


async def test_a_removed_attribute_is_no_longer_queryable(client: Client) -> None:
    name = await new_namespace(client)
    op = client.operator_service
    await op.add_search_attributes(
        AddSearchAttributesRequest(namespace=name, search_attributes={"Shade": K.INDEXED_VALUE_TYPE_KEYWORD})
    )
    other = await Client.connect(client.service_client.config.target_host, namespace=name)
    shade = SearchAttributeKey.for_keyword("Shade")
    await other.start_workflow(
        "Colored",
        id="colored",
        task_queue="nowhere",
        search_attributes=TypedSearchAttributes([SearchAttributePair(shade, "red")]),
    )
    assert await eventually(lambda: _ids_equal(other, "Shade = 'red'", ["colored"])) is None
    await op.remove_search_attributes(
        RemoveSearchAttributesRequest(namespace=name, search_attributes=["Shade"])
    )
    error = await rpc_error(other.count_workflows("Shade = 'red'"))
    assert (error.status, error.message) == (
        RPCStatusCode.INVALID_ARGUMENT,
        "invalid query: invalid search attribute: Shade",
    )


async def _ids_equal(client: Client, query: str, expected: list[str]) -> None:
    assert await list_ids(client, query) == expected


# -- deleting runs -------------------------------------------------------------------------------


async def test_delete_running_and_closed_runs(client: Client, task_queue: str) -> None:
    await ensure_search_attributes(client)
    ws = client.workflow_service
    running = await client.start_workflow("ToDelete", id=f"running-{task_queue}", task_queue=task_queue)
    closed = await client.start_workflow("ToDelete", id=f"closed-{task_queue}", task_queue=task_queue)
    await closed.terminate("finished")

    await ws.delete_workflow_execution(
        DeleteWorkflowExecutionRequest(
            namespace="default", workflow_execution=WorkflowExecution(workflow_id=running.id)
        )
    )

    async def running_gone() -> None:
        error = await rpc_error(client.get_workflow_handle(running.id).describe())
        assert (error.status, error.message) == (
            RPCStatusCode.NOT_FOUND,
            f"workflow not found for ID: {running.id}",
        )

    await eventually(running_gone)  # at once on Clepsydra, almost at once on the reference

    await ws.delete_workflow_execution(
        DeleteWorkflowExecutionRequest(
            namespace="default",
            workflow_execution=WorkflowExecution(workflow_id=closed.id, run_id=closed.result_run_id or ""),
        )
    )

    async def both_gone() -> None:
        assert await list_ids(client, f"TaskQueue = '{task_queue}'") == []
        await rpc_error(closed.describe())

    # Clepsydra deletes at once; the reference deletes closed runs some 30 s later.
    await eventually(both_gone, timeout=60)

    error = await rpc_error(
        ws.delete_workflow_execution(
            DeleteWorkflowExecutionRequest(
                namespace="default", workflow_execution=WorkflowExecution(workflow_id=running.id)
            )
        )
    )
    assert (error.status, error.message) == (
        RPCStatusCode.NOT_FOUND,
        f"workflow not found for ID: {running.id}",
    )
    error = await rpc_error(ws.delete_workflow_execution(DeleteWorkflowExecutionRequest(namespace="default")))
    assert (error.status, error.message) == (
        RPCStatusCode.INVALID_ARGUMENT,
        "Execution is not set on request.",
    )
    error = await rpc_error(
        ws.delete_workflow_execution(
            DeleteWorkflowExecutionRequest(
                namespace="default",
                workflow_execution=WorkflowExecution(workflow_id="x", run_id="not-a-uuid"),
            )
        )
    )
    assert (error.status, error.message) == (RPCStatusCode.INVALID_ARGUMENT, "Invalid RunId.")


async def test_the_id_is_free_again_after_delete(client: Client, task_queue: str) -> None:
    first = await client.start_workflow("Again", id=f"again-{task_queue}", task_queue=task_queue)
    await client.workflow_service.delete_workflow_execution(
        DeleteWorkflowExecutionRequest(
            namespace="default", workflow_execution=WorkflowExecution(workflow_id=first.id)
        )
    )
    second = await client.start_workflow("Again", id=first.id, task_queue=task_queue)
    assert second.result_run_id != first.result_run_id
    assert (await second.describe()).run_id == second.result_run_id


# -- task queues ---------------------------------------------------------------------------------


async def test_describe_task_queue_shows_pollers_and_backlog(client: Client, task_queue: str) -> None:
    ws = client.workflow_service
    await client.start_workflow("Queued", id=f"q1-{task_queue}", task_queue=task_queue)
    await client.start_workflow("Queued", id=f"q2-{task_queue}", task_queue=task_queue)
    await ws.poll_workflow_task_queue(
        PollWorkflowTaskQueueRequest(
            namespace="default", task_queue=TaskQueue(name=task_queue), identity="poller@test"
        )
    )
    legacy = await ws.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace="default", task_queue=TaskQueue(name=task_queue), report_stats=True
        )
    )
    assert [p.identity for p in legacy.pollers] == ["poller@test"]
    assert legacy.pollers[0].HasField("last_access_time") and legacy.pollers[0].rate_per_second == 100000
    assert legacy.versioning_info.current_version == "__unversioned__"

    async def one_waiting() -> None:
        enhanced = await ws.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace="default",
                task_queue=TaskQueue(name=task_queue),
                api_mode=DescribeTaskQueueMode.DESCRIBE_TASK_QUEUE_MODE_ENHANCED,
                report_pollers=True,
                report_stats=True,
            )
        )
        types = enhanced.versions_info[""].types_info
        assert [p.identity for p in types[1].pollers] == ["poller@test"]
        assert types[1].stats.approximate_backlog_count == 1
        assert types[2].stats.approximate_backlog_count == 0

    await eventually(one_waiting)
    partitions = await ws.list_task_queue_partitions(
        ListTaskQueuePartitionsRequest(namespace="default", task_queue=TaskQueue(name=task_queue))
    )
    assert partitions.workflow_task_queue_partitions[0].key == task_queue
    assert partitions.activity_task_queue_partitions[0].owner_host_name
    error = await rpc_error(ws.describe_task_queue(DescribeTaskQueueRequest(namespace="default")))
    assert (error.status, error.message) == (RPCStatusCode.INVALID_ARGUMENT, "taskQueue is not set")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("NotRegistered", "x", "Namespace default has no mapping defined for search attribute NotRegistered"),
        ("VisInt", "x", "invalid value for search attribute VisInt of type Int: x"),
        ("VisKeyword", ["a", "b"], "invalid value for search attribute VisKeyword of type Keyword: [a b]"),
        ("VisKeyword", "x" * 3000, "search attribute VisKeyword value size 3002 exceeds size limit 2048"),
        ("WorkflowId", "x", "WorkflowId attribute can't be set in SearchAttributes"),
    ],
)
async def test_start_checks_search_attributes(client: Client, name: str, value: object, message: str) -> None:
    await ensure_search_attributes(client)
    payload = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())
    error = await rpc_error(
        client.workflow_service.start_workflow_execution(
            StartWorkflowExecutionRequest(
                namespace="default",
                workflow_id=f"checked-{uuid.uuid4()}",
                workflow_type=WorkflowType(name="Checked"),
                task_queue=TaskQueue(name="nowhere"),
                request_id=str(uuid.uuid4()),
                search_attributes=SearchAttributes(indexed_fields={name: payload}),
            )
        )
    )
    assert (error.status, error.message) == (RPCStatusCode.INVALID_ARGUMENT, message)
