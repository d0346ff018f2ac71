"""The command-line options of TLS and authorization, shared by `server start-dev` and
`server start`: each has its `CLEPSYDRA_*` variable and, with `start --config`, its TOML key.

The files they name are read before the server starts, so that a wrong path, a key that
does not match its certificate or a key set with no usable key stops the command with a
message rather than a server that refuses everyone.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable
from typing import Any

import click

from clepsydra.security import SecurityConfig, ServerTls, TlsFiles, guard_of
from clepsydra.security.claims import DEFAULT_PERMISSIONS_CLAIM
from clepsydra.security.keys import KeySetError

FILE = click.Path(exists=True, dir_okay=False)
OPTIONS = [
    click.option(
        "--tls-cert-file",
        type=FILE,
        envvar="CLEPSYDRA_TLS_CERT_FILE",
        show_envvar=True,
        help="Serve gRPC, the HTTP API and the web UI over TLS with this certificate (PEM; "
        "reloaded when it changes).",
    ),
    click.option(
        "--tls-key-file",
        type=FILE,
        envvar="CLEPSYDRA_TLS_KEY_FILE",
        show_envvar=True,
        help="The private key of --tls-cert-file (PEM).",
    ),
    click.option(
        "--tls-client-ca-file",
        type=FILE,
        envvar="CLEPSYDRA_TLS_CLIENT_CA_FILE",
        show_envvar=True,
        help="Mutual TLS: require client certificates signed by this CA (PEM).",
    ),
    click.option(
        "--auth-jwks-file",
        type=FILE,
        envvar="CLEPSYDRA_AUTH_JWKS_FILE",
        show_envvar=True,
        help="Require `authorization: Bearer <JWT>` signed (RS256 or ES256) by a key of this JSON "
        "Web Key Set (reloaded when it changes).",
    ),
    click.option(
        "--auth-jwks-url",
        envvar="CLEPSYDRA_AUTH_JWKS_URL",
        show_envvar=True,
        help="As --auth-jwks-file, the key set fetched from this URL (cached five minutes).",
    ),
    click.option(
        "--auth-permissions-claim",
        default=DEFAULT_PERMISSIONS_CLAIM,
        show_default=True,
        envvar="CLEPSYDRA_AUTH_PERMISSIONS_CLAIM",
        show_envvar=True,
        help='The token claim that lists "<namespace>:<role>" permissions.',
    ),
    click.option(
        "--authorizer",
        envvar="CLEPSYDRA_AUTHORIZER",
        show_envvar=True,
        metavar="MODULE:CALLABLE",
        help="Decide who may call what with this function of (claims, rpc, namespace) instead of "
        "the default rules (see docs/security.md).",
    ),
]
NAMES = (
    "tls_cert_file",
    "tls_key_file",
    "tls_client_ca_file",
    "auth_jwks_file",
    "auth_jwks_url",
    "auth_permissions_claim",
    "authorizer",
)


def security_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options to a click command, which receives them as one `security` argument."""

    @functools.wraps(command)
    def with_security(**kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in NAMES}
        return command(security=security_config(**values), **kwargs)

    for option in reversed(OPTIONS):
        with_security = option(with_security)
    return with_security


def security_config(
    tls_cert_file: str | None,
    tls_key_file: str | None,
    tls_client_ca_file: str | None,
    auth_jwks_file: str | None,
    auth_jwks_url: str | None,
    auth_permissions_claim: str,
    authorizer: str | None,
) -> SecurityConfig:
    if bool(tls_cert_file) != bool(tls_key_file):
        raise click.UsageError("--tls-cert-file and --tls-key-file go together")
    if tls_client_ca_file and not tls_cert_file:
        raise click.UsageError("--tls-client-ca-file needs --tls-cert-file and --tls-key-file")
    tls = None
    if tls_cert_file and tls_key_file:
        tls = TlsFiles(tls_cert_file, tls_key_file, tls_client_ca_file)
        try:
            ServerTls(tls)
        except (OSError, ssl.SSLError, ValueError) as error:
            raise click.BadParameter(f"{error}", param_hint="--tls-cert-file/--tls-key-file") from None
    config = SecurityConfig(tls, auth_jwks_file, auth_jwks_url, auth_permissions_claim, authorizer)
    try:
        guard_of(config)
    except KeySetError as error:
        raise click.BadParameter(str(error), param_hint="--auth-jwks-file") from None
    except (ImportError, AttributeError, ValueError) as error:
        raise click.BadParameter(str(error), param_hint="--authorizer") from None
    return config
