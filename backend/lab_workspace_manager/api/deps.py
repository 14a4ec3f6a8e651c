"""Typed dependencies shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from ..naming import USER_ID_PATTERN, WORKSPACE_ID_PATTERN
from ..service import WorkspaceService
from ..settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_service(request: Request) -> WorkspaceService:
    service: WorkspaceService = request.app.state.service
    return service


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServiceDep = Annotated[WorkspaceService, Depends(get_service)]
UserId = Annotated[
    str, Path(pattern=USER_ID_PATTERN, max_length=128, description="The workspace owner's id.")
]
WorkspaceId = Annotated[str, Path(pattern=WORKSPACE_ID_PATTERN, description="A workspace id.")]
