"""Typed dependencies shared by the routes: the runtime's parts, the service acting for the
caller, and who may do what. Routes take these (`SettingsDep`, `ServiceDep`, ...) and never
reach into `app.state` themselves.

Every dependency is `async def`: none does I/O, and FastAPI runs a plain `def` one in its
thread pool, a trip that would cost every request (the proxy's access check included)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Path, Request
from starlette.requests import HTTPConnection

from ..auth import Authenticator, Identity, find_token
from ..auth.workspace_sessions import WorkspaceSessions
from ..backends import WorkspaceBackend
from ..bridges import Sockets
from ..errors import Forbidden, Unauthenticated
from ..events import EventBus
from ..locations import Locations
from ..metrics import Metrics
from ..models import ShareAccess
from ..naming import USER_ID_PATTERN, WORKSPACE_ID_PATTERN
from ..policies.idle import ActivityLog
from ..runtime import Runtime
from ..service import WorkspaceService
from ..settings import Settings
from ..sharing import Shares
from .audit_trail import seen_caller
from .origins import client_address, sign_in_cookies

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# A browser sends a custom header cross-site only after a CORS preflight, which only the
# configured origins pass: requiring it defeats CSRF for cookie-authenticated requests.
CSRF_HEADER = "X-Requested-With"


async def get_runtime(connection: HTTPConnection) -> Runtime:
    """(HTTP requests and WebSockets alike.)"""
    runtime: Runtime = connection.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


async def get_backend(runtime: RuntimeDep) -> WorkspaceBackend:
    return runtime.backend


async def get_authenticator(runtime: RuntimeDep) -> Authenticator:
    return runtime.authenticator


async def get_events(runtime: RuntimeDep) -> EventBus:
    return runtime.events


async def get_locations(runtime: RuntimeDep) -> Locations:
    return runtime.locations


async def get_activity(runtime: RuntimeDep) -> ActivityLog:
    return runtime.activity


async def get_workspace_sessions(runtime: RuntimeDep) -> WorkspaceSessions:
    return runtime.workspace_sessions


async def get_sockets(runtime: RuntimeDep) -> Sockets:
    return runtime.sockets


async def get_shares(runtime: RuntimeDep) -> Shares:
    return runtime.shares


async def get_metrics(runtime: RuntimeDep) -> Metrics:
    return runtime.metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
BackendDep = Annotated[WorkspaceBackend, Depends(get_backend)]
AuthenticatorDep = Annotated[Authenticator, Depends(get_authenticator)]
EventsDep = Annotated[EventBus, Depends(get_events)]
LocationsDep = Annotated[Locations, Depends(get_locations)]
ActivityDep = Annotated[ActivityLog, Depends(get_activity)]
WorkspaceSessionsDep = Annotated[WorkspaceSessions, Depends(get_workspace_sessions)]
SocketsDep = Annotated[Sockets, Depends(get_sockets)]
SharesDep = Annotated[Shares, Depends(get_shares)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


def require_csrf_header(request: Request) -> None:
    if not request.headers.get(CSRF_HEADER):
        raise Forbidden(
            f"Requests signed in with the cookie must carry the header '{CSRF_HEADER}' "
            "(the web app sends it); scripts should send their token as 'Authorization: "
            "Bearer <token>' instead."
        )


async def current_identity(
    request: Request, settings: SettingsDep, authenticator: AuthenticatorDep
) -> Identity:
    found = find_token(request, sign_in_cookies(request, settings))
    if found is None:
        raise Unauthenticated(
            "Sign in first: send your token as 'Authorization: Bearer <token>' (or sign in "
            "in the web app)."
        )
    token, source = found
    if source == "cookie" and request.method not in SAFE_METHODS:
        require_csrf_header(request)
    client = client_address(request, settings)
    identity = await authenticator.identify(token, client)
    seen_caller(request, identity)
    return replace(identity, token=token)


CurrentIdentity = Annotated[Identity, Depends(current_identity)]


async def get_service(runtime: RuntimeDep, identity: CurrentIdentity) -> WorkspaceService:
    """The workspace service, acting for the caller (the ML Lab backend uses their token)."""
    return runtime.service_for(identity)


async def user_path(
    user_id: Annotated[
        str, Path(pattern=USER_ID_PATTERN, max_length=128, description="The workspace owner's id.")
    ],
    identity: CurrentIdentity,
) -> str:
    """The `{user_id}` of the path, once the caller is known to be that user or an admin."""
    if not identity.may_act_for(user_id):
        raise Forbidden(
            f"You are signed in as '{identity.user_id}' and can only manage your own "
            f"workspaces, not those of '{user_id}'."
        )
    return user_id


def _user_sharing(needed: ShareAccess) -> Callable[..., Awaitable[str]]:
    async def dependency(
        user_id: Annotated[
            str,
            Path(pattern=USER_ID_PATTERN, max_length=128, description="The workspace owner's id."),
        ],
        workspace_id: Annotated[str, Path(pattern=WORKSPACE_ID_PATTERN)],
        identity: CurrentIdentity,
        runtime: RuntimeDep,
    ) -> str:
        """The `{user_id}` of the path, once the caller is that user, an administrator, or a
        user the workspace is shared with for what is `needed`."""
        if await runtime.shares.allows(identity, user_id, workspace_id, needed):
            return user_id
        grant = await runtime.shares.grant(workspace_id, identity.user_id)
        if grant is not None and grant.owner == user_id:
            raise Forbidden(
                f"'{user_id}' shared this workspace with you to {grant.access.value} it, not "
                "to do this: ask them."
            )
        return await user_path(user_id, identity)  # (refuses, as for any other workspace)

    return dependency


async def admin_identity(identity: CurrentIdentity) -> Identity:
    if not identity.is_admin:
        raise Forbidden("Only administrators may do this.")
    return identity


ServiceDep = Annotated[WorkspaceService, Depends(get_service)]
UserId = Annotated[str, Depends(user_path)]
# The owner of `{workspace_id}`, for what a share of it allows too.
OpenerOf = Annotated[str, Depends(_user_sharing(ShareAccess.OPEN))]
OperatorOf = Annotated[str, Depends(_user_sharing(ShareAccess.OPERATE))]
AdminIdentity = Annotated[Identity, Depends(admin_identity)]


async def metrics_reader(
    request: Request, settings: SettingsDep, authenticator: AuthenticatorDep
) -> str:
    """Who reads the metrics: Prometheus with `METRICS_TOKEN` as its bearer token, or an
    administrator. The metrics token is compared first, and in constant time (of hashes, so
    not even its length shows): were it handed to the authenticator, ML Lab would be asked
    about it at every scrape, and count it against the scraper's address as a token it
    refused."""
    expected = settings.metrics_token
    if expected is not None:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            hashlib.sha256(given.strip().encode()).digest(),
            hashlib.sha256(expected.get_secret_value().encode()).digest(),
        ):
            return "metrics token"
    identity = await current_identity(request, settings, authenticator)
    return (await admin_identity(identity)).user_id


# Who reads the metrics ("metrics token", or the administrator's id).
MetricsReader = Annotated[str, Depends(metrics_reader)]
WorkspaceId = Annotated[str, Path(pattern=WORKSPACE_ID_PATTERN, description="A workspace id.")]
