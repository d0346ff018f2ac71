"""Who may call what: the RPC table, the claim mapper, the default authorizer, token checks
and the guard, driven directly (no server, no network)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from clepsydra.security import ACCESS, Guard, Role, Scope
from clepsydra.security.access import OPERATOR_SERVICE, WORKFLOW_SERVICE
from clepsydra.security.authorizer import default_authorizer, load_authorizer
from clepsydra.security.caller import CALLER, forwarded_metadata
from clepsydra.security.claims import Claims, claims_of
from clepsydra.security.guard import PermissionDenied, Unauthenticated
from clepsydra.security.keys import KeySet, KeySetError, parse_key_set
from clepsydra.security.tokens import BadToken, TokenVerifier
from tests.security_support import Signer, write_key_set


def test_every_rpc_of_both_services_has_one_entry() -> None:
    names = [m.name for s in (WORKFLOW_SERVICE, OPERATOR_SERVICE) for m in s.methods]
    assert sorted(ACCESS) == sorted(names)


@pytest.mark.parametrize(
    ("rpc", "scope", "role"),
    [
        ("GetSystemInfo", Scope.PUBLIC, Role.NONE),
        ("GetClusterInfo", Scope.PUBLIC, Role.NONE),
        ("ListWorkflowExecutions", Scope.NAMESPACE, Role.READ),
        ("DescribeWorkflowExecution", Scope.NAMESPACE, Role.READ),
        ("CountWorkflowExecutions", Scope.NAMESPACE, Role.READ),
        ("QueryWorkflow", Scope.NAMESPACE, Role.READ),
        ("GetWorkflowExecutionHistory", Scope.NAMESPACE, Role.READ),
        ("PollWorkflowExecutionUpdate", Scope.NAMESPACE, Role.READ),
        ("ListSchedules", Scope.NAMESPACE, Role.READ),
        ("ListSearchAttributes", Scope.NAMESPACE, Role.READ),
        ("PollWorkflowTaskQueue", Scope.NAMESPACE, Role.WORKER),
        ("PollActivityTaskQueue", Scope.NAMESPACE, Role.WORKER),
        ("RespondWorkflowTaskCompleted", Scope.NAMESPACE, Role.WORKER),
        ("RespondQueryTaskCompleted", Scope.NAMESPACE, Role.WORKER),
        ("RecordActivityTaskHeartbeatById", Scope.NAMESPACE, Role.WORKER),
        ("ShutdownWorker", Scope.NAMESPACE, Role.WORKER),
        ("StartWorkflowExecution", Scope.NAMESPACE, Role.WRITE),
        ("SignalWithStartWorkflowExecution", Scope.NAMESPACE, Role.WRITE),
        ("UpdateWorkflowExecution", Scope.NAMESPACE, Role.WRITE),
        ("TerminateWorkflowExecution", Scope.NAMESPACE, Role.WRITE),
        ("ResetWorkflowExecution", Scope.NAMESPACE, Role.WRITE),
        ("DeleteWorkflowExecution", Scope.NAMESPACE, Role.WRITE),
        ("StartBatchOperation", Scope.NAMESPACE, Role.WRITE),
        ("UpdateNamespace", Scope.NAMESPACE, Role.ADMIN),
        ("DeleteNamespace", Scope.NAMESPACE, Role.ADMIN),
        ("AddSearchAttributes", Scope.NAMESPACE, Role.ADMIN),
        ("CreateSchedule", Scope.NAMESPACE, Role.ADMIN),
        ("PatchSchedule", Scope.NAMESPACE, Role.ADMIN),
        ("RegisterNamespace", Scope.CLUSTER, Role.ADMIN),
        ("ListNamespaces", Scope.CLUSTER, Role.READ),
        ("GetSearchAttributes", Scope.CLUSTER, Role.READ),
        ("ListClusters", Scope.CLUSTER, Role.ADMIN),
        ("CreateNexusEndpoint", Scope.CLUSTER, Role.ADMIN),
    ],
)
def test_what_each_rpc_takes(rpc: str, scope: Scope, role: Role) -> None:
    assert (ACCESS[rpc].scope, ACCESS[rpc].role) == (scope, role)


def test_claims_follow_the_default_claim_mapper() -> None:
    claims = claims_of(
        {
            "sub": "ada",
            "permissions": ["orders:read", "orders:write", "billing:WORKER", "temporal-system:read",
                            "nocolon", 7, "payments:owner"],
        }
    )  # fmt: skip
    assert claims.subject == "ada"
    assert claims.system == Role.READ
    assert dict(claims.namespaces) == {"orders": Role.WRITE, "billing": Role.WORKER}
    assert claims.role_in("orders") == Role.WRITE
    assert claims.role_in("elsewhere") == Role.READ  # the system-wide role
    assert claims_of({"sub": "x", "roles": ["a:admin"]}, "roles").namespaces == {"a": Role.ADMIN}
    with pytest.raises(ValueError, match="sub"):
        claims_of({"permissions": ["a:admin"]})


def _claims(*permissions: str) -> Claims:
    return claims_of({"sub": "t", "permissions": list(permissions)})


def test_the_default_authorizer_grants_each_role_what_is_below_it() -> None:
    def allowed(claims: Claims | None, rpc: str, namespace: str = "orders") -> bool:
        result = default_authorizer(claims, rpc, namespace)
        assert isinstance(result, bool)
        return result

    reader, worker = _claims("orders:read"), _claims("orders:worker")
    writer, admin = _claims("orders:write"), _claims("orders:admin")
    system = _claims("temporal-system:admin")
    assert allowed(None, "GetSystemInfo", "")
    assert not allowed(None, "ListWorkflowExecutions")
    assert allowed(reader, "ListWorkflowExecutions") and allowed(reader, "DescribeWorkflowExecution")
    assert not allowed(reader, "StartWorkflowExecution") and not allowed(reader, "PollWorkflowTaskQueue")
    assert allowed(worker, "PollActivityTaskQueue") and allowed(worker, "GetWorkflowExecutionHistory")
    assert not allowed(worker, "SignalWorkflowExecution")
    assert allowed(writer, "StartWorkflowExecution") and allowed(writer, "RespondWorkflowTaskCompleted")
    assert not allowed(writer, "UpdateNamespace") and not allowed(writer, "CreateSchedule")
    assert allowed(admin, "UpdateNamespace") and allowed(admin, "AddSearchAttributes")
    assert not allowed(admin, "StartWorkflowExecution", "billing")  # another namespace
    assert not allowed(admin, "RegisterNamespace", "new") and not allowed(admin, "ListNamespaces", "")
    assert allowed(system, "RegisterNamespace", "new") and allowed(system, "ListClusters", "")
    assert allowed(system, "TerminateWorkflowExecution", "anything")
    assert not allowed(system, "NoSuchRpc")


def test_an_authorizer_is_loaded_by_module_and_name() -> None:
    assert load_authorizer("clepsydra.security.authorizer:default_authorizer") is default_authorizer
    with pytest.raises(ValueError, match="module:callable"):
        load_authorizer("no-colon")
    with pytest.raises(ValueError, match="not callable"):
        load_authorizer("clepsydra.security.claims:SYSTEM_NAMESPACE")


# -- tokens -------------------------------------------------------------------------------


@pytest.fixture
def signers(tmp_path: Path) -> tuple[Signer, Signer, Path]:
    rsa_signer, ec_signer = Signer("rsa-1", "RS256"), Signer("ec-1", "ES256")
    return rsa_signer, ec_signer, write_key_set(tmp_path / "jwks.json", rsa_signer, ec_signer)


async def test_tokens_signed_by_a_key_of_the_set_verify(signers: tuple[Signer, Signer, Path]) -> None:
    rsa_signer, ec_signer, path = signers
    verifier = TokenVerifier(KeySet(str(path)))
    claims = await verifier.claims(f"Bearer {rsa_signer.token('orders:read')}")
    assert claims.namespaces == {"orders": Role.READ}
    claims = await verifier.claims(f"bearer {ec_signer.token('temporal-system:admin', subject='ops')}")
    assert (claims.subject, claims.system) == ("ops", Role.ADMIN)
    no_kid = jwt.encode({"sub": "x", "permissions": []}, ec_signer.key, algorithm="ES256")
    assert (await verifier.claims(f"Bearer {no_kid}")).subject == "x"  # tried against every key


async def test_bad_tokens_are_refused(signers: tuple[Signer, Signer, Path]) -> None:
    rsa_signer, _, path = signers
    verifier = TokenVerifier(KeySet(str(path)))
    stranger = Signer("rsa-1", "RS256")  # same key id, another key
    unsigned = jwt.encode({"sub": "x"}, None, algorithm="none")
    hmac = jwt.encode({"sub": "x"}, "secret-secret-secret-secret-secret", algorithm="HS256")
    for header in [
        None,
        "",
        rsa_signer.token("a:read"),  # no scheme
        f"Basic {rsa_signer.token('a:read')}",
        "Bearer not-a-jwt",
        f"Bearer {rsa_signer.token('a:read', ttl=-60)}",  # expired
        f"Bearer {rsa_signer.token('a:read', nbf=int(time.time()) + 600)}",  # not yet
        f"Bearer {stranger.token('a:read')}",
        f"Bearer {Signer('other', 'RS256').token('a:read')}",
        f"Bearer {unsigned}",
        f"Bearer {hmac}",
        f"Bearer {rsa_signer.token('a:read', subject=None)}",  # type: ignore[arg-type]
    ]:
        with pytest.raises(BadToken):
            await verifier.claims(header)


async def test_a_token_with_an_audience_verifies(signers: tuple[Signer, Signer, Path]) -> None:
    rsa_signer, _, path = signers
    token = rsa_signer.token("a:read", aud="temporal")
    assert (await TokenVerifier(KeySet(str(path))).claims(f"Bearer {token}")).subject == "tester"


async def test_a_key_removed_from_the_file_no_longer_verifies(
    signers: tuple[Signer, Signer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    rsa_signer, ec_signer, path = signers
    monkeypatch.setattr("clepsydra.security.keys.FILE_CHECK_SECONDS", 0.0)
    verifier = TokenVerifier(KeySet(str(path)))
    token = f"Bearer {rsa_signer.token('a:read')}"
    await verifier.claims(token)
    await verifier.claims(token)  # from the cache
    write_key_set(path, ec_signer)
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))
    with pytest.raises(BadToken):
        await verifier.claims(token)


def test_a_key_set_without_usable_keys_is_an_error() -> None:
    with pytest.raises(KeySetError):
        parse_key_set({"keys": []}, "x")
    with pytest.raises(KeySetError, match="no RS256 or ES256"):
        parse_key_set({"keys": [{"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"}]}, "x")


# -- the guard ----------------------------------------------------------------------------


class Context:
    def __init__(self, authorization: str | None = None) -> None:
        self.metadata = [("authorization", authorization)] if authorization else []

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return self.metadata


class Request:
    def __init__(self, namespace: str) -> None:
        self.namespace = namespace


async def test_the_guard_answers_with_the_codes_of_the_issue(signers: tuple[Signer, Signer, Path]) -> None:
    rsa_signer, _, path = signers
    seen: list[Any] = []

    async def handler(request: Any, context: Any) -> str:
        seen.append((CALLER.get(), forwarded_metadata()))
        return "ok"

    names = ["StartWorkflowExecution", "ListWorkflowExecutions", "GetSystemInfo"]
    table = Guard(TokenVerifier(KeySet(str(path)))).wrap(dict.fromkeys(names, handler))
    start, listing, info = (table[name] for name in names)
    reader = f"Bearer {rsa_signer.token('orders:read')}"
    assert await info(Request(""), Context()) == "ok"  # no token needed
    assert await listing(Request("orders"), Context(reader)) == "ok"
    caller, metadata = seen[-1]
    assert caller.claims.subject == "tester" and metadata == (("authorization", reader),)
    assert CALLER.get() is None  # reset after the call
    with pytest.raises(PermissionDenied) as denied:
        await start(Request("orders"), Context(reader))
    assert (denied.value.code_name, denied.value.message) == ("PERMISSION_DENIED", "Request unauthorized.")
    with pytest.raises(PermissionDenied):
        await listing(Request("billing"), Context(reader))
    for context in (Context(), Context(f"Bearer {Signer('x').token('orders:read')}")):
        with pytest.raises(Unauthenticated) as unauthenticated:
            await listing(Request("orders"), context)
        assert unauthenticated.value.code_name == "UNAUTHENTICATED"


async def test_a_custom_authorizer_decides_and_may_be_async() -> None:
    calls: list[tuple[Claims | None, str, str]] = []

    async def only_reads(claims: Claims | None, rpc: str, namespace: str) -> bool:
        calls.append((claims, rpc, namespace))
        await asyncio.sleep(0)
        return rpc.startswith("List")

    def broken(claims: Claims | None, rpc: str, namespace: str) -> bool:
        raise RuntimeError("bug")

    async def handler(request: Any, context: Any) -> str:
        return "ok"

    table = Guard(None, only_reads).wrap({"ListSchedules": handler, "CreateSchedule": handler})
    assert await table["ListSchedules"](Request("a"), Context()) == "ok"
    with pytest.raises(PermissionDenied):
        await table["CreateSchedule"](Request("a"), Context())
    assert calls == [(None, "ListSchedules", "a"), (None, "CreateSchedule", "a")]
    with pytest.raises(PermissionDenied):
        await Guard(None, broken).wrap({"ListSchedules": handler})["ListSchedules"](Request("a"), Context())


# -- what a browser can be made to send ---------------------------------------------------


def _scope(method: str = "POST", path: str = "/api/v1/x", **headers: str) -> dict[str, Any]:
    raw = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    return {"type": "http", "method": method, "path": path, "headers": raw}


def test_requests_another_site_can_make_a_browser_send_are_refused() -> None:
    from clepsydra.http.origin import refusal

    host = {"host": "127.0.0.1:7243"}
    json_type = {"content_type": "application/json"}
    assert refusal(_scope(**host, **json_type), loopback_only=True) is None
    assert refusal(_scope("GET", host="localhost:7243"), loopback_only=True) is None
    assert refusal(_scope("GET", host="[::1]:7243"), loopback_only=True) is None
    assert refusal(_scope("GET", host="rebound.example:7243"), loopback_only=True) is not None
    assert refusal(_scope("GET", host="server.internal:7243"), loopback_only=False) is None
    assert refusal(_scope(**host, content_type="text/plain"), loopback_only=True) is not None
    # The web UI's own pages post JSON as plain text; the browser says where they come from.
    ui_page = {"origin": "http://127.0.0.1:7243", "sec_fetch_site": "same-origin"}
    assert refusal(_scope(**host, content_type="text/plain", **ui_page), loopback_only=True) is None
    assert refusal(_scope(**host, content_type="text/plain", sec_fetch_site="same-origin"), True) is None
    assert refusal(_scope(**host, content_type="text/plain", sec_fetch_site="same-site"), True) is not None
    assert refusal(_scope(**host, content_type="multipart/form-data; boundary=x"), True) is not None
    form = "application/x-www-form-urlencoded"
    assert refusal(_scope(**host, content_type=form), loopback_only=True) is None  # curl -d
    assert refusal(_scope(**host, content_type=form, referer="https://a.example/"), True) is not None
    assert refusal(_scope(**host, **json_type, sec_fetch_site="cross-site"), True) is not None
    assert refusal(_scope(**host, **json_type, origin="https://a.example"), True) is not None
    assert refusal(_scope(**host, **json_type, origin="http://127.0.0.1:7243"), True) is None
    login = _scope(path="/login", **host, content_type=form, origin="http://127.0.0.1:7243")
    assert refusal(login, True, frozenset({"/login"})) is None


def test_the_ui_sends_the_token_cookie_as_the_authorization_header() -> None:
    from clepsydra.ui.login import with_token

    scope = _scope("GET", cookie="_csrf=abc; clepsydra-token=tok")
    assert (b"authorization", b"Bearer tok") in with_token(scope)["headers"]
    own = _scope("GET", cookie="clepsydra-token=tok", authorization="Bearer mine")
    assert with_token(own) == own
    assert with_token(_scope("GET")) == _scope("GET")
