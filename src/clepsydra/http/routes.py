"""HTTP routes derived from the `google.api.http` annotations of the API's service descriptors.

Nothing here is written per RPC: at start-up every annotated method of a service becomes one
route per binding (the annotations themselves carry both `/namespaces/...` and
`/api/v1/namespaces/...` forms). Path templates follow google/api/http.proto: literal
segments, `*`, `**`, `{field.path}` and `{field.path=segments}`, and an optional `:verb`.

Matching works on the raw (still percent-encoded) path split at `/`, each segment decoded on
its own, so `a%2Fb` is one segment whose value is `a/b`: workflow ids may contain slashes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote

from google.api import annotations_pb2, http_pb2  # annotations_pb2 registers the extension
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

LITERAL, ONE, MANY = 0, 1, 2  # segment kinds, in order of precedence


class NoRoute(Exception):
    """No route has this path (404), or none for this method (`method_not_allowed`: 501)."""

    def __init__(self, method_not_allowed: bool) -> None:
        super().__init__("Method Not Allowed" if method_not_allowed else "Not Found")
        self.method_not_allowed = method_not_allowed


@dataclass(frozen=True)
class Segment:
    kind: int
    literal: str = ""


@dataclass(frozen=True)
class Variable:
    field_path: str
    start: int  # index of its first segment
    end: int  # one past its last segment; -1 when it ends with `**`


@dataclass(frozen=True)
class Template:
    segments: tuple[Segment, ...]
    variables: tuple[Variable, ...]
    verb: str = ""

    @property
    def precedence(self) -> tuple[int, ...]:
        return tuple(s.kind for s in self.segments)

    def match(self, parts: list[str], verb: str) -> dict[str, str] | None:
        if verb != self.verb:
            return None
        ends_many = bool(self.segments) and self.segments[-1].kind == MANY
        if len(parts) != len(self.segments) and not (ends_many and len(parts) >= len(self.segments) - 1):
            return None
        for i, segment in enumerate(self.segments):
            if segment.kind == MANY:
                break
            if segment.kind == LITERAL and parts[i] != segment.literal:
                return None
        values = {}
        for variable in self.variables:
            end = len(parts) if variable.end == -1 else variable.end
            values[variable.field_path] = "/".join(parts[variable.start : end])
        return values


def parse_template(path: str) -> Template:
    if not path.startswith("/"):
        raise ValueError(f"path template {path!r} does not start with /")
    body, verb = path[1:], ""
    last_slash = body.rfind("/")
    colon = body.rfind(":")
    if colon > last_slash and "}" not in body[colon:]:
        body, verb = body[:colon], body[colon + 1 :]
    segments: list[Segment] = []
    variables: list[Variable] = []
    for token in re.findall(r"\{[^}]*\}|[^/]+", body):
        if token.startswith("{"):
            name, _, pattern = token[1:-1].partition("=")
            inner = pattern.split("/") if pattern else ["*"]
            start = len(segments)
            segments.extend(_segment(part) for part in inner)
            end = -1 if inner[-1] == "**" else len(segments)
            variables.append(Variable(name, start, end))
        else:
            segments.append(_segment(token))
    return Template(tuple(segments), tuple(variables), verb)


def _segment(token: str) -> Segment:
    if token == "**":
        return Segment(MANY)
    if token == "*":
        return Segment(ONE)
    return Segment(LITERAL, token)


@dataclass(frozen=True)
class Route:
    http_method: str
    path: str  # the template as annotated
    template: Template
    service: ServiceDescriptor
    method: MethodDescriptor
    body: str  # "" (fields from the query) or "*" (the whole request from the body)
    bound_fields: frozenset[str] = field(default=frozenset())


def _bindings(rule: http_pb2.HttpRule) -> Iterable[tuple[str, str, str]]:
    for binding in (rule, *rule.additional_bindings):
        kind = binding.WhichOneof("pattern")
        if kind == "custom":
            yield binding.custom.kind.upper(), binding.custom.path, binding.body
        elif kind is not None:
            yield kind.upper(), getattr(binding, kind), binding.body


def routes_for(service: ServiceDescriptor) -> list[Route]:
    routes = []
    for method in service.methods:
        options = method.GetOptions()
        if not options.HasExtension(annotations_pb2.http):
            continue
        for http_method, path, body in _bindings(options.Extensions[annotations_pb2.http]):
            template = parse_template(path)
            bound = frozenset(v.field_path for v in template.variables)
            routes.append(Route(http_method, path, template, service, method, body, bound))
    return routes


def split_path(raw_path: str) -> tuple[list[str], str]:
    """Decoded segments of a raw path, and its `:verb` if any."""
    segments = raw_path.lstrip("/").split("/")
    verb = ""
    if segments and ":" in segments[-1]:
        segments[-1], verb = segments[-1].rsplit(":", 1)
    return [unquote(s) for s in segments], unquote(verb)


class Router:
    def __init__(self, routes: Iterable[Route]) -> None:
        # Most specific first: a literal segment beats a variable at the same position.
        self.routes = sorted(routes, key=lambda r: r.template.precedence)

    def match(self, http_method: str, raw_path: str) -> tuple[Route, dict[str, str]]:
        parts, verb = split_path(raw_path)
        attempts = [(parts, verb)]
        if verb:  # no route has a verb: a colon is more likely part of an id (`order:123`)
            attempts.append(([*parts[:-1], f"{parts[-1]}:{verb}"], ""))
        path_matched = False
        for segments, suffix in attempts:
            for route in self.routes:
                values = route.template.match(segments, suffix)
                if values is None:
                    continue
                if route.http_method == http_method:
                    return route, values
                path_matched = True
        raise NoRoute(method_not_allowed=path_matched)
