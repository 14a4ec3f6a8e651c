"""What managers side by side share (`lab_workspace_manager.shared`), on both stores: files in
DATA_DIR and a real PostgreSQL. Each "manager" is its own shared state over the same store."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lab_workspace_manager.auth.standalone import StandaloneAuth
from lab_workspace_manager.errors import Unauthenticated
from lab_workspace_manager.policies.idle import ActivityLog
from lab_workspace_manager.shared import USED_SECONDS, HeldElsewhere, SharedState
from lab_workspace_manager.shared.files import FileDocument, FileSharedState
from lab_workspace_manager.shared.postgres import DatabaseUnavailable, PostgresSharedState
from tests.shared.conftest import MakeShared
from tests.support.settings import make_settings

pytestmark = pytest.mark.anyio


def test_activity_only_ever_moves_forward(make_shared: MakeShared) -> None:
    """Regression: a manager telling an older moment (the last activity a workspace's
    Jupyter reports) moved the others' view back, and one of them stopped a workspace in use."""
    seen_by_proxy, asked_jupyter = ActivityLog(make_shared()), ActivityLog(make_shared())
    now = time.time()
    seen_by_proxy.touch("ws1", now)
    asked_jupyter.touch("ws1", now - 3600)
    assert asked_jupyter.last("ws1") == pytest.approx(now, abs=0.01)
    assert seen_by_proxy.last("ws1") == pytest.approx(now, abs=0.01)
    seen_by_proxy.forget("ws1")
    assert ActivityLog(make_shared()).last("ws1") is None


async def test_a_workspace_lock_is_held_against_another_manager(make_shared: MakeShared) -> None:
    first, second = make_shared(), make_shared()
    async with first.lock("workspace", "alice", "ws1"):
        with pytest.raises(HeldElsewhere):
            async with second.lock("workspace", "alice", "ws1", wait=False):
                pass
        async with second.lock("workspace", "alice", "ws2", wait=False):
            pass  # (another key is another lock)
        waiting = asyncio.create_task(_hold(second))
        await asyncio.sleep(0.2)
        assert not waiting.done()
    await asyncio.wait_for(waiting, 2)


async def _hold(shared: SharedState) -> None:
    async with shared.lock("workspace", "alice", "ws1"):
        pass


async def test_a_lock_in_a_thread_is_held_against_another_manager(
    make_shared: MakeShared,
) -> None:
    first, second = make_shared(), make_shared()
    inside = threading.Event()
    leave = threading.Event()

    def hold() -> None:
        with first.holding("network", "alice"):
            inside.set()
            leave.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(5)
    with pytest.raises(HeldElsewhere):
        async with second.lock("network", "alice", wait=False):
            pass
    leave.set()
    holder.join(5)
    async with second.lock("network", "alice", wait=False):
        pass


async def test_the_last_holder_of_a_lock_is_known(make_shared: MakeShared) -> None:
    first, second = make_shared(), make_shared()
    async with first.lock("owner", "alice") as held:
        assert held.take_over(first.me)  # (nobody held it before)
    async with first.lock("owner", "alice") as held:
        assert not held.take_over(first.me)
    async with second.lock("owner", "alice") as held:
        assert held.take_over(second.me)


def test_a_name_claim_is_released_only_by_its_holder(make_shared: MakeShared) -> None:
    first, second = make_shared(), make_shared()
    claim = first.claim_name("alice", "project")
    assert claim is not None
    assert second.claim_name("alice", "project") is None
    assert first.claim_name("alice", "project") is None  # (another request of the same)
    second.release_name("alice", "project", "not-the-claim")
    assert second.claim_name("alice", "project") is None
    first.release_name("alice", "project", claim)
    again = second.claim_name("alice", "project")
    assert again is not None
    second.release_name("alice", "project", again)


def test_a_code_is_used_once_by_all_managers(make_shared: MakeShared) -> None:
    first, second = make_shared(), make_shared()
    assert first.use_once("nonce-1")
    assert not second.use_once("nonce-1")
    assert not first.use_once("nonce-1")
    assert second.use_once("nonce-2")


def test_a_create_under_way_is_seen_by_the_others(make_shared: MakeShared) -> None:
    first, second = make_shared(), make_shared()
    first.set_pending("ws1", "pending", "Pulling the image: 40%")
    assert second.pending("ws1") == ("pending", "Pulling the image: 40%")
    first.set_pending("ws1", "failed", "The image does not exist.")
    assert second.pending("ws1") == ("failed", "The image does not exist.")
    second.clear_pending("ws1")
    assert first.pending("ws1") is None


def test_a_secret_is_the_same_for_all(make_shared: MakeShared) -> None:
    first, second = make_shared(), make_shared()
    assert first.kept_secret("session") == second.kept_secret("session")
    assert len(first.kept_secret("session")) >= 32
    assert first.kept_secret("other") != first.kept_secret("session")


def two_authenticators(make_shared: MakeShared, tmp_path: Path) -> tuple[StandaloneAuth, ...]:
    settings = make_settings(data_dir=tmp_path, admin_token=None, jwt_secret=None)
    return StandaloneAuth(settings, make_shared()), StandaloneAuth(settings, make_shared())


async def test_tokens_and_secrets_are_the_same_on_both(
    make_shared: MakeShared, tmp_path: Path
) -> None:
    first, second = two_authenticators(make_shared, tmp_path)
    token, issued = first.issue("alice", None, False, "")
    assert (await second.identify(token)).user_id == "alice"
    assert [t.id for t in second.issued()] == [issued.id]
    second.revoke(issued.id)
    with pytest.raises(Unauthenticated, match="revoked"):
        await first.identify(token)


# --- PostgreSQL only ----------------------------------------------------------------------------


async def test_events_of_one_manager_reach_the_others(database_url: str) -> None:
    first, second, third = (
        PostgresSharedState(database_url, "events", connections=4) for _ in range(3)
    )
    got: dict[str, list[str]] = {"first": [], "second": [], "third": []}
    for name, shared in (("first", first), ("second", second), ("third", third)):
        shared.listen(got[name].append)
    await asyncio.sleep(0.5)  # (listening)
    first.broadcast('{"phase": "ready"}')
    first.broadcast("x" * 10_000)  # (too long for NOTIFY: stays with its manager)
    for _ in range(50):
        if got["second"] and got["third"]:
            break
        await asyncio.sleep(0.1)
    for shared in (first, second, third):
        shared.close()
    assert got == {
        "first": [],
        "second": ['{"phase": "ready"}'],
        "third": ['{"phase": "ready"}'],
    }


async def test_the_relay_outlives_what_it_cannot_carry(database_url: str) -> None:
    """An event too long once escaped is left out, and a notice that is no manager's event
    is skipped: neither ends the passing on of the events after them."""
    sender, receiver = (PostgresSharedState(database_url, "relay", connections=4) for _ in "ab")
    got: list[str] = []
    receiver.listen(got.append)
    await asyncio.sleep(0.5)
    sender.broadcast('"' * 5000)  # (10,000 bytes once escaped)
    with sender._connection() as conn:
        conn.execute("SELECT pg_notify(%s, %s)", (receiver._channel, "[1, 2]"))
        conn.execute("SELECT pg_notify(%s, %s)", (receiver._channel, "not json"))
    sender.broadcast('{"phase": "ready"}')
    for _ in range(50):
        if got:
            break
        await asyncio.sleep(0.1)
    sender.close()
    receiver.close()
    assert got == ['{"phase": "ready"}']


async def test_a_cancelled_wait_for_a_lock_leaves_nothing_held(database_url: str) -> None:
    first, second = (PostgresSharedState(database_url, "cancel", connections=4) for _ in "ab")
    try:
        async with first.lock("owner", "alice"):
            waiting = asyncio.create_task(_hold_owner(second))
            await asyncio.sleep(0.3)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
        await asyncio.sleep(0.3)
        async with asyncio.timeout(5):
            async with first.lock("owner", "alice", wait=False):
                pass
            async with second.lock("owner", "alice", wait=False):
                pass
    finally:
        first.close()
        second.close()


async def _hold_owner(shared: SharedState) -> None:
    async with shared.lock("owner", "alice"):
        pass


HOLD_AND_WAIT = """
import asyncio, sys
from lab_workspace_manager.shared.postgres import PostgresSharedState

async def main():
    shared = PostgresSharedState(sys.argv[1], sys.argv[2], connections=4)
    claim = shared.claim_name("alice", "project")
    assert claim
    async with shared.lock("owner", "alice"):
        print("held", flush=True)
        await asyncio.sleep(600)

asyncio.run(main())
"""


async def test_what_a_killed_manager_held_is_free_at_once(database_url: str) -> None:
    """A replica killed mid-operation leaves no lock and no name claim behind (a file claim
    waited 10 minutes to be taken for stale)."""
    survivor = PostgresSharedState(database_url, "killed", connections=4)
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_AND_WAIT, database_url, "killed"],
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        await _outlive(process, survivor)


async def _outlive(process: subprocess.Popen[str], survivor: PostgresSharedState) -> None:
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "held"
        with pytest.raises(HeldElsewhere):
            async with survivor.lock("owner", "alice", wait=False):
                pass
        assert survivor.claim_name("alice", "project") is None
        process.kill()
        process.wait(10)
        async with asyncio.timeout(10):
            async with survivor.lock("owner", "alice"):
                pass
        assert survivor.claim_name("alice", "project") is not None
    finally:
        process.kill()
        survivor.close()


def test_used_codes_are_forgotten_later(database_url: str) -> None:
    shared = PostgresSharedState(database_url, "sweep", connections=4)
    try:
        assert shared.use_once("nonce-old")
        with shared._connection() as conn:
            conn.execute("UPDATE used_once SET at = %s", (time.time() - USED_SECONDS - 1,))
        assert shared.use_once("nonce-new")
        assert shared.sweep() == 1
        assert shared.use_once("nonce-old")
    finally:
        shared.close()


def test_a_database_that_cannot_be_reached_says_so() -> None:
    shared = PostgresSharedState("postgresql://nobody:x@127.0.0.1:1/none", "down", connections=4)
    with pytest.raises(DatabaseUnavailable, match="DATABASE_URL"):
        shared.use_once("nonce")
    shared.close()


# --- files only ---------------------------------------------------------------------------------


async def test_the_lock_of_a_deleted_workspace_leaves_no_file(tmp_path: Path) -> None:
    shared = FileSharedState(tmp_path)
    async with shared.lock("workspace", "alice", "ws1") as held:
        held.remove = True
    assert list((tmp_path / "shared" / "locks").iterdir()) == []
    async with shared.lock("workspace", "alice", "ws1"):  # (and it can be taken again)
        pass


def test_a_used_code_file_is_swept_later(tmp_path: Path) -> None:
    first, second = FileSharedState(tmp_path), FileSharedState(tmp_path)
    assert first.use_once("nonce-1")
    (used,) = (tmp_path / "shared" / "used").iterdir()
    long_ago = time.time() - USED_SECONDS - 1
    os.utime(used, (long_ago, long_ago))
    assert second.sweep() == 1


def two_file_authenticators(tmp_path: Path) -> tuple[StandaloneAuth, ...]:
    settings = make_settings(data_dir=tmp_path, admin_token=None, jwt_secret=None)
    return (
        StandaloneAuth(settings, FileSharedState(tmp_path)),
        StandaloneAuth(settings, FileSharedState(tmp_path)),
    )


async def test_a_revocation_counts_on_the_other_whatever_the_file_times_say(
    tmp_path: Path,
) -> None:
    """Regression: a change was noticed by the file's (inode, mtime), which repeat (ext4
    reuses inodes; coarse clocks): the other manager went on accepting a revoked token."""
    first, second = two_file_authenticators(tmp_path)
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
    first, second = two_file_authenticators(tmp_path)
    token, issued = first.issue("alice", None, False, "")
    assert (await second.identify(token)).user_id == "alice"
    first.revoke(issued.id)

    def full(path: Path, text: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("lab_workspace_manager.shared.files._write", full)
    with pytest.raises(OSError):
        second.issue("carol", None, False, "")
    with pytest.raises(Unauthenticated, match="revoked"):
        await second.identify(token)


def test_a_file_of_before_generations_is_read(tmp_path: Path) -> None:
    (tmp_path / "auth.json").write_text('{"jwt_secret": "kept-from-before-0123456789"}')
    assert FileDocument(tmp_path / "auth.json").data["jwt_secret"].startswith("kept")
