"""`/users/{user_id}/kept-volumes`: the data of deleted workspaces that their users kept.

Deleting a workspace keeps its /workspace unless its user asks otherwise. That data still
takes disk (it counts toward the disk quota), so its user can find it here and remove it.
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from ...models import KeptVolume
from ..deps import ServiceDep, UserId, WorkspaceId

router = APIRouter(prefix="/users/{user_id}/kept-volumes", tags=["kept data"])


@router.get("", response_model=list[KeptVolume], operation_id="listKeptVolumes")
async def list_kept_volumes(user_id: UserId, service: ServiceDep) -> list[KeptVolume]:
    """The user's kept data, oldest first. (Workspaces of the ML Lab backend keep their data
    in ML Lab, which is not listed here.)"""
    return await service.kept_volumes(user_id)


@router.delete(
    "/{workspace_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    operation_id="deleteKeptVolume",
)
async def delete_kept_volume(
    user_id: UserId, workspace_id: WorkspaceId, service: ServiceDep
) -> Response:
    """Delete the kept data of a deleted workspace, for good."""
    await service.delete_kept_volume(user_id, workspace_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
