"""What managers sharing DATA_DIR share (shared.py, auth.json), with two "managers" in one
process: each is its own set of objects over the same directory, as two processes are."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from lab_workspace_manager.auth.standalone import StandaloneAuth, _SecretsFile
from lab_workspace_manager.errors import Unauthenticated
from lab_workspace_manager.policies.idle import ActivityLog
from lab_workspace_manager.shared import USED_SECONDS, HeldElsewhere, SharedState
from tests.support.settings import make_settings

pytestmark = pytest.mark.anyio


def test_activity_only_ever_moves_forward(tmp_path: Path) -> None:
    """Regression: a manager telling an older moment (the last activity a workspace's
    Jupyter reports) moved the others' view back, and one of them stopped a workspace in use."""
    seen_by_proxy, asked_jupyter = (
        ActivityLog(SharedState(tmp_path)),
        ActivityLog(SharedState(tmp_path)),
    )
    now = time.time()
    seen_by_proxy.touch("ws1", now)
    asked_jupyter.touch("ws1", now - 3600)
    assert asked_jupyter.last("ws1") == pytest.approx(now, abs=0.01)
    assert seen_by_proxy.last("ws1") == pytest.approx(now, abs=0.01)


async def test_a_workspace_lock_is_held_against_another_manager(tmp_path: Path) -> None:
    first, second = SharedState(tmp_path), SharedState(tmp_path)
    async with first.lock("workspace", "alice", "ws1"):
        with pytest.raises(HeldElsewhere):
            async with second.lock("workspace", "alice", "ws1", wait=False):
                pass
        waiting = asyncio.create_task(_hold(second))
        await asyncio.sleep(0.1)
        assert not waiting.done()
    await asyncio.wait_for(waiting, 2)


async def _hold(shared: SharedState) -> None:
    async with shared.lock("workspace", "alice", "ws1"):
        pass


async def test_the_lock_of_a_deleted_workspace_leaves_no_file(tmp_path: Path) -> None:
    shared = SharedState(tmp_path)
    async with shared.lock("workspace", "alice", "ws1") as held:
        held.remove = True
    assert list((tmp_path / "shared" / "locks").iterdir()) == []
    async with shared.lock("workspace", "alice", "ws1"):  # (and it can be taken again)
        pass


def test_a_name_claim_is_released_only_by_its_holder(tmp_path: Path) -> None:
    first, second = SharedState(tmp_path), SharedState(tmp_path)
    claim = first.claim_name("alice", "project")
    assert claim is not None
    assert second.claim_name("alice", "project") is None
    second.release_name("alice", "project", "not-the-claim")
    assert second.claim_name("alice", "project") is None
    first.release_name("alice", "project", claim)
    assert second.claim_name("alice", "project") is not None


def test_a_code_is_used_once_by_all_managers_and_forgotten_later(tmp_path: Path) -> None:
    first, second = SharedState(tmp_path), SharedState(tmp_path)
    assert first.use_once("nonce-1")
    assert not second.use_once("nonce-1")
    (used,) = (tmp_path / "shared" / "used").iterdir()
    long_ago = time.time() - USED_SECONDS - 1
    os.utime(used, (long_ago, long_ago))
    assert second.sweep() == 1


def two_authenticators(tmp_path: Path) -> tuple[StandaloneAuth, StandaloneAuth]:
    settings = make_settings(data_dir=tmp_path, admin_token=None, jwt_secret=None)
    return StandaloneAuth(settings), StandaloneAuth(settings)


async def test_tokens_and_secrets_are_the_same_on_both(tmp_path: Path) -> None:
    first, second = two_authenticators(tmp_path)
    token, _ = first.issue("alice", None, False, "")
    assert (await second.identify(token)).user_id == "alice"


async def test_a_revocation_counts_on_the_other_whatever_the_file_times_say(
    tmp_path: Path,
) -> None:
    """Regression: a change was noticed by the file's (inode, mtime), which repeat (ext4
    reuses inodes; coarse clocks): the other manager went on accepting a revoked token."""
    first, second = two_authenticators(tmp_path)
    revoked, issued = first.issue("alice", None, False, "")
    assert (await second.identify(revoked)).user_id == "alice"
    before = (tmp_path / "auth.json").stat()
    first.revoke(issued.id)
    fresh, _ = first.issue("bob", None, False, "")
    os.utime(tmp_path / "auth.json", ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(Unauthenticated, match="revoked"):
        await second.identify(revoked)
    assert (await second.identify(fresh)).user_id == "bob"


async def test_a_failed_write_leaves_no_stale_view(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = two_authenticators(tmp_path)
    token, issued = first.issue("alice", None, False, "")
    assert (await second.identify(token)).user_id == "alice"
    first.revoke(issued.id)

    def full(path: Path, text: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("lab_workspace_manager.auth.standalone._write", full)
    with pytest.raises(OSError):
        second.issue("carol", None, False, "")
    with pytest.raises(Unauthenticated, match="revoked"):
        await second.identify(token)


def test_a_file_of_before_generations_is_read(tmp_path: Path) -> None:
    (tmp_path / "auth.json").write_text('{"jwt_secret": "kept-from-before-0123456789"}')
    assert _SecretsFile(tmp_path / "auth.json").data["jwt_secret"].startswith("kept")
