"""Administrators' view over every user's workspaces."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ...models import KeptVolume, WorkspacePage, WorkspaceStatus
from ...naming import USER_ID_PATTERN
from ..deps import AdminIdentity, ServiceDep

router = APIRouter(tags=["admin"])


@router.get("/workspaces", response_model=WorkspacePage, operation_id="listAllWorkspaces")
async def list_all_workspaces(
    admin: AdminIdentity,
    service: ServiceDep,
    user_id: Annotated[str | None, Query(pattern=USER_ID_PATTERN, max_length=128)] = None,
    status: WorkspaceStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> WorkspacePage:
    return await service.list_all(user_id, status, limit, offset)


@router.get("/kept-volumes", response_model=list[KeptVolume], operation_id="listAllKeptVolumes")
async def list_all_kept_volumes(
    admin: AdminIdentity,
    service: ServiceDep,
    user_id: Annotated[str | None, Query(pattern=USER_ID_PATTERN, max_length=128)] = None,
) -> list[KeptVolume]:
    """Every user's data kept from deleted workspaces (or one user's)."""
    return await service.kept_volumes(user_id)
