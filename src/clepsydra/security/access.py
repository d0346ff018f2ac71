"""Which RPC needs which role, and where: the one table the authorizers read.

It is derived from the services' descriptors once rather than written out per RPC (there
are 135 of them, and each new API release adds some). Where an RPC acts:

- *public*: `GetSystemInfo` and `GetClusterInfo`, which clients call before anything else
  and which tell nothing secret (gRPC health checks are not in these services at all);
- *namespace*: the request names a namespace (it has a `namespace` field), and the caller
  needs a role on that namespace (or the same role system-wide);
- *cluster*: the request names none (`ListNamespaces`, the operator service's clusters
  and Nexus endpoints), or it creates one (`RegisterNamespace`): a system-wide role.

What it needs, each level granting the ones below it: `read` lists, describes, counts,
queries and reads history; `worker` also polls and answers tasks; `write` also starts,
signals, updates, cancels, terminates, resets and deletes; `admin` also manages the
namespace, its search attributes and its schedules. The reference server's table
(`common/api/metadata.go`) agrees on reads, namespace administration and cluster
operations; it files polls and task answers under `write`, with no level of their own,
and the writes of schedules under `write` rather than `admin`.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from temporalio.api.operatorservice.v1 import service_pb2 as operator_service_pb2
from temporalio.api.workflowservice.v1 import service_pb2 as workflow_service_pb2

WORKFLOW_SERVICE = workflow_service_pb2.DESCRIPTOR.services_by_name["WorkflowService"]
OPERATOR_SERVICE = operator_service_pb2.DESCRIPTOR.services_by_name["OperatorService"]


class Role(enum.IntEnum):
    """A caller's role on a namespace (or system-wide); each grants those below it."""

    NONE = 0
    READ = 1
    WORKER = 2
    WRITE = 3
    ADMIN = 4


class Scope(enum.Enum):
    PUBLIC = "public"
    NAMESPACE = "namespace"
    CLUSTER = "cluster"


@dataclass(frozen=True)
class Access:
    scope: Scope
    role: Role


PUBLIC = {"GetSystemInfo", "GetClusterInfo"}
# Named a namespace, but acts on the cluster: the namespace does not exist yet.
CLUSTER_WIDE = {"RegisterNamespace"}
ADMIN = {
    "RegisterNamespace", "UpdateNamespace", "DeprecateNamespace", "DeleteNamespace",
    "AddSearchAttributes", "RemoveSearchAttributes",
    "CreateSchedule", "UpdateSchedule", "PatchSchedule", "DeleteSchedule",
}  # fmt: skip
# What a worker does: poll task queues, answer the tasks, heartbeat, come and go.
WORKER = re.compile(
    r"Poll\w*TaskQueue|Respond\w+|RecordActivityTaskHeartbeat\w*|RecordWorkerHeartbeat"
    r"|ShutdownWorker|ResetStickyTaskQueue"
)
READ = re.compile(r"(List|Describe|Count|Get|Query|Scan|Poll|Fetch|Validate)[A-Z]\w*")


def access_of(method: MethodDescriptor) -> Access:
    """What calling `method` takes, from its name, its service and its request's fields."""
    name = method.name
    if name in PUBLIC:
        return Access(Scope.PUBLIC, Role.NONE)
    names_namespace = "namespace" in method.input_type.fields_by_name
    scope = Scope.NAMESPACE if names_namespace and name not in CLUSTER_WIDE else Scope.CLUSTER
    operator = method.containing_service.full_name == OPERATOR_SERVICE.full_name
    if name in ADMIN or (operator and scope is Scope.CLUSTER):
        return Access(scope, Role.ADMIN)
    if WORKER.fullmatch(name):
        return Access(scope, Role.WORKER)
    if READ.fullmatch(name):
        return Access(scope, Role.READ)
    return Access(scope, Role.WRITE)


def access_table(*services: ServiceDescriptor) -> dict[str, Access]:
    """RPC name → what it takes, for every RPC of the services (their names do not clash)."""
    table: dict[str, Access] = {}
    for service in services:
        for method in service.methods:
            assert method.name not in table, f"{method.name} is in two services"
            table[method.name] = access_of(method)
    return table


# Every RPC Clepsydra serves, or may serve one day, by name.
ACCESS = access_table(WORKFLOW_SERVICE, OPERATOR_SERVICE)
