"""ML Lab sign-in: the caller's ML Lab (contaxy) token, verified by ML Lab.

Two questions per token, the second only when the first is answered, remembered for
`AUTH_CACHE_SECONDS` (the last `CACHE_SIZE` tokens at most):
  - who is it? `POST /auth/tokens/verify` with no permission answers `users/<id>` (401 if the
    token is unknown or expired);
  - is it an administrator? the same call with `permission=*#admin` answers 200 or 403.
The cache is keyed by a hash of the token, never the token itself. A token not in the cache
costs a question to ML Lab; each client address (an IPv6 /64 counts as one) may bring
UNKNOWN_BURST tokens that ML Lab refuses at once and UNKNOWN_PER_MINUTE a minute after that;
then it is answered 429 before ML Lab is asked, so that nobody can make the manager ask ML Lab
as fast as they can make up tokens. Tokens ML Lab accepts cost nothing: many users behind one
address are never held up by their own valid tokens.
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
from collections import OrderedDict

import httpx

from ..errors import BackendUnavailable, ManagerError, TooManyRequests, Unauthenticated
from ..rate_limits import Buckets
from ..settings import Settings
from .base import Authenticator, Identity

ADMIN_PERMISSION = "*#admin"


CACHE_SIZE = 10_000  # tokens remembered at most; the least recently used go first
UNKNOWN_BURST = 30
UNKNOWN_PER_MINUTE = 30


class MLLabAuth(Authenticator):
    mode = "mllab"

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        assert settings.contaxy_api_endpoint
        self._endpoint = settings.contaxy_api_endpoint.rstrip("/")
        self._ttl = settings.auth_cache_seconds
        self._http = http
        # hash of the token -> (until when, who, or why not). A refusal is kept as its
        # message: an exception object raised again and again would grow its traceback and
        # keep every request's frames alive.
        self._cache: OrderedDict[str, tuple[float, Identity | str]] = OrderedDict()
        self._refusals = Buckets(UNKNOWN_BURST, UNKNOWN_PER_MINUTE / 60)

    async def identify(self, token: str, client: str = "") -> Identity:
        key = hashlib.sha256(token.encode()).hexdigest()
        cached = self._cache.get(key)
        if cached and cached[0] > time.monotonic():
            self._cache.move_to_end(key)
            verdict = cached[1]
        else:
            asker = _client_key(client)
            if asker and not self._refusals.left(asker):
                raise TooManyRequests(
                    "Too many tokens that ML Lab does not accept came from your address in the "
                    "last minute. Wait a minute, then sign in with a valid ML Lab token."
                )
            verdict = await self._ask(token)
            if asker and isinstance(verdict, str):
                self._refusals.take(asker)
            self._remember(key, verdict)
        if isinstance(verdict, str):
            raise Unauthenticated(verdict)
        return verdict

    def _remember(self, key: str, verdict: Identity | str) -> None:
        self._cache[key] = (time.monotonic() + self._ttl, verdict)
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    async def _ask(self, token: str) -> Identity | str:
        # Who first: a token ML Lab does not know costs one call, not two.
        who = await self._verify(token, None)
        if who.status_code == 401:
            return (
                "ML Lab does not accept this token (unknown, revoked or expired). Sign in to "
                "ML Lab again."
            )
        if who.status_code != 200:
            raise ManagerError(
                f"ML Lab answered {who.status_code} when asked to verify a token: {who.text[:200]}"
            )
        subject = str(who.json().get("authorized_subject") or "")
        if not subject.startswith("users/"):
            return f"This ML Lab token belongs to '{subject}', not to a user; use a user's token."
        admin = await self._verify(token, ADMIN_PERMISSION)
        return Identity(subject.removeprefix("users/"), is_admin=admin.status_code == 200)

    async def _verify(self, token: str, permission: str | None) -> httpx.Response:
        try:
            return await self._http.post(
                f"{self._endpoint}/auth/tokens/verify",
                params={"permission": permission} if permission else None,
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as exc:
            raise BackendUnavailable(
                f"ML Lab cannot be reached at {self._endpoint} to check your token "
                f"({type(exc).__name__}). Try again in a minute; if it persists, tell your "
                "administrator."
            ) from exc


def _client_key(client: str) -> str:
    """An address as a key of the limit: IPv6 by its /64, which one host usually has whole."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
