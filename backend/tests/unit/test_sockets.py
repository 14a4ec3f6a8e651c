"""The WebSocket bridge's periodic check (bridges.py), on fakes: which sockets it
ends and why, and that one slow answer holds up no other."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from lab_workspace_manager import bridges
from lab_workspace_manager.api.routes.sockets import forwarded_cookies
from lab_workspace_manager.auth import Identity
from lab_workspace_manager.errors import BackendUnavailable, Unauthenticated
from lab_workspace_manager.models import ShareAccess
from lab_workspace_manager.shared.files import FileSharedState
from lab_workspace_manager.sharing import Shares

pytestmark = pytest.mark.anyio


class FakeAuth:
    def __init__(self) -> None:
        self.revoked: set[str] = set()
        self.slow: set[str] = set()
        self.down = False

    async def identify(self, token: str) -> Identity:
        if token in self.slow:
            await asyncio.sleep(60)
        if self.down:
            raise BackendUnavailable("ML Lab cannot be reached.")
        if token in self.revoked:
            raise Unauthenticated("revoked")
        return Identity(token.removeprefix("token-"), is_admin=False)


class FakeBackend:
    def __init__(self) -> None:
        self.running = {"ws1": "alice", "ws2": "bob", "ws3": "carol"}

    async def locate(self, workspace_id: str) -> tuple[str, str] | None:
        owner = self.running.get(workspace_id)
        return (owner, "10.0.0.1:8080") if owner else None


def bridge(workspace_id: str, user: str, expires: float | None = None) -> bridges.Bridge:
    return bridges.Bridge(workspace_id, Identity(user, False, token=f"token-{user}"), expires)


async def test_a_socket_ends_when_its_token_its_workspace_or_its_session_ends(
    tmp_path: Path,
) -> None:
    auth, backend = FakeAuth(), FakeBackend()
    open_ = bridges.Sockets(auth, backend, Shares(FileSharedState(tmp_path)))  # type: ignore[arg-type]
    kept, revoked, stopped, expired = (
        bridge("ws1", "alice"),
        bridge("ws2", "bob"),
        bridge("ws3", "carol"),
        bridge("ws1", "alice", expires=time.time() - 1),
    )
    open_.open |= {kept, revoked, stopped, expired}
    auth.revoked.add("token-bob")
    del backend.running["ws3"]
    await open_.recheck()
    assert not kept.ended.is_set()
    assert "sign-in ended" in revoked.reason
    assert "stopped" in stopped.reason
    assert "expired" in expired.reason
    assert open_.count("ws1") == 2


async def test_undecidable_is_kept_and_a_slow_answer_delays_no_other(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(bridges, "RECHECK_SECONDS", 0.5)
    auth, backend = FakeAuth(), FakeBackend()
    open_ = bridges.Sockets(auth, backend, Shares(FileSharedState(tmp_path)))  # type: ignore[arg-type]
    slow, revoked = bridge("ws1", "alice"), bridge("ws2", "bob")
    open_.open |= {slow, revoked}
    auth.slow.add("token-alice")
    auth.revoked.add("token-bob")
    started = time.monotonic()
    await open_.recheck()
    assert time.monotonic() - started < 2
    assert not slow.ended.is_set()  # not known in time: asked again next round
    assert revoked.ended.is_set()
    auth.slow.clear()
    auth.down = True
    await open_.recheck()
    assert not slow.ended.is_set()  # ML Lab unreachable is no reason to cut anyone off


async def test_a_grantees_socket_ends_when_the_share_is_revoked(tmp_path: Path) -> None:
    shares = Shares(FileSharedState(tmp_path))
    open_ = bridges.Sockets(FakeAuth(), FakeBackend(), shares)  # type: ignore[arg-type]
    await shares.put("alice", "ws1", "dave", ShareAccess.OPEN, by="alice")
    dave, eve = bridge("ws1", "dave"), bridge("ws1", "eve")
    open_.open |= {dave, eve}
    await open_.recheck()
    assert not dave.ended.is_set()  # shared with him
    assert "no longer open" in eve.reason  # not with her
    # A share of another owner's workspace of the same id counts for nothing.
    await shares.put("bob", "ws2", "dave", ShareAccess.OPERATE, by="bob")
    assert not await shares.allows(dave.identity, "alice", "ws2", ShareAccess.OPEN)
    await shares.remove("ws1", "dave")
    await open_.recheck()
    assert "no longer open" in dave.reason


def test_no_credential_reaches_the_workspace_under_any_of_its_names() -> None:
    header = (
        "_xsrf=1; ct_token=a; __Host-ct_token=b; workspace_session=c; "
        "__Host-workspace_session=d; other=e"
    )
    assert forwarded_cookies(header) == "_xsrf=1; other=e"
