"""Every API request that changes something or grants access, written to the audit log.

An ASGI middleware, so that no route can forget it: a request with a method other than GET,
HEAD or OPTIONS (and the few reads that hand out access or data, `AUDITED_READS`) that
reached a route is an entry named by the route's operation id, with the caller (as
`current_identity` found them), the workspace and owner of its path, the address it came from
and the status it was answered with. A route adds what its path does not say with `note` (the
id of a workspace it created, the user a token was issued to).

Not written: what no route was found for (an unknown path), and what nobody signed in to, but
for sign-in itself (whose refusals are what an administrator looks for): anyone can send
those, at the rate limit, and with paths of their choosing; written, they would fill the log
with entries that name others' workspaces for free.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..auth import Identity
from ..errors import ERROR_MESSAGE
from ..naming import USER_ID_PATTERN, WORKSPACE_ID_PATTERN
from ..runtime import Runtime
from .origins import client_address

UNCHANGING = {"GET", "HEAD", "OPTIONS"}
AUDITED_READS = {"workspaceHandoff", "downloadWorkspace"}
SIGN_IN = "login"
NOTE = "audit_note"  # in the request's state: what a route adds to its entry
IDENTITY = "audit_identity"
# The path's values that say whose and which workspace; the others are named in the detail.
PATH_OWNER, PATH_WORKSPACE = "user_id", "workspace_id"
_VALID = {PATH_OWNER: re.compile(USER_ID_PATTERN), PATH_WORKSPACE: re.compile(WORKSPACE_ID_PATTERN)}
_NAMED = re.compile(r"^[\w.@:-]{1,128}$")  # what else of a path is named in a detail


def note(request: Request, **fields: str | None) -> None:
    """Add to the request's entry: `owner`, `workspace_id` or `detail`."""
    request.scope.setdefault("state", {}).setdefault(NOTE, {}).update(fields)


def seen_caller(connection: HTTPConnection, identity: Identity) -> None:
    """The caller, as sign-in found them (called by `current_identity`)."""
    connection.scope.setdefault("state", {})[IDENTITY] = identity


class AuditTrail:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        answered = 500  # (if the app fails before it answers)

        async def sending(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self._write(scope, answered)

    def _write(self, scope: Scope, status: int) -> None:
        action = getattr(scope.get("route"), "operation_id", None)
        if not action or (scope["method"] in UNCHANGING and action not in AUDITED_READS):
            return
        state: dict[str, Any] = scope["state"]
        identity: Identity | None = state.get(IDENTITY)
        if identity is None and action != SIGN_IN:
            return
        noted: dict[str, str | None] = state.get(NOTE, {})
        params: dict[str, str] = scope.get("path_params", {})
        valid = {
            key: value
            for key, value in params.items()
            if key not in _VALID or _VALID[key].match(value)
        }
        # What else the path names (a grantee, a template, a token's id: never a token).
        named = ", ".join(
            f"{key} {value}"
            for key, value in valid.items()
            if key not in _VALID and _NAMED.match(value)
        )
        detail = noted.get("detail") or state.get(ERROR_MESSAGE, "")
        self.runtime.audit.record(
            action,
            actor=identity.user_id if identity else None,
            actor_is_admin=bool(identity and identity.is_admin),
            owner=noted.get("owner", valid.get(PATH_OWNER)),
            workspace_id=noted.get("workspace_id", valid.get(PATH_WORKSPACE)),
            address=client_address(HTTPConnection(scope), self.runtime.settings),
            ok=status < 400,
            status=status,
            detail=f"{named}: {detail}" if named and detail else named or detail,
        )
