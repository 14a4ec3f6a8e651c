"""Sign-in: who am I, the web app's cookie, and (standalone) the tokens an admin issues."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, Field

from ...auth import Identity
from ...auth.base import TOKEN_NAME, find_token
from ...auth.standalone import StandaloneAuth
from ...errors import InvalidInput, NotFound, Unauthenticated
from ...naming import USER_ID_PATTERN
from ..audit_trail import note, seen_caller
from ..deps import (
    AdminIdentity,
    AuthenticatorDep,
    CurrentIdentity,
    SettingsDep,
    require_csrf_header,
)
from ..origins import (
    HOST_ONLY_PREFIX,
    client_address,
    cookie_name,
    secure_cookies,
    sign_in_cookies,
)

router = APIRouter(tags=["auth"])


class Me(BaseModel):
    id: str
    is_admin: bool
    auth_mode: str = Field(description="'standalone' or 'mllab'.")


class LoginRequest(BaseModel):
    token: str | None = Field(None, description="If left out, the request's own token is used.")


class TokenRequest(BaseModel):
    user_id: str = Field(pattern=USER_ID_PATTERN, max_length=128)
    expires_in: int | None = Field(
        None, ge=60, le=5 * 365 * 24 * 3600, description="Seconds; the default lifetime if unset."
    )
    is_admin: bool = False
    description: str = Field("", max_length=200)


class TokenInfo(BaseModel):
    id: str
    user_id: str
    is_admin: bool
    created_at: datetime
    expires_at: datetime
    description: str


class IssuedTokenResponse(TokenInfo):
    token: str = Field(description="Shown once: only its id is kept.")


def me(identity: Identity, mode: str) -> Me:
    return Me(id=identity.user_id, is_admin=identity.is_admin, auth_mode=mode)


async def standalone(authenticator: AuthenticatorDep) -> StandaloneAuth:
    if not isinstance(authenticator, StandaloneAuth):
        raise NotFound("In ML Lab mode tokens are issued by ML Lab, not by the workspace manager.")
    return authenticator


Standalone = Annotated[StandaloneAuth, Depends(standalone)]


@router.get("/users/me", response_model=Me, operation_id="getMe")
async def get_me(identity: CurrentIdentity, authenticator: AuthenticatorDep) -> Me:
    return me(identity, authenticator.mode)


@router.post("/auth/login", response_model=Me, operation_id="login")
async def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    authenticator: AuthenticatorDep,
    settings: SettingsDep,
) -> Me:
    """Check a token and keep it in an HttpOnly cookie for the web app."""
    require_csrf_header(request)
    token = body.token or (find_token(request, sign_in_cookies(request, settings)) or ("", ""))[0]
    if not token:
        raise Unauthenticated("Paste your token to sign in.")
    identity = await authenticator.identify(token, client_address(request, settings))
    seen_caller(request, identity)
    # Host-only; `__Host-ct_token` wherever the browser keeps Secure cookies, so that no
    # other host (a workspace's page, of the same site) can set one in its place.
    response.set_cookie(
        cookie_name(TOKEN_NAME, request, settings),
        token,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure or secure_cookies(request, settings),
        path="/",
        max_age=30 * 24 * 3600,
    )
    return me(identity, authenticator.mode)


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    operation_id="logout",
)
async def logout(request: Request) -> Response:
    require_csrf_header(request)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(TOKEN_NAME, path="/")
    response.delete_cookie(HOST_ONLY_PREFIX + TOKEN_NAME, path="/", secure=True)
    return response


@router.post(
    "/auth/tokens",
    response_model=IssuedTokenResponse,
    status_code=status.HTTP_201_CREATED,
    operation_id="issueToken",
)
async def issue_token(
    body: TokenRequest,
    request: Request,
    admin: AdminIdentity,
    auth: Standalone,
    settings: SettingsDep,
) -> IssuedTokenResponse:
    if body.user_id == settings.admin_user_id:
        # Such a token would manage the administrator's own workspaces.
        raise InvalidInput(
            f"The user id '{body.user_id}' is the administrator's and reserved: choose "
            "another, or issue an administrator token ('is_admin': true) under the "
            "person's own id."
        )
    token, issued = auth.issue(body.user_id, body.expires_in, body.is_admin, body.description)
    role = "an administrator's" if body.is_admin else "a user's"
    note(request, owner=body.user_id, detail=f"{role} token, id {issued.id}")
    return IssuedTokenResponse(
        token=token, **TokenInfo.model_validate(issued, from_attributes=True).model_dump()
    )


@router.get("/auth/tokens", response_model=list[TokenInfo], operation_id="listTokens")
async def list_tokens(admin: AdminIdentity, auth: Standalone) -> list[TokenInfo]:
    return [TokenInfo.model_validate(t, from_attributes=True) for t in auth.issued()]


@router.delete(
    "/auth/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    operation_id="revokeToken",
)
async def revoke_token(token_id: str, admin: AdminIdentity, auth: Standalone) -> Response:
    auth.revoke(token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
