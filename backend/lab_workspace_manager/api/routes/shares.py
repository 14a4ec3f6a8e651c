"""Shares: an owner lets named users open (or also operate) one of their workspaces."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from ...models import Share, SharedWorkspace, ShareInput
from ...naming import USER_ID_PATTERN
from ..deps import AdminIdentity, CurrentIdentity, ServiceDep, UserId, WorkspaceId, user_path

router = APIRouter(tags=["shares"])

SHARES = "/users/{user_id}/workspace/{workspace_id}/shares"
Grantee = Annotated[
    str,
    Path(pattern=USER_ID_PATTERN, max_length=128, description="The user it is shared with."),
]


@router.get(SHARES, response_model=list[Share], operation_id="listShares")
async def list_shares(
    user_id: UserId, workspace_id: WorkspaceId, service: ServiceDep
) -> list[Share]:
    """Who the workspace is shared with (its owner and administrators may ask)."""
    return await service.shares_of(user_id, workspace_id)


@router.put(SHARES + "/{grantee_id}", response_model=Share, operation_id="shareWorkspace")
async def share_workspace(
    user_id: UserId,
    workspace_id: WorkspaceId,
    grantee_id: Grantee,
    body: ShareInput,
    service: ServiceDep,
) -> Share:
    """Share the workspace with `grantee_id`, or change what their share allows. Opening a
    workspace runs code in it as its owner, with the owner's files."""
    return await service.share(user_id, workspace_id, grantee_id, body.access)


@router.delete(
    SHARES + "/{grantee_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    operation_id="unshareWorkspace",
)
async def unshare_workspace(
    user_id: Annotated[str, Path(pattern=USER_ID_PATTERN, max_length=128)],
    workspace_id: WorkspaceId,
    grantee_id: Grantee,
    identity: CurrentIdentity,
    service: ServiceDep,
) -> Response:
    """Revoke a share (its owner, an administrator), or leave it (its grantee): the grantee's
    open pages and terminals lose the workspace within seconds."""
    if identity.user_id != grantee_id:
        await user_path(user_id, identity)  # refuses everyone but the owner and administrators
    await service.unshare(user_id, workspace_id, grantee_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/users/{user_id}/shared", response_model=list[SharedWorkspace], operation_id="listSharedWithMe"
)
async def shared_with_user(user_id: UserId, service: ServiceDep) -> list[SharedWorkspace]:
    """The workspaces other users shared with `user_id`, with their owners."""
    return await service.shared_with(user_id)


@router.get("/shares", response_model=list[Share], operation_id="listAllShares")
async def list_all_shares(admin: AdminIdentity, service: ServiceDep) -> list[Share]:
    """Every share of every workspace (administrators)."""
    return await service.all_shares()
