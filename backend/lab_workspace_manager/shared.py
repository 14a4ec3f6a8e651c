"""What managers running side by side against one engine share: kept in `DATA_DIR/shared`.

Several manager processes (replicas behind one address, or an old and a new one during an
update) keep every invariant when they are given the same `DATA_DIR` (one volume), as they must
be anyway for sign-in tokens. What the engine's labels do not hold lives here, as small files
that need no server:

- locks (`flock`, released by the kernel if a process dies): per owner, while quotas are
  checked and what they allowed is made; per workspace, while it is being changed (so two
  managers never build the same workspace twice);
- names being created or renamed (files made with O_EXCL: the first manager wins);
- the last activity of each workspace (a file's modification time), so that one manager's
  idle watcher sees the traffic the others' proxies saw;
- how a background create is getting on (its pull's progress, or why it failed);
- which hand-off codes were used.

`flock` holds between processes on one host (the same kernel), so managers that share it run
on one host; what is left behind by a manager that died is swept by `sweep`.

A process's own waiting is still done in memory first (see `operations.py`): these files only
settle what another process may be doing at the same time.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

POLL_SECONDS = 0.02  # how often a lock held by another manager is tried again
STALE_CLAIM_SECONDS = 600  # a name claim this old was left by a manager that died mid-way
STALE_PENDING_SECONDS = 300  # a pull that told nothing for this long is not under way
USED_SECONDS = 600  # a used hand-off code is remembered this long (codes live a minute)


def _key(*parts: str) -> str:
    """A file name for any user id or workspace id (ids may hold characters names cannot)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


class HeldElsewhere(Exception):
    """Another manager process holds the lock."""


class SharedState:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "shared"
        self.me = secrets.token_hex(8)  # this process, as the holder of a lock
        for folder in ("locks", "names", "activity", "pending", "used"):
            (self.root / folder).mkdir(parents=True, exist_ok=True, mode=0o700)

    # --- locks --------------------------------------------------------------------------------
    @asynccontextmanager
    async def lock(self, *key: str, wait: bool = True) -> AsyncIterator[LockFile]:
        """Hold the lock named by `key` against other processes. Without `wait`, a lock held
        elsewhere raises `HeldElsewhere` at once. Waiting polls: it never holds a thread."""
        path = self.root / "locks" / _key(*key)
        while (fd := _take(path, blocking=False)) is None:
            if not wait:
                raise HeldElsewhere
            await asyncio.sleep(POLL_SECONDS)
        held = LockFile(path, fd)
        try:
            yield held
        finally:
            if held.remove:
                with suppress(FileNotFoundError):
                    path.unlink()
            os.close(fd)  # (releases the lock)

    @contextmanager
    def holding(self, *key: str) -> Iterator[None]:
        """`lock`, for a worker thread: waits for the lock in the thread."""
        fd = _take(self.root / "locks" / _key(*key), blocking=True)
        assert fd is not None
        try:
            yield
        finally:
            os.close(fd)

    # --- names --------------------------------------------------------------------------------
    def claim_name(self, owner: str, folded_name: str) -> str | None:
        """Claim a display name while a workspace is created or renamed to it: the claim (to
        release it with), or None if another request (of any manager) holds it."""
        path = self.root / "names" / _key(owner, folded_name)
        claim = secrets.token_hex(8)
        for _ in range(2):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                with suppress(FileNotFoundError):
                    if time.time() - path.stat().st_mtime < STALE_CLAIM_SECONDS:
                        return None
                    path.unlink()  # left by a manager that died: take it over
                continue
            with os.fdopen(fd, "w") as out:
                out.write(claim)
            return claim
        return None

    def release_name(self, owner: str, folded_name: str, claim: str) -> None:
        """Release `claim`, and nothing else (another request may have taken the name over)."""
        path = self.root / "names" / _key(owner, folded_name)
        with suppress(FileNotFoundError):
            if path.read_text() == claim:
                path.unlink()

    # --- single use -----------------------------------------------------------------------------
    def use_once(self, nonce: str) -> bool:
        """True the first time any manager asks about `nonce` (a hand-off code's), False
        after, for USED_SECONDS (longer than any code lives)."""
        try:
            os.close(os.open(self.root / "used" / _key(nonce), os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            return False
        return True

    # --- activity -----------------------------------------------------------------------------
    def touch(self, workspace_id: str, when: float) -> None:
        """Tell the others of activity at `when`: only ever later than what they know (an
        older moment, such as the last activity a workspace's Jupyter reports, moves nothing)."""
        path = self.root / "activity" / _key(workspace_id)
        try:
            if path.stat().st_mtime >= when:
                return
        except FileNotFoundError:
            with suppress(FileExistsError):
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.utime(path, (when, when))

    def last_activity(self, workspace_id: str) -> float | None:
        try:
            return (self.root / "activity" / _key(workspace_id)).stat().st_mtime
        except FileNotFoundError:
            return None

    def forget_activity(self, workspace_id: str) -> None:
        with suppress(FileNotFoundError):
            (self.root / "activity" / _key(workspace_id)).unlink()

    # --- creates under way --------------------------------------------------------------------
    def set_pending(self, workspace_id: str, status: str, message: str) -> None:
        path = self.root / "pending" / _key(workspace_id)
        temporary = path.with_suffix(f".{os.getpid()}.{secrets.token_hex(4)}.tmp")
        temporary.write_text(json.dumps({"status": status, "message": message}))
        os.replace(temporary, path)

    def pending(self, workspace_id: str) -> tuple[str, str] | None:
        """(status, message) of a create under way ("pending") or failed in any manager. One
        not told about for STALE_PENDING_SECONDS was left by a manager that died mid-way (or
        failed long ago: then the workspace reads as its record and engine say)."""
        path = self.root / "pending" / _key(workspace_id)
        try:
            found = json.loads(path.read_text())
            age = time.time() - path.stat().st_mtime
        except (FileNotFoundError, ValueError):
            return None
        if age > STALE_PENDING_SECONDS:
            return None
        return str(found["status"]), str(found["message"])

    def clear_pending(self, workspace_id: str) -> None:
        with suppress(FileNotFoundError):
            (self.root / "pending" / _key(workspace_id)).unlink()

    # --- tidying ------------------------------------------------------------------------------
    def sweep(self) -> int:
        """Remove what no manager needs any more (run now and then); how many files."""
        now, removed = time.time(), 0
        for folder, age in (
            ("used", USED_SECONDS),
            ("pending", STALE_PENDING_SECONDS),
            ("names", STALE_CLAIM_SECONDS),
        ):
            for path in (self.root / folder).iterdir():
                with suppress(FileNotFoundError):
                    if now - path.stat().st_mtime > age:
                        path.unlink()
                        removed += 1
        return removed


@dataclass
class LockFile:
    path: Path
    fd: int
    remove: bool = False  # set by its holder: nothing will need this lock again

    def take_over(self, holder: str) -> bool:
        """Write `holder` into the lock; whether the last one to write was another."""
        os.lseek(self.fd, 0, os.SEEK_SET)
        last = os.read(self.fd, 64).decode(errors="replace")
        if last != holder:
            os.lseek(self.fd, 0, os.SEEK_SET)
            os.ftruncate(self.fd, 0)
            os.write(self.fd, holder.encode())
        return last != holder


def _take(path: Path, blocking: bool) -> int | None:
    """A descriptor holding the lock on the file at `path`; None if another holds it and
    not `blocking`. The file locked is the one still there (not removed by its last holder
    while this waited)."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        if _still_there(fd, path):
            return fd
        os.close(fd)


def _still_there(fd: int, path: Path) -> bool:
    """Whether the locked file is still the one at `path` (not removed by its last holder)."""
    try:
        return os.fstat(fd).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False
