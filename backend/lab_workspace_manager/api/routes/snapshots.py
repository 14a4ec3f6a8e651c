"""Downloads of /workspace, snapshots, restores and clones (see `snapshots.py`).

Only the owner and administrators (`UserId`): a share, even one to operate the workspace,
gives no access to its files through the API.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from ...models import Workspace, WorkspaceInput
from ...naming import WORKSPACE_ID_PATTERN
from ...snapshots import Snapshot, SnapshotInput, Snapshots
from ..deps import (
    AdminIdentity,
    CurrentIdentity,
    RuntimeDep,
    ServiceDep,
    UserId,
    WorkspaceId,
)

router = APIRouter(tags=["snapshots"])


async def get_snapshots(
    service: ServiceDep, identity: CurrentIdentity, runtime: RuntimeDep
) -> Snapshots:
    return Snapshots(service, identity, runtime.copy_slots)


SnapshotsDep = Annotated[Snapshots, Depends(get_snapshots)]
SnapshotId = Annotated[str, Path(pattern=WORKSPACE_ID_PATTERN, description="A snapshot id.")]


@router.get(
    "/users/{user_id}/workspace/{workspace_id}/archive",
    response_class=StreamingResponse,
    operation_id="downloadWorkspace",
    responses={
        200: {
            "content": {"application/gzip": {}},
            "description": "/workspace as a .tar.gz, streamed. Cut off (no end of archive) if "
            "it grows past SNAPSHOT_MAX_SIZE while it is read.",
        }
    },
)
async def download_workspace(
    user_id: UserId, workspace_id: WorkspaceId, snapshots: SnapshotsDep
) -> StreamingResponse:
    name, stream = await snapshots.download(user_id, workspace_id)
    return StreamingResponse(
        stream,
        media_type="application/gzip",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            # (nginx would otherwise hold the stream back to buffer it on its disk)
            "X-Accel-Buffering": "no",
        },
    )


@router.get(
    "/users/{user_id}/snapshots", response_model=list[Snapshot], operation_id="listSnapshots"
)
async def list_snapshots(user_id: UserId, snapshots: SnapshotsDep) -> list[Snapshot]:
    """The user's snapshots (of all their workspaces, deleted ones' too), oldest first."""
    return await snapshots.list(user_id)


@router.post(
    "/users/{user_id}/workspace/{workspace_id}/snapshots",
    response_model=Snapshot,
    status_code=status.HTTP_201_CREATED,
    operation_id="takeSnapshot",
)
async def take_snapshot(
    user_id: UserId, workspace_id: WorkspaceId, body: SnapshotInput, snapshots: SnapshotsDep
) -> Snapshot:
    """Copy /workspace into a named snapshot (running or stopped); answers once it is made."""
    return await snapshots.take(user_id, workspace_id, body.name)


@router.delete(
    "/users/{user_id}/snapshots/{snapshot_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    operation_id="deleteSnapshot",
)
async def delete_snapshot(
    user_id: UserId, snapshot_id: SnapshotId, snapshots: SnapshotsDep
) -> Response:
    await snapshots.delete(user_id, snapshot_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/users/{user_id}/snapshots/{snapshot_id}:restore",
    response_model=Workspace,
    status_code=status.HTTP_201_CREATED,
    operation_id="restoreSnapshot",
)
async def restore_snapshot(
    user_id: UserId, snapshot_id: SnapshotId, body: WorkspaceInput, snapshots: SnapshotsDep
) -> Workspace:
    """A new workspace (with the settings of the body, as for a create) holding the
    snapshot's files."""
    return await snapshots.restore(user_id, snapshot_id, body)


@router.post(
    "/users/{user_id}/workspace/{workspace_id}:clone",
    response_model=Workspace,
    status_code=status.HTTP_201_CREATED,
    operation_id="cloneWorkspace",
)
async def clone_workspace(
    user_id: UserId, workspace_id: WorkspaceId, body: WorkspaceInput, snapshots: SnapshotsDep
) -> Workspace:
    """A new workspace (with the settings of the body) holding a copy of this one's files."""
    return await snapshots.clone(user_id, workspace_id, body)


@router.post(
    "/users/{user_id}/workspace:upload",
    response_model=Workspace,
    status_code=status.HTTP_201_CREATED,
    operation_id="uploadWorkspace",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A .tar or .tar.gz of the files for /workspace.",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def upload_workspace(
    user_id: UserId,
    request: Request,
    snapshots: SnapshotsDep,
    workspace: Annotated[
        str,
        Query(
            max_length=16384,
            description="The new workspace's settings, as the JSON body of a create.",
        ),
    ] = "{}",
) -> Workspace:
    """A new workspace holding the files of the uploaded archive, read as it arrives and
    checked member by member (422 naming the first member refused: an absolute path, '..',
    a link out of the tree, a device or fifo, too many files or bytes; nothing is left)."""
    try:
        settings = WorkspaceInput.model_validate_json(workspace)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("query", "workspace", *error["loc"])} for error in exc.errors()]
        ) from None
    length = request.headers.get("content-length", "")
    size = int(length) if length.isdigit() else None
    return await snapshots.upload(user_id, settings, request.stream(), size)


@router.get("/snapshots", response_model=list[Snapshot], operation_id="listAllSnapshots")
async def list_all_snapshots(_: AdminIdentity, snapshots: SnapshotsDep) -> list[Snapshot]:
    """Administrators: every user's snapshots."""
    return await snapshots.list(None)
