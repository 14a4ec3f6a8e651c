"""Typed dependencies shared by the routes: settings, service, and who may do what."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Path, Request

from ..auth import Authenticator, Identity, find_token
from ..backends import WorkspaceBackend
from ..errors import Forbidden, Unauthenticated
from ..naming import USER_ID_PATTERN, WORKSPACE_ID_PATTERN
from ..service import WorkspaceService
from ..settings import Settings
from .origins import client_address, sign_in_cookies

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# A browser sends a custom header cross-site only after a CORS preflight, which only the
# configured origins pass: requiring it defeats CSRF for cookie-authenticated requests.
CSRF_HEADER = "X-Requested-With"


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_backend(request: Request) -> WorkspaceBackend:
    backend: WorkspaceBackend = request.app.state.backend
    return backend


def get_authenticator(request: Request) -> Authenticator:
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator


def require_csrf_header(request: Request) -> None:
    if not request.headers.get(CSRF_HEADER):
        raise Forbidden(
            f"Requests signed in with the cookie must carry the header '{CSRF_HEADER}' "
            "(the web app sends it); scripts should send their token as 'Authorization: "
            "Bearer <token>' instead."
        )


async def current_identity(request: Request) -> Identity:
    found = find_token(request, sign_in_cookies(request, get_settings(request)))
    if found is None:
        raise Unauthenticated(
            "Sign in first: send your token as 'Authorization: Bearer <token>' (or sign in "
            "in the web app)."
        )
    token, source = found
    if source == "cookie" and request.method not in SAFE_METHODS:
        require_csrf_header(request)
    client = client_address(request, get_settings(request))
    identity = await get_authenticator(request).identify(token, client)
    return replace(identity, token=token)


CurrentIdentity = Annotated[Identity, Depends(current_identity)]


def get_service(request: Request, identity: CurrentIdentity) -> WorkspaceService:
    """The workspace service, acting for the caller (the ML Lab backend uses their token)."""
    return WorkspaceService(
        get_settings(request),
        get_backend(request).for_caller(identity),
        request.app.state.names,
        request.app.state.locations.forget,
        identity,
        request.app.state.activity,
        request.app.state.usage,
    )


def user_path(
    user_id: Annotated[
        str, Path(pattern=USER_ID_PATTERN, max_length=128, description="The workspace owner's id.")
    ],
    identity: CurrentIdentity,
) -> str:
    """The `{user_id}` of the path, once the caller is known to be that user or an admin."""
    if not identity.may_act_for(user_id):
        raise Forbidden(
            f"You are signed in as '{identity.user_id}' and can only manage your own "
            f"workspaces, not those of '{user_id}'."
        )
    return user_id


def admin_identity(identity: CurrentIdentity) -> Identity:
    if not identity.is_admin:
        raise Forbidden("Only administrators may do this.")
    return identity


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServiceDep = Annotated[WorkspaceService, Depends(get_service)]
BackendDep = Annotated[WorkspaceBackend, Depends(get_backend)]
AuthenticatorDep = Annotated[Authenticator, Depends(get_authenticator)]
UserId = Annotated[str, Depends(user_path)]
AdminIdentity = Annotated[Identity, Depends(admin_identity)]
WorkspaceId = Annotated[str, Path(pattern=WORKSPACE_ID_PATTERN, description="A workspace id.")]
