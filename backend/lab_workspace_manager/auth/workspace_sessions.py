"""Opening a workspace on its own origin: a single-use hand-off code, then a cookie of that
origin that opens that one workspace.

The manager's origin (web app and API) never serves a workspace, and a workspace's origin never
sees the manager's cookie or a manager token. To open a workspace, a signed-in user asks the
manager (`:open`), which answers with a link to the workspace's origin that carries a code; that
origin exchanges the code for its own cookie and sends the browser on to the workspace.

Codes and cookies are encrypted and authenticated (JWE, direct key, A256GCM), so only the
manager can make or read them, and they carry the token they came from: every access check asks
the authenticator about that token again, so a session ends when its token is revoked. Nothing
but a code's single use has to be remembered, so sessions survive restarts and work on every
replica that has the same secret.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from dataclasses import asdict, dataclass

from jose import jwe
from jose.exceptions import JOSEError

from ..errors import Unauthenticated
from ..settings import Settings
from ..shared import SharedState

log = logging.getLogger(__name__)

COOKIE_NAME = "workspace_session"
CODE_SECONDS = 60
SESSION_SECONDS = 12 * 3600
# Where a workspace's origin takes the code (a path the workspace never sees).
HANDOFF_PATH = "/_workspace_manager/handoff"


@dataclass(frozen=True)
class Grant:
    """Who may open which workspace, with which token, framed by which origin, until when."""

    kind: str  # "code" or "session"
    workspace_id: str
    user_id: str
    token: str
    frame_origin: str  # the web app's origin, which may show the workspace in a frame
    expires: float
    nonce: str


class WorkspaceSessions:
    def __init__(self, secret: str, shared: SharedState) -> None:
        # A 256-bit key from any secret of 16 characters or more.
        self._key = hashlib.sha256(b"workspace-sessions\0" + secret.encode()).digest()
        self._shared = shared  # remembers which codes were used, for every manager

    @classmethod
    def from_settings(cls, settings: Settings, shared: SharedState) -> WorkspaceSessions:
        if settings.session_secret is not None:
            return cls(settings.session_secret.get_secret_value(), shared)
        return cls(shared.kept_secret("session"), shared)

    def code(self, workspace_id: str, user_id: str, token: str, frame_origin: str) -> str:
        return self._seal("code", workspace_id, user_id, token, frame_origin, CODE_SECONDS)

    def redeem(self, code: str, workspace_id: str) -> tuple[Grant, str]:
        """The code's grant and the session cookie's value for it; a code works once."""
        grant = self._open(code, "code", workspace_id)
        if grant is None:
            raise Unauthenticated(
                "This link to the workspace is invalid, expired (it works for "
                f"{CODE_SECONDS} s) or for another workspace. Open the workspace again from "
                "the web app."
            )
        if not self._shared.use_once(grant.nonce):
            raise Unauthenticated(
                "This link to the workspace was used already. Open the workspace again from "
                "the web app."
            )
        cookie = self._seal(
            "session",
            grant.workspace_id,
            grant.user_id,
            grant.token,
            grant.frame_origin,
            SESSION_SECONDS,
        )
        return grant, cookie

    def session(self, value: str, workspace_id: str) -> Grant | None:
        """The grant of a session cookie for this workspace, or None."""
        return self._open(value, "session", workspace_id)

    def _seal(
        self,
        kind: str,
        workspace_id: str,
        user_id: str,
        token: str,
        frame_origin: str,
        seconds: int,
    ) -> str:
        grant = Grant(
            kind=kind,
            workspace_id=workspace_id,
            user_id=user_id,
            token=token,
            frame_origin=frame_origin,
            expires=time.time() + seconds,
            nonce=secrets.token_urlsafe(12),
        )
        sealed: bytes = jwe.encrypt(
            json.dumps(asdict(grant)), self._key, algorithm="dir", encryption="A256GCM"
        )
        return sealed.decode()

    def _open(self, value: str, kind: str, workspace_id: str) -> Grant | None:
        if not value or len(value) > 8192:
            return None
        try:
            grant = Grant(**json.loads(jwe.decrypt(value.encode(), self._key)))
        except (JOSEError, ValueError, TypeError):
            return None
        if grant.kind != kind or grant.workspace_id != workspace_id:
            return None
        if grant.expires <= time.time():
            return None
        return grant
