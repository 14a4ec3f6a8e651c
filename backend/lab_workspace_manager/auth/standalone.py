"""Standalone sign-in: one administrator token, and user tokens the administrator issues.

User tokens are JWTs (HS256, python-jose) carrying the user id, an id (`jti`) and an expiry.
A token is valid while its signature checks out, it has not expired and its id is still in the
list of issued tokens: revoking a token removes it from that list. The secrets and the list are
kept with the shared state (`DATA_DIR/auth.json`, mode 0600, or the database when
`DATABASE_URL` is set), so restarts change nothing and every manager of an installation knows
every token; values given in `ADMIN_TOKEN` / `JWT_SECRET` take precedence and are never written
there.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio.to_thread
from jose import JWTError, jwt

from ..errors import Unauthenticated
from ..settings import Settings
from ..shared import SharedState, open_shared_state
from .base import Authenticator, Identity

log = logging.getLogger(__name__)

ALGORITHM = "HS256"
ISSUER = "lab-workspace-manager"


@dataclass(frozen=True)
class IssuedToken:
    """What is remembered of a token: never the token itself."""

    id: str
    user_id: str
    is_admin: bool
    created_at: datetime
    expires_at: datetime
    description: str = ""


class StandaloneAuth(Authenticator):
    mode = "standalone"

    def __init__(self, settings: Settings, shared: SharedState | None = None) -> None:
        self._settings = settings
        self._file = (shared or open_shared_state(settings)).document("auth")
        self._admin_token = self._secret(settings.admin_token, "admin_token", announce=True)
        self._jwt_secret = self._secret(settings.jwt_secret, "jwt_secret", announce=False)
        self._tokens = _tokens_in(self._file.data)

    def _secret(self, given: Any, key: str, announce: bool) -> str:
        if given is not None:
            return str(given.get_secret_value())
        if stored := self._file.data.get(key):
            return str(stored)
        with self._file.changing() as data:
            if stored := data.get(key):  # made by another manager meanwhile
                return str(stored)
            value = secrets.token_urlsafe(32)
            data[key] = value
        if announce:
            # Printed this once, at generation; afterwards it is only in the file.
            log.warning("Generated the administrator token (kept with the shared state): %s", value)
        return value

    async def identify(self, token: str, client: str = "") -> Identity:
        # (In a thread: with DATABASE_URL, a query; the event loop does not wait on it.)
        await anyio.to_thread.run_sync(self._read_latest)
        if hmac.compare_digest(token.encode(), self._admin_token.encode()):
            return Identity(self._settings.admin_user_id, is_admin=True)
        try:
            claims = jwt.decode(
                token,
                self._jwt_secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require_exp": True, "require_sub": True, "require_jti": True},
            )
        except JWTError as exc:
            raise Unauthenticated(
                "The token is invalid or has expired. Ask your administrator for a new one."
            ) from exc
        issued = self._tokens.get(str(claims["jti"]))
        if issued is None:
            raise Unauthenticated("The token was revoked. Ask your administrator for a new one.")
        if issued.user_id == self._settings.admin_user_id:
            # Issued before the administrator's id was reserved: it would manage the
            # administrator's workspaces.
            raise Unauthenticated(
                f"Tokens for the user id '{issued.user_id}' (the administrator's) are no "
                "longer accepted. Ask your administrator for a token under another id."
            )
        return Identity(issued.user_id, issued.is_admin)

    # --- administration -----------------------------------------------------------------------
    def issue(
        self, user_id: str, expires_in: int | None, is_admin: bool, description: str
    ) -> tuple[str, IssuedToken]:
        now = datetime.now(UTC).replace(microsecond=0)
        lifetime = expires_in or self._settings.token_lifetime_default
        issued = IssuedToken(
            id=secrets.token_hex(8),
            user_id=user_id,
            is_admin=is_admin,
            created_at=now,
            expires_at=now + timedelta(seconds=lifetime),
            description=description,
        )
        claims = {
            "iss": ISSUER,
            "sub": user_id,
            "jti": issued.id,
            "adm": is_admin,
            "iat": int(now.timestamp()),
            "exp": int(issued.expires_at.timestamp()),
        }
        token = jwt.encode(claims, self._jwt_secret, algorithm=ALGORITHM)
        with self._file.changing() as data:
            data["tokens"] = [*data.get("tokens", []), asdict(issued)]
        self._read_latest()
        return token, issued

    def issued(self) -> list[IssuedToken]:
        """Tokens that still work, newest first (expired ones are forgotten)."""
        self._read_latest()
        now = datetime.now(UTC)
        if any(t.expires_at <= now for t in self._tokens.values()):
            self._keep_tokens(lambda token: token.expires_at > now)
        return sorted(self._tokens.values(), key=lambda t: t.created_at, reverse=True)

    def revoke(self, token_id: str) -> None:
        self._keep_tokens(lambda token: token.id != token_id)

    def _keep_tokens(self, keep: Callable[[IssuedToken], bool]) -> None:
        with self._file.changing() as data:
            kept = [t for t in _tokens_in(data).values() if keep(t)]
            data["tokens"] = [asdict(t) for t in kept]
        self._read_latest()

    def _read_latest(self) -> None:
        """What another manager sharing DATA_DIR issued or revoked counts here at once."""
        if self._file.reload():
            self._tokens = _tokens_in(self._file.data)


def _tokens_in(data: dict[str, Any]) -> dict[str, IssuedToken]:
    return {
        item["id"]: IssuedToken(
            **{
                **item,
                "created_at": datetime.fromisoformat(str(item["created_at"])),
                "expires_at": datetime.fromisoformat(str(item["expires_at"])),
            }
        )
        for item in data.get("tokens", [])
    }
