"""The gate of the workspace proxy: nginx asks here (`auth_request`) before every request to a
workspace, including WebSocket upgrades, and hands over the codes that open one.

Each workspace has an origin of its own (`WORKSPACE_HOST`, e.g. `<id>.localhost:8080`); nginx
tells us which workspace a request is for (`X-Workspace-Id`, from the Host it routed on). There
the caller is known by the workspace's session cookie (see `auth.workspace_sessions`) or, for
scripts, by a token in a header; never by the manager's cookie or a token in the query. Under
`UNSAFE_WORKSPACES_ON_MANAGER_ORIGIN` the workspaces are paths of the manager's origin instead
(`/workspaces/<id>/`) and the caller is known as on the API.

Only the workspace's owner, an administrator or a user it is shared with (`sharing.py`) gets
through (204, with the address to forward to in `X-Workspace-Upstream` and who may frame it in
`X-Workspace-Frame-Ancestors`); everyone else gets 401 or 403 and never reaches the container.
Where a workspace is, is remembered for a few seconds: a Jupyter page is dozens of requests (and
nginx remembers a yes for as long). When the workspace then does not answer, nginx asks
`/auth/workspace-unreachable`, which looks again. Every request let through counts as activity
of that workspace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse
from starlette.requests import HTTPConnection

from ...auth import Identity
from ...auth.base import find_token, token_in_headers
from ...auth.workspace_sessions import COOKIE_NAME, SESSION_SECONDS
from ...errors import Forbidden, Unauthenticated
from ...models import ShareAccess
from ...naming import WORKSPACE_ID_PATTERN, workspace_path
from ...runtime import Runtime
from ...settings import Settings
from ..audit_trail import note, seen_caller
from ..deps import (
    ActivityDep,
    AuthenticatorDep,
    LocationsDep,
    RuntimeDep,
    SettingsDep,
    WorkspaceSessionsDep,
)
from ..origins import (
    HOST_ONLY_PREFIX,
    client_address,
    cookie_name,
    secure_cookies,
    sign_in_cookies,
)

router = APIRouter(tags=["proxy"], include_in_schema=False)

_WORKSPACE_ID = WORKSPACE_ID_PATTERN.strip("^$")
WORKSPACE_HEADER = "X-Workspace-Id"


def workspace_in(uri: str, prefix: str) -> str | None:
    """The workspace id in a proxied URI, which may or may not still carry the prefix."""
    match = re.match(rf"^(?:{re.escape(prefix)})?/workspaces/({_WORKSPACE_ID})(?:[/?]|$)", uri)
    return match.group(1) if match else None


def requested_workspace(request: HTTPConnection, settings: Settings) -> str:
    if settings.unsafe_workspaces_on_manager_origin:
        found = workspace_in(
            request.headers.get("X-Original-URI", ""), settings.workspace_public_prefix
        )
    else:
        found = request.headers.get(WORKSPACE_HEADER, "")
        found = found if re.fullmatch(WORKSPACE_ID_PATTERN, found) else None
    if found is None:
        raise Forbidden("This is not the address of a workspace.")
    return found


SESSION_COOKIES = (HOST_ONLY_PREFIX + COOKIE_NAME, COOKIE_NAME)


def session_values(request: HTTPConnection) -> list[str]:
    """Every workspace session cookie the request carries. Where browsers allow it, ours is
    `__Host-workspace_session`, which no other host can set; elsewhere another origin of the
    same site can set one for the whole domain ("cookie tossing"): only a session that opens
    this workspace counts."""
    values = []
    for part in request.headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name in SESSION_COOKIES and value:
            values.append(value)
    return values


@dataclass(frozen=True)
class Caller:
    identity: Identity  # with the token it was given, which is asked about again later
    frame_origin: str = ""  # the web app's origin, which may show the workspace in a frame
    expires: float | None = None  # when the session ends (Unix time); None: with the token


async def caller_of_workspace(
    request: HTTPConnection, runtime: Runtime, workspace_id: str
) -> Caller:
    """Who asks for the workspace."""
    settings, authenticator = runtime.settings, runtime.authenticator
    client = client_address(request, settings)
    if settings.unsafe_workspaces_on_manager_origin:
        found = find_token(request, sign_in_cookies(request, settings))
        if found is None:
            raise Unauthenticated("Sign in to open this workspace.")
        return Caller(replace(await authenticator.identify(found[0], client), token=found[0]))
    for value in session_values(request):
        grant = runtime.workspace_sessions.session(value, workspace_id)
        if grant is None:
            continue
        try:
            identity = await authenticator.identify(grant.token, client)
        except Unauthenticated as exc:
            raise Unauthenticated(
                "Your session for this workspace ended: the sign-in it came from is no longer "
                "valid. Sign in again and open the workspace from the web app."
            ) from exc
        if identity.user_id == grant.user_id:
            return Caller(replace(identity, token=grant.token), grant.frame_origin, grant.expires)
    # Scripts: a token in a header (never the query, never the manager's cookie).
    found = token_in_headers(request)
    if found is None:
        raise Unauthenticated(
            "Open this workspace from the web app (its 'Open' button signs you in here), or "
            "send a token as 'Authorization: Bearer <token>'."
        )
    token = found[0]
    return Caller(replace(await authenticator.identify(token, client), token=token))


@router.get("/auth/workspace-access", status_code=status.HTTP_204_NO_CONTENT)
async def workspace_access(
    request: Request, runtime: RuntimeDep, locations: LocationsDep, activity: ActivityDep
) -> Response:
    with runtime.metrics.access_check():  # (counted by result, and timed)
        workspace_id = requested_workspace(request, runtime.settings)
        caller = await caller_of_workspace(request, runtime, workspace_id)
        location = await locations.locate(workspace_id)
        # Unknown, stopped and other people's workspaces look the same from outside.
        if location is None or not await runtime.shares.allows(
            caller.identity, location[0], workspace_id, ShareAccess.OPEN
        ):
            raise Forbidden("This workspace is not running, or it is not yours.")
    activity.touch(workspace_id)
    return Response(
        status_code=status.HTTP_204_NO_CONTENT,
        headers={
            "X-Workspace-Upstream": location[1],
            "X-Workspace-Frame-Ancestors": caller.frame_origin,
        },
    )


@router.get("/auth/workspace-unreachable")
async def workspace_unreachable(
    request: Request, runtime: RuntimeDep, locations: LocationsDep
) -> Response:
    """Why a request that was let through found no workspace: it stopped, moved or went away
    since the yes was remembered (403 then, as for any stopped workspace), or it is running
    and not answering (502)."""
    workspace_id = requested_workspace(request, runtime.settings)
    caller = await caller_of_workspace(request, runtime, workspace_id)
    location = await locations.locate(workspace_id, fresh=True)
    if location is None or not await runtime.shares.allows(
        caller.identity, location[0], workspace_id, ShareAccess.OPEN
    ):
        raise Forbidden("This workspace is not running, or it is not yours.")
    return JSONResponse(
        {
            "detail": "The workspace is running but does not answer: it may still be "
            "starting or be busy. Try again in a moment; its logs may say more."
        },
        status_code=status.HTTP_502_BAD_GATEWAY,
    )


@router.get("/auth/workspace-handoff", operation_id="workspaceHandoff")
async def workspace_handoff(
    request: Request,
    settings: SettingsDep,
    sessions: WorkspaceSessionsDep,
    authenticator: AuthenticatorDep,
    code: str = Query("", max_length=8192),
) -> Response:
    """On a workspace's origin: a code from `:open` becomes that origin's session cookie, and
    the browser goes on to the workspace (the code leaves the address bar)."""
    if settings.unsafe_workspaces_on_manager_origin:
        raise Forbidden("Workspaces are served on the manager's own origin here: no hand-off.")
    workspace_id = requested_workspace(request, settings)
    grant, cookie = sessions.redeem(code, workspace_id)
    # The token it came from must still be valid now.
    client = client_address(request, settings)
    identity = await authenticator.identify(grant.token, client)
    if identity.user_id != grant.user_id:
        raise Unauthenticated("This link was made for another sign-in. Open the workspace again.")
    seen_caller(request, identity)  # (written to the audit log: a session was handed out)
    note(request, workspace_id=workspace_id)
    response = Response(
        status_code=status.HTTP_303_SEE_OTHER,
        headers={"Location": workspace_path(settings.workspace_public_prefix, workspace_id)},
    )
    response.set_cookie(
        cookie_name(COOKIE_NAME, request, settings),
        cookie,
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure or secure_cookies(request, settings),
    )
    return response
