"""`/users/{user_id}/workspace...`: the paths of the original manager, kept for ML Lab's links."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import PlainTextResponse

from ...auth.workspace_sessions import HANDOFF_PATH
from ...errors import Conflict
from ...models import (
    Workspace,
    WorkspaceInput,
    WorkspaceOpening,
    WorkspaceStats,
    WorkspaceStatus,
    WorkspaceUpdate,
)
from ..audit_trail import note
from ..deps import (
    BackendDep,
    CurrentIdentity,
    OpenerOf,
    OperatorOf,
    ServiceDep,
    SettingsDep,
    UserId,
    WorkspaceId,
    WorkspaceSessionsDep,
)
from ..origins import manager_origin, workspace_origin

router = APIRouter(prefix="/users/{user_id}/workspace", tags=["workspaces"])

Wait = Annotated[
    bool,
    Query(description="Answer only once the workspace is running, stopped or failed."),
]


@router.get("", response_model=list[Workspace], operation_id="listWorkspaces")
async def list_workspaces(user_id: UserId, service: ServiceDep) -> list[Workspace]:
    return await service.list_workspaces(user_id)


@router.post(
    "",
    response_model=Workspace,
    status_code=status.HTTP_201_CREATED,
    operation_id="createWorkspace",
)
async def create_workspace(
    user_id: UserId, body: WorkspaceInput, request: Request, service: ServiceDep, wait: Wait = False
) -> Workspace:
    created = await service.create(user_id, body, wait)
    note(request, workspace_id=created.id, detail=f"'{created.display_name}'")
    return created


@router.get("/{workspace_id}", response_model=Workspace, operation_id="getWorkspace")
async def get_workspace(
    user_id: OpenerOf, workspace_id: WorkspaceId, service: ServiceDep
) -> Workspace:
    return await service.get(user_id, workspace_id)


@router.patch("/{workspace_id}", response_model=Workspace, operation_id="updateWorkspace")
async def update_workspace(
    user_id: UserId, workspace_id: WorkspaceId, body: WorkspaceUpdate, service: ServiceDep
) -> Workspace:
    return await service.update(user_id, workspace_id, body)


@router.post("/{workspace_id}:start", response_model=Workspace, operation_id="startWorkspace")
async def start_workspace(
    user_id: OperatorOf, workspace_id: WorkspaceId, service: ServiceDep, wait: Wait = False
) -> Workspace:
    return await service.start(user_id, workspace_id, wait)


@router.post("/{workspace_id}:stop", response_model=Workspace, operation_id="stopWorkspace")
async def stop_workspace(
    user_id: OperatorOf, workspace_id: WorkspaceId, service: ServiceDep
) -> Workspace:
    return await service.stop(user_id, workspace_id)


@router.post("/{workspace_id}:restart", response_model=Workspace, operation_id="restartWorkspace")
async def restart_workspace(
    user_id: OperatorOf, workspace_id: WorkspaceId, service: ServiceDep, wait: Wait = False
) -> Workspace:
    return await service.restart(user_id, workspace_id, wait)


@router.post("/{workspace_id}:open", response_model=WorkspaceOpening, operation_id="openWorkspace")
async def open_workspace(
    user_id: OpenerOf,
    workspace_id: WorkspaceId,
    service: ServiceDep,
    identity: CurrentIdentity,
    backend: BackendDep,
    settings: SettingsDep,
    sessions: WorkspaceSessionsDep,
    request: Request,
) -> WorkspaceOpening:
    """The address that opens a running workspace in a browser.

    On this manager's proxy each workspace has an origin of its own: the address carries a
    code that works once, for a minute, and that origin exchanges it for a cookie of its own.
    Workspaces of the ML Lab backend are opened on ML Lab's proxy (their `access_url`)."""
    workspace = await service.get(user_id, workspace_id)
    if workspace.status is not WorkspaceStatus.RUNNING or not workspace.access_url:
        raise Conflict(
            f"The workspace is {workspace.status.value}, not running: start it, and open it "
            "once it runs."
        )
    if not backend.proxied_by_manager or settings.unsafe_workspaces_on_manager_origin:
        return WorkspaceOpening(url=workspace.access_url)
    code = sessions.code(
        workspace_id, identity.user_id, identity.token, manager_origin(request, settings) or ""
    )
    origin = workspace_origin(request, settings, workspace_id)
    return WorkspaceOpening(url=f"{origin}{HANDOFF_PATH}?code={code}")


@router.delete(
    "/{workspace_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    operation_id="deleteWorkspace",
)
async def delete_workspace(
    user_id: UserId,
    workspace_id: WorkspaceId,
    service: ServiceDep,
    delete_volumes: Annotated[
        bool, Query(description="Also delete the data in /workspace. Kept by default.")
    ] = False,
) -> Response:
    await service.delete(user_id, workspace_id, delete_volumes)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{workspace_id}/logs",
    response_class=PlainTextResponse,
    operation_id="getWorkspaceLogs",
    responses={200: {"content": {"text/plain": {}}, "description": "The last lines printed."}},
)
async def workspace_logs(
    user_id: OperatorOf,
    workspace_id: WorkspaceId,
    service: ServiceDep,
    tail: Annotated[int, Query(ge=1, le=10000, description="How many lines.")] = 100,
) -> PlainTextResponse:
    return PlainTextResponse(await service.logs(user_id, workspace_id, tail))


@router.post(
    "/{workspace_id}:postpone", response_model=Workspace, operation_id="postponeWorkspaceStop"
)
async def postpone_workspace_stop(
    user_id: OperatorOf, workspace_id: WorkspaceId, service: ServiceDep
) -> Workspace:
    """Move the next stop of its schedule an hour later (not the administrator's latest)."""
    return await service.postpone(user_id, workspace_id)


@router.post("/{workspace_id}:extend", response_model=Workspace, operation_id="extendWorkspace")
async def extend_workspace(
    user_id: OperatorOf, workspace_id: WorkspaceId, service: ServiceDep
) -> Workspace:
    """Postpone idle stop by one idle timeout from now (activity, as far as idling goes)."""
    return await service.extend(user_id, workspace_id)


@router.get(
    "/{workspace_id}/stats", response_model=WorkspaceStats, operation_id="getWorkspaceStats"
)
async def workspace_stats(
    user_id: OpenerOf, workspace_id: WorkspaceId, service: ServiceDep
) -> WorkspaceStats:
    """The latest measurements of CPU, memory and disk use (taken in the background)."""
    return await service.stats(user_id, workspace_id)
