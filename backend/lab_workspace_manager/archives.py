"""Uploaded archives: read as a stream, each member checked before anything of it is written.

A user may upload any bytes, so the archive is never handed to an extractor as it came. It is
read with `tarfile` in stream mode (gzip or plain tar, one pass, nothing kept), and every
member is checked: a relative path without `..`, a regular file, directory or link, links that
stay inside the tree (and no member written through a link), no devices or fifos, at most so
many files and bytes. What passes is written anew, member by member, into a fresh tar stream
(`out`): what reaches the engine is exactly what was checked, with plain headers (no extended
attributes, no set-user-id bits). The first member that fails ends it all with `InvalidInput`
naming that member; the caller then removes whatever was made.
"""

from __future__ import annotations

import posixpath
import queue
import tarfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Protocol, cast

import anyio.from_thread

from .errors import InvalidInput
from .settings import MIB

CHUNK = 256 * 1024
PROGRESS_BYTES = 16 * MIB
# Permissions, sticky bit included; set-user-id and set-group-id are dropped.
MODE_BITS = 0o1777


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Writable(Protocol):
    def write(self, data: Any, /) -> int: ...


@dataclass(frozen=True)
class Limits:
    max_files: int
    max_bytes: int  # of the files' contents, and of the upload itself


@dataclass(frozen=True)
class Counted:
    files: int
    size: int


def refuse(member: str, why: str) -> InvalidInput:
    shown = member if len(member) <= 200 else member[:200] + "…"
    return InvalidInput(
        f"The archive was refused at member '{shown}': {why}. Nothing was created; fix the "
        "archive (a .tar or .tar.gz of the files of /workspace) and upload it again."
    )


def _clean(member: str) -> str | None:
    """The member's path relative to the tree; None for the tree itself ("./")."""
    if member.startswith("/"):
        raise refuse(member, "its path is absolute")
    parts = [p for p in member.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise refuse(member, "its path contains '..'")
    return "/".join(parts) or None


def _inside(member: str, path: str, target: str) -> str:
    """The target of a link at `path`, relative to the tree; refused if it leaves it. An
    absolute target is taken as inside the tree only under /workspace."""
    if target.startswith("/"):
        if target != "/workspace" and not target.startswith("/workspace/"):
            raise refuse(member, f"it links to '{target}', outside /workspace")
        resolved = posixpath.normpath(target[len("/workspace") :].lstrip("/") or ".")
    else:
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    if resolved == ".." or resolved.startswith("../"):
        raise refuse(member, f"it links to '{target}', outside the archive's tree")
    return resolved


def check_and_copy(source: Readable, out: Writable, limits: Limits) -> Counted:
    """Read the archive in `source` (tar, or tar compressed with gzip, bzip2 or xz) and
    write what passes every check to `out` as a tar stream; `InvalidInput` at the first
    member that does not."""
    files = size = 0
    links: set[str] = set()  # symbolic links so far: nothing is written through one
    regular: set[str] = set()  # regular files so far: what a hard link may point to
    try:
        # (closed by the `with` below)
        reader = tarfile.open(fileobj=cast(IO[bytes], source), mode="r|*")  # noqa: SIM115
    except tarfile.ReadError as exc:
        raise InvalidInput(
            f"The upload is not a tar archive (.tar or .tar.gz): {exc}. Nothing was created."
        ) from None
    with (
        reader,
        tarfile.open(fileobj=cast(IO[bytes], out), mode="w|", format=tarfile.PAX_FORMAT) as writer,
    ):
        try:
            for member in reader:
                path = _clean(member.name)
                if path is None:
                    continue
                parents = path.split("/")[:-1]
                for depth in range(1, len(parents) + 1):
                    if "/".join(parents[:depth]) in links:
                        raise refuse(member.name, "it would be written through a symbolic link")
                files += 1
                if files > limits.max_files:
                    raise refuse(member.name, f"the archive has more than {limits.max_files} files")
                info = tarfile.TarInfo(path)
                info.mode = member.mode & MODE_BITS
                info.uid, info.gid, info.mtime = member.uid, member.gid, int(member.mtime)
                content = None
                if member.isreg():
                    size += member.size
                    if size > limits.max_bytes:
                        raise refuse(
                            member.name,
                            f"the files hold more than the {limits.max_bytes // MIB} MB allowed",
                        )
                    info.type, info.size = tarfile.REGTYPE, member.size
                    content = reader.extractfile(member)
                    regular.add(path)
                    links.discard(path)
                elif member.isdir():
                    info.type = tarfile.DIRTYPE
                    links.discard(path)
                elif member.issym():
                    _inside(member.name, path, member.linkname)
                    info.type, info.linkname = tarfile.SYMTYPE, member.linkname
                    links.add(path)
                elif member.islnk():
                    try:
                        target = _clean(member.linkname)
                    except InvalidInput:
                        target = None
                    if target is None or target not in regular:
                        raise refuse(
                            member.name,
                            f"it is a hard link to '{member.linkname}', not to a file before "
                            "it in the archive",
                        )
                    info.type, info.linkname = tarfile.LNKTYPE, target
                    regular.add(path)
                elif member.ischr() or member.isblk():
                    raise refuse(member.name, "it is a device")
                elif member.isfifo():
                    raise refuse(member.name, "it is a named pipe (fifo)")
                else:
                    raise refuse(member.name, "it is neither a file, a directory nor a link")
                writer.addfile(info, content)
        except tarfile.TarError as exc:
            raise InvalidInput(
                f"The archive is damaged or cut short ({exc}). Nothing was created; upload "
                "it again."
            ) from None
    return Counted(files=files, size=size)


class Body:
    """The request's body as a file that a worker thread reads (`tarfile` wants one): each
    read waits on the event loop for the next chunk. `InvalidInput` past `max_bytes`."""

    def __init__(self, chunks: AsyncIterator[bytes], max_bytes: int) -> None:
        self._chunks = chunks
        self._max = max_bytes
        self._buffer = b""
        self._read = 0
        self._done = False
        # Told the bytes read so far, every PROGRESS_BYTES (set by whoever reads it).
        self.progress: Callable[[int], None] = lambda read: None
        self._told = 0

    async def _next(self) -> bytes:
        try:
            return await self._chunks.__anext__()
        except StopAsyncIteration:
            return b""

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._buffer) < size):
            chunk = anyio.from_thread.run(self._next)
            if not chunk:
                self._done = True
                break
            self._read += len(chunk)
            if self._read - self._told >= PROGRESS_BYTES:
                self.progress(self._read)
                self._told = self._read
            if self._read > self._max:
                raise InvalidInput(
                    f"The upload is larger than the {self._max // MIB} MB allowed "
                    "(SNAPSHOT_MAX_SIZE). Nothing was created."
                )
            self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


class ReaderGone(Exception):
    """The reader of a `Pipe` stopped (the engine ended the request): its error says why."""


class Pipe:
    """A bounded hand-over of bytes from one thread (`write`) to another (`chunks`): the
    checked tar goes to the engine as it is made, never whole in memory."""

    _END = b""

    def __init__(self, depth: int = 8) -> None:
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(depth)
        self._buffer = bytearray()
        self.reader_gone = threading.Event()

    def write(self, data: Any) -> int:
        self._buffer += bytes(data)
        if len(self._buffer) >= CHUNK:
            self._put(bytes(self._buffer))
            self._buffer.clear()
        return len(data)

    def _put(self, item: bytes | BaseException) -> None:
        while not self.reader_gone.is_set():
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue
        raise ReaderGone()

    def close(self) -> None:
        if self._buffer:
            self._put(bytes(self._buffer))
            self._buffer.clear()
        self._put(self._END)

    def fail(self, exc: BaseException) -> None:
        """The reader's next chunk raises `exc` (so the engine never sees an end)."""
        self._put(exc)

    def chunks(self) -> Iterator[bytes]:
        try:
            while True:
                item = self._queue.get()
                if isinstance(item, BaseException):
                    raise item
                if item == self._END:
                    return
                yield item
        finally:
            self.reader_gone.set()
