"""The gate of the workspace proxy: nginx asks here (`auth_request`) before every request to
`/workspaces/<id>/...`, including WebSocket upgrades.

Only the workspace's owner or an administrator gets through (204, with the address to forward
to in `X-Workspace-Upstream`); everyone else gets 401 or 403 and never reaches the container.
Where a workspace is, is remembered for a few seconds: a Jupyter page is dozens of requests
(and nginx remembers a yes for as long). When the workspace then does not answer, nginx asks
`/auth/workspace-unreachable`, which looks again: the workspace may have stopped or moved.
Every request let through counts as activity of that workspace.
"""

from __future__ import annotations

import re
import time

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse

from ...errors import Forbidden
from ...naming import WORKSPACE_ID_PATTERN
from ..deps import BackendDep, CurrentIdentity, SettingsDep

router = APIRouter(tags=["proxy"], include_in_schema=False)

LOCATION_SECONDS = 5.0
_WORKSPACE_ID = WORKSPACE_ID_PATTERN.strip("^$")


class Locations:
    """workspace id -> (owner, upstream) for a few seconds; shared by the process."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, tuple[str, str] | None]] = {}

    def get(self, workspace_id: str) -> tuple[bool, tuple[str, str] | None]:
        entry = self._entries.get(workspace_id)
        if entry and entry[0] > time.monotonic():
            return True, entry[1]
        return False, None

    def forget(self, workspace_id: str) -> None:
        self._entries.pop(workspace_id, None)

    def put(self, workspace_id: str, location: tuple[str, str] | None) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[workspace_id] = (time.monotonic() + LOCATION_SECONDS, location)


def workspace_in(uri: str, prefix: str) -> str | None:
    """The workspace id in a proxied URI, which may or may not still carry the prefix."""
    match = re.match(rf"^(?:{re.escape(prefix)})?/workspaces/({_WORKSPACE_ID})(?:[/?]|$)", uri)
    return match.group(1) if match else None


@router.get("/auth/workspace-access", status_code=status.HTTP_204_NO_CONTENT)
async def workspace_access(
    request: Request, identity: CurrentIdentity, backend: BackendDep, settings: SettingsDep
) -> Response:
    uri = request.headers.get("X-Original-URI", "")
    workspace_id = workspace_in(uri, settings.workspace_public_prefix)
    if workspace_id is None:
        raise Forbidden("This is not the address of a workspace.")
    locations: Locations = request.app.state.locations
    known, location = locations.get(workspace_id)
    if not known:
        location = await backend.locate(workspace_id)
        locations.put(workspace_id, location)
    # Unknown, stopped and other people's workspaces look the same from outside.
    if location is None or not identity.may_act_for(location[0]):
        raise Forbidden("This workspace is not running, or it is not yours.")
    request.app.state.activity.touch(workspace_id)
    return Response(
        status_code=status.HTTP_204_NO_CONTENT, headers={"X-Workspace-Upstream": location[1]}
    )


@router.get("/auth/workspace-unreachable")
async def workspace_unreachable(
    request: Request, identity: CurrentIdentity, backend: BackendDep, settings: SettingsDep
) -> Response:
    """Why a request that was let through found no workspace: it stopped, moved or went away
    since the yes was remembered (403 then, as for any stopped workspace), or it is running
    and not answering (502)."""
    workspace_id = workspace_in(
        request.headers.get("X-Original-URI", ""), settings.workspace_public_prefix
    )
    if workspace_id is None:
        raise Forbidden("This is not the address of a workspace.")
    location = await backend.locate(workspace_id)
    locations: Locations = request.app.state.locations
    locations.put(workspace_id, location)
    if location is None or not identity.may_act_for(location[0]):
        raise Forbidden("This workspace is not running, or it is not yours.")
    return JSONResponse(
        {
            "detail": "The workspace is running but does not answer: it may still be "
            "starting or be busy. Try again in a moment; its logs may say more."
        },
        status_code=status.HTTP_502_BAD_GATEWAY,
    )
