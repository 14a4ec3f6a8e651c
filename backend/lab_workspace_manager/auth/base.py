"""What every authenticator provides, and where a request's token is found."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl

from starlette.requests import HTTPConnection

from ..errors import Unauthenticated

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


def find_token(
    request: HTTPConnection, cookie_names: Sequence[str] = (TOKEN_NAME,)
) -> tuple[str, TokenSource] | None:
    """The caller's token, looked for where ML Lab looks and in its order; in a cookie under
    one of `cookie_names` (see `api.origins.sign_in_cookies`).

    A token given ambiguously is refused: twice in the query or as two cookies (nginx's
    access cache and its token stripping take the first, a parser the last), or under a
    spelling the proxy does not strip (`ct%5Ftoken=`, `ct_token =`), which would reach the
    workspace."""
    _refuse_ambiguous(request, cookie_names)
    if token := request.query_params.get(TOKEN_NAME):
        return token, "query"
    if found := token_in_headers(request):
        return found
    for name in cookie_names:
        if token := request.cookies.get(name):
            return token, "cookie"
    return None


def token_in_headers(request: HTTPConnection) -> tuple[str, TokenSource] | None:
    """A token in the `ct_token` header or as `Authorization: Bearer` (a script's)."""
    if token := request.headers.get(TOKEN_NAME):
        return token, "header"
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip(), "bearer"
    return None


_LITERAL_IN_QUERY = re.compile(rf"(?:^|&){TOKEN_NAME}=")


def _refuse_ambiguous(request: HTTPConnection, cookie_names: Sequence[str]) -> None:
    """How many times a parser finds the token must be how many times nginx finds it spelt
    literally, and at most once."""
    query = request.url.query
    parsed = [name for name, _ in parse_qsl(query, keep_blank_values=True) if name == TOKEN_NAME]
    if len(parsed) > 1 or len(parsed) != len(_LITERAL_IN_QUERY.findall(query)):
        raise Unauthenticated(
            f"Give your token once, spelled '{TOKEN_NAME}=' in the query (or in a header)."
        )
    cookies = request.headers.get("cookie", "")
    for cookie in cookie_names:
        parsed = [c for c in cookies.split(";") if c.split("=", 1)[0].strip() == cookie]
        literal = re.findall(rf"(?:^|;) ?{re.escape(cookie)}=", cookies)
        if len(parsed) > 1 or len(parsed) != len(literal):
            raise Unauthenticated(
                f"The request carries the '{cookie}' cookie more than once or misspelt: "
                "sign out and in again."
            )


class Authenticator(ABC):
    mode: str

    @abstractmethod
    async def identify(self, token: str, client: str = "") -> Identity:
        """Who holds `token`; `Unauthenticated` if nobody valid does, `BackendUnavailable`
        if that cannot be decided now. `client`: the address a request came from, where a
        request asks (the manager's own checks of known tokens give none)."""

    async def close(self) -> None:
        return None
