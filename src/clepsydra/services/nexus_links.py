"""Links between a Nexus caller's history and its handler's, in both of their shapes: the
API's `Link.WorkflowEvent` (in histories and describe) and a Nexus link, a `temporal:` URL
(in Nexus requests and responses), as the reference and the SDKs write them:

    temporal:///namespaces/NS/workflows/WID/RID/history?eventID=5&eventType=NexusOperationScheduled&referenceType=EventReference
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from temporalio.api.common.v1 import Link
from temporalio.api.enums.v1 import EventType
from temporalio.api.nexus.v1 import Link as NexusLink

WORKFLOW_EVENT_TYPE = "temporal.api.common.v1.Link.WorkflowEvent"
_PATH = re.compile(r"^/namespaces/([^/]+)/workflows/([^/]+)/([^/]+)/history$")
_PREFIX = "EVENT_TYPE_"


def to_nexus(link: Link) -> NexusLink | None:
    if not link.HasField("workflow_event"):
        return None
    event = link.workflow_event
    path = "/namespaces/{}/workflows/{}/{}/history".format(
        *(quote(part, safe="") for part in (event.namespace, event.workflow_id, event.run_id))
    )
    if event.HasField("request_id_ref"):
        query = {
            "requestID": event.request_id_ref.request_id,
            "eventType": _camel(event.request_id_ref.event_type),
            "referenceType": "RequestIdReference",
        }
    else:
        query = {
            "eventID": str(event.event_ref.event_id),
            "eventType": _camel(event.event_ref.event_type),
            "referenceType": "EventReference",
        }
    return NexusLink(url=f"temporal://{path}?{urlencode(query)}", type=WORKFLOW_EVENT_TYPE)


def from_nexus(link: NexusLink) -> Link | None:
    """The workflow event a Nexus link names; None for links of other kinds or shapes."""
    if link.type != WORKFLOW_EVENT_TYPE:
        return None
    parts = urlsplit(link.url)
    match = _PATH.match(parts.path) if parts.scheme == "temporal" else None
    if match is None:
        return None
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    converted = Link()
    event = converted.workflow_event
    event.namespace, event.workflow_id, event.run_id = (unquote(part) for part in match.groups())
    event_type = _event_type(query.get("eventType", ""))
    try:
        if query.get("referenceType") == "RequestIdReference":
            event.request_id_ref.request_id = query.get("requestID", "")
            event.request_id_ref.event_type = event_type
        else:
            event.event_ref.event_id = int(query.get("eventID", "0"))
            event.event_ref.event_type = event_type
    except ValueError:
        return None
    return converted


def header_value(link: NexusLink) -> str:
    """The link as a `nexus-link` header carries it."""
    return f'<{link.url}>; type="{link.type}"'


def _camel(event_type: EventType.ValueType) -> str:
    name = EventType.Name(event_type).removeprefix(_PREFIX)
    return "".join(part.capitalize() for part in name.split("_"))


def _event_type(camel: str) -> EventType.ValueType:
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", camel).upper()
    try:
        return EventType.Value(_PREFIX + snake)
    except ValueError:
        return EventType.EVENT_TYPE_UNSPECIFIED
