"""Shared state as files in `DATA_DIR` (see `__init__.py` for what is shared): for managers
on one host that share one volume, with no server to run.

- locks are `flock`s, released by the kernel if a process dies;
- name claims and used codes are files made with O_EXCL (the first manager wins);
- the last activity of a workspace is a file's modification time;
- documents are JSON files rewritten atomically, with a generation file read on every look.

`flock` holds between processes on one host (the same kernel), so managers that share it run
on one host (on several, use PostgreSQL); what a manager that died left behind is swept by
`sweep`.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import (
    POLL_SECONDS,
    STALE_CLAIM_SECONDS,
    STALE_PENDING_SECONDS,
    USED_SECONDS,
    Document,
    Held,
    HeldElsewhere,
    SharedState,
)


def _key(*parts: str) -> str:
    """A file name for any user id or workspace id (ids may hold characters names cannot)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


class FileSharedState(SharedState):
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.root = data_dir / "shared"
        self.me = secrets.token_hex(8)  # this process, as the holder of a lock
        for folder in ("locks", "names", "activity", "pending", "used"):
            (self.root / folder).mkdir(parents=True, exist_ok=True, mode=0o700)

    # --- locks --------------------------------------------------------------------------------
    @asynccontextmanager
    async def lock(self, *key: str, wait: bool = True) -> AsyncIterator[LockFile]:
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
        fd = _take(self.root / "locks" / _key(*key), blocking=True)
        assert fd is not None
        try:
            yield
        finally:
            os.close(fd)

    # --- names --------------------------------------------------------------------------------
    def claim_name(self, owner: str, folded_name: str) -> str | None:
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
        path = self.root / "names" / _key(owner, folded_name)
        with suppress(FileNotFoundError):
            if path.read_text() == claim:
                path.unlink()

    # --- single use -----------------------------------------------------------------------------
    def use_once(self, nonce: str) -> bool:
        try:
            os.close(os.open(self.root / "used" / _key(nonce), os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            return False
        return True

    # --- activity -----------------------------------------------------------------------------
    def touch(self, workspace_id: str, when: float) -> None:
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

    # --- documents and secrets -----------------------------------------------------------------
    def document(self, name: str) -> FileDocument:
        return FileDocument(self.data_dir / f"{name}.json")

    def kept_secret(self, name: str) -> str:
        """Kept in `DATA_DIR/<name>.key` (mode 0600)."""
        path = self.data_dir / f"{name}.key"
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        value = secrets.token_urlsafe(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return path.read_text().strip()
        with os.fdopen(fd, "w") as out:
            out.write(value)
        return value

    # --- tidying ------------------------------------------------------------------------------
    def sweep(self) -> int:
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
class LockFile(Held):
    path: Path
    fd: int
    remove: bool = False

    def take_over(self, holder: str) -> bool:
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


class FileDocument(Document):
    """A JSON file (mode 0600), rewritten atomically. Each change is made under a lock, on the
    latest version, and counts a generation up (in `<name>.generation`, a few bytes read on
    every look); a generation another manager wrote is read at the next look."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._generation_path = path.with_suffix(".generation")
        self._lock = threading.Lock()
        self.data: dict[str, Any] = {}
        self.generation: str | None = None  # of `data`; None: read again
        self.reload()

    def reload(self) -> bool:
        try:
            generation = self._generation_path.read_text()
        except FileNotFoundError:
            generation = ""  # (written before generations were counted, or never)
        if generation == self.generation:
            return False
        try:
            self.data = json.loads(self.path.read_text())
        except FileNotFoundError:
            self.data = {}
        self.generation = generation
        return True

    @contextmanager
    def changing(self) -> Iterator[dict[str, Any]]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._lock, open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # (released when closed)
            try:
                self.generation = None
                self.reload()
                yield self.data
                _write(self.path, json.dumps(self.data, indent=1, default=str))
                _write(self._generation_path, secrets.token_hex(8))
            finally:
                self.generation = None  # whatever happened, read it again next time


def _write(path: Path, text: str) -> None:
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(temporary, path)
