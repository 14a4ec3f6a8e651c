"""Templates: administrators define them, users create workspaces from them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, Field

from ...models import Workspace, WorkspaceConfigOptions
from ...templates import TEMPLATE_NAME, Template, TemplateInput
from ..deps import (
    AdminIdentity,
    BackendDep,
    CurrentIdentity,
    RuntimeDep,
    ServiceDep,
    SettingsDep,
    UserId,
    WorkspaceId,
)
from .system import config_options

router = APIRouter(tags=["templates"])

Name = Annotated[str, Path(pattern=TEMPLATE_NAME, description="A template's name.")]


class TemplateView(Template):
    config: WorkspaceConfigOptions = Field(
        description="What a UI may offer for a workspace of this template, as /config does."
    )


class TemplateUse(BaseModel):
    workspace_id: str
    owner: str
    display_name: str
    version: str | None
    current: bool = Field(description="On the template's latest version.")


@router.get("/templates", response_model=list[TemplateView], operation_id="listTemplates")
async def list_templates(
    runtime: RuntimeDep, settings: SettingsDep, backend: BackendDep, identity: CurrentIdentity
) -> list[TemplateView]:
    """Every template (deprecated ones too: their workspaces still follow them)."""
    return [
        TemplateView(
            **t.model_dump(), config=config_options(t.rules(settings), backend, identity.is_admin)
        )
        for t in await runtime.templates.all()
    ]


@router.put("/templates/{name}", response_model=Template, operation_id="putTemplate")
async def put_template(
    name: Name, body: TemplateInput, admin: AdminIdentity, runtime: RuntimeDep
) -> Template:
    """Define or change a template (administrators). Its workspaces then see that a newer
    version is available."""
    return await runtime.templates.put(name, body)


@router.delete(
    "/templates/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    operation_id="deleteTemplate",
)
async def delete_template(name: Name, admin: AdminIdentity, runtime: RuntimeDep) -> Response:
    """Remove a template (administrators); its workspaces keep their settings. To keep it for
    them but make no new ones, set `deprecated` instead."""
    await runtime.templates.delete(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/templates/{name}/workspaces",
    response_model=list[TemplateUse],
    operation_id="listTemplateWorkspaces",
)
async def template_workspaces(
    name: Name, admin: AdminIdentity, runtime: RuntimeDep, service: ServiceDep
) -> list[TemplateUse]:
    """Who is on which version of the template (administrators)."""
    template = await runtime.templates.get(name)
    latest = template.version if template else None
    return [
        TemplateUse(
            workspace_id=w.id,
            owner=w.user_id,
            display_name=w.display_name,
            version=w.template_version,
            current=w.template_version == latest,
        )
        for w in (await service.list_all(None, None, 100_000, 0)).items
        if w.template == name
    ]


@router.post(
    "/users/{user_id}/workspace/{workspace_id}:apply-template",
    response_model=Workspace,
    operation_id="applyTemplate",
)
async def apply_template(
    user_id: UserId, workspace_id: WorkspaceId, service: ServiceDep
) -> Workspace:
    """Bring the workspace to its template's latest version (a changed image or environment
    restarts it; /workspace is kept)."""
    return await service.apply_template(user_id, workspace_id)
