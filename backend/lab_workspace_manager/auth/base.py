"""What every authenticator provides, and where a request's token is found."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Literal

from fastapi import Request

TOKEN_NAME = "ct_token"  # ML Lab's name, in the query, a header and the cookie
TokenSource = Literal["query", "header", "bearer", "cookie"]


@dataclass(frozen=True)
class Identity:
    user_id: str
    is_admin: bool
    # The token the caller signed in with: the ML Lab backend acts with it, as the user.
    token: str = field(default="", repr=False, compare=False)

    def may_act_for(self, user_id: str) -> bool:
        return self.is_admin or self.user_id == user_id


def find_token(request: Request) -> tuple[str, TokenSource] | None:
    """The caller's token, looked for where ML Lab looks and in its order."""
    if token := request.query_params.get(TOKEN_NAME):
        return token, "query"
    if token := request.headers.get(TOKEN_NAME):
        return token, "header"
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip(), "bearer"
    if token := request.cookies.get(TOKEN_NAME):
        return token, "cookie"
    return None


class Authenticator(ABC):
    mode: str

    @abstractmethod
    async def identify(self, token: str) -> Identity:
        """Who holds `token`; `Unauthenticated` if nobody valid does, `BackendUnavailable`
        if that cannot be decided now."""

    async def close(self) -> None:
        return None
