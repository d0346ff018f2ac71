"""The HTTP/JSON API: Temporal's gRPC services over HTTP, as the reference's grpc-gateway serves
them, routed from the services' own `google.api.http` annotations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from google.protobuf.descriptor import ServiceDescriptor

from clepsydra.http.api import HttpApi
from clepsydra.http.dispatch import Dispatcher, Handler
from clepsydra.http.routes import Router, routes_for


def build_api(
    services: Sequence[ServiceDescriptor], tables: Mapping[str, Mapping[str, Handler]], shorthand: bool
) -> HttpApi:
    """An ASGI app serving every annotated RPC of `services` with the gRPC server's handlers
    (`tables`: service full name → RPC name → handler)."""
    router = Router(route for service in services for route in routes_for(service))
    return HttpApi(router, Dispatcher(tables), shorthand=shorthand)


__all__ = ["HttpApi", "build_api"]
