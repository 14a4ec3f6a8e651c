"""The audit log: administrators page through all of it; a user reads what concerns their own
workspaces (and tokens). Both as JSON pages, newest first, or as CSV, oldest first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from ...audit import AuditFilter, AuditPage
from ...naming import USER_ID_PATTERN, WORKSPACE_ID_PATTERN
from ..deps import AdminIdentity, CurrentIdentity, RuntimeDep, UserId
from .csv_download import csv_download

router = APIRouter(tags=["audit"])

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


def entry_filter(
    workspace_id: Annotated[str | None, Query(pattern=WORKSPACE_ID_PATTERN)] = None,
    action: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z:-]+$")] = None,
    result: Literal["ok", "failed"] | None = None,
    since: Annotated[datetime | None, Query(description="From this moment on.")] = None,
    until: Annotated[datetime | None, Query(description="Before this moment.")] = None,
) -> AuditFilter:
    return AuditFilter(
        workspace_id=workspace_id,
        action=action,
        result=result,
        since=in_utc(since),
        until=in_utc(until),
    )


def in_utc(moment: datetime | None) -> datetime | None:
    """Entries are kept in UTC (SQLite keeps no zone): a moment without one is taken as UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def admin_filter(
    admin: AdminIdentity,
    common: Annotated[AuditFilter, Depends(entry_filter)],
    actor: Annotated[
        str | None, Query(pattern=USER_ID_PATTERN, max_length=128, description="Who acted.")
    ] = None,
    owner: Annotated[
        str | None,
        Query(pattern=USER_ID_PATTERN, max_length=128, description="Whose workspace."),
    ] = None,
) -> AuditFilter:
    return AuditFilter(**{**common.__dict__, "actor": actor, "owner": owner})


def own_filter(
    user_id: UserId, common: Annotated[AuditFilter, Depends(entry_filter)]
) -> AuditFilter:
    return AuditFilter(**{**common.__dict__, "owner": user_id})


AdminFilter = Annotated[AuditFilter, Depends(admin_filter)]
OwnFilter = Annotated[AuditFilter, Depends(own_filter)]


@router.get("/audit", response_model=AuditPage, operation_id="listAudit")
async def list_audit(
    where: AdminFilter, runtime: RuntimeDep, limit: Limit = 50, offset: Offset = 0
) -> AuditPage:
    await runtime.audit.flush_quietly()  # (what was just done is in it)
    return await anyio.to_thread.run_sync(runtime.audit.page, where, limit, offset)


@router.get(
    "/audit.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
    operation_id="exportAudit",
)
async def export_audit(where: AdminFilter, runtime: RuntimeDep) -> StreamingResponse:
    await runtime.audit.flush_quietly()
    return csv_download(runtime.audit.csv_lines(where), "audit.csv")


@router.get("/users/{user_id}/audit", response_model=AuditPage, operation_id="listOwnAudit")
async def list_own_audit(
    where: OwnFilter,
    identity: CurrentIdentity,
    runtime: RuntimeDep,
    limit: Limit = 50,
    offset: Offset = 0,
) -> AuditPage:
    """What was done to the user's workspaces (and tokens), by anyone. Where others acted, the
    address they acted from is theirs to keep and not shown (administrators see it)."""
    await runtime.audit.flush_quietly()
    page = await anyio.to_thread.run_sync(runtime.audit.page, where, limit, offset)
    if not identity.is_admin:
        for entry in page.items:
            if entry.actor != identity.user_id:
                entry.address = None
    return page
