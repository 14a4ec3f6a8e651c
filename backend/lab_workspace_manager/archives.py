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
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Protocol, cast

import anyio.from_thread

from .errors import InvalidInput
from .settings import MIB

CHUNK = 256 * 1024
PROGRESS_BYTES = 16 * MIB
# Names: what file systems take (a component of 255 bytes, a path of 4096), and no deeper
# than any real tree; all names together, what is kept of them while checking.
MAX_NAME = 4096
MAX_COMPONENT = 255
MAX_DEPTH = 256
MAX_NAMES_BYTES = 64 * MIB
# A long-name or pax header is read whole before any check: larger ones are refused unread.
MAX_HEADER_BYTES = 64 * 1024
# An upload slower than this (bytes a second, averaged after its first minute) is given up.
MIN_UPLOAD_RATE = 16 * 1024
SLOW_AFTER_SECONDS = 60.0
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


class CheckedTarInfo(tarfile.TarInfo):
    """Refuses GNU long-name and pax headers larger than MAX_HEADER_BYTES before `tarfile`
    reads them (it reads them whole, into memory: a few compressed bytes could declare
    gigabytes)."""

    def _proc_gnulong(self, archive: tarfile.TarFile) -> tarfile.TarInfo:
        self._refuse_large()
        read: tarfile.TarInfo = super()._proc_gnulong(archive)  # type: ignore[misc]
        return read

    def _proc_pax(self, archive: tarfile.TarFile) -> tarfile.TarInfo:
        self._refuse_large()
        read: tarfile.TarInfo = super()._proc_pax(archive)  # type: ignore[misc]
        return read

    def _refuse_large(self) -> None:
        if self.size > MAX_HEADER_BYTES:
            raise refuse(
                self.name or "(a header)",
                f"a header of it declares {self.size} bytes of names or attributes",
            )


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
    if len(member) > MAX_NAME:
        raise refuse(member, f"its path is longer than {MAX_NAME} characters")
    parts = [p for p in member.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise refuse(member, "its path contains '..'")
    if len(parts) > MAX_DEPTH or any(len(p) > MAX_COMPONENT for p in parts):
        raise refuse(
            member, f"its path is deeper than {MAX_DEPTH} or has a name of over {MAX_COMPONENT}"
        )
    return "/".join(parts) or None


def _inside(member: str, path: str, target: str) -> str:
    """The target of a link at `path`, relative to the tree; refused if it leaves it. An
    absolute target is taken as inside the tree only under /workspace. `..` may only lead a
    target: after a name, it would climb out of whatever that name is, a link made later
    included, which no text of the path can tell."""
    if len(target) > MAX_NAME:
        raise refuse(member, f"its link target is longer than {MAX_NAME} characters")
    relative = target[len("/workspace") :] if target.startswith("/workspace/") else target
    parts = [p for p in relative.split("/") if p not in ("", ".")]
    climbing = True
    for part in parts:
        if part != "..":
            climbing = False
        elif not climbing:
            raise refuse(member, f"its link target '{target}' has '..' after a name")
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
    files = size = names = 0
    # Every path so far, explicit or a parent of one: "d"irectory, "f"ile or "l"ink. A path
    # has one kind: written twice, or a file or link where a directory was, is refused, so
    # what was checked stays what it is (a later link cannot redirect an earlier path).
    kinds: dict[str, str] = {}
    try:
        # (closed by the `with` below)
        reader = tarfile.open(  # noqa: SIM115
            fileobj=cast(IO[bytes], source), mode="r|*", tarinfo=CheckedTarInfo
        )
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
                names += len(path)
                if names > MAX_NAMES_BYTES:
                    raise refuse(member.name, "the archive's names are too long in all")
                _enter_parents(member.name, path, kinds)
                known = kinds.get(path)
                if known is not None and not (known == "d" and member.isdir()):
                    raise refuse(member.name, "it is in the archive twice (or replaces a folder)")
                files += 1
                if files > limits.max_files:
                    raise refuse(member.name, f"the archive has more than {limits.max_files} files")
                info = tarfile.TarInfo(path)
                info.mode = member.mode & MODE_BITS
                info.uid, info.gid, info.mtime = member.uid, member.gid, _seconds(member.mtime)
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
                    kinds[path] = "f"
                elif member.isdir():
                    info.type = tarfile.DIRTYPE
                    kinds[path] = "d"
                elif member.issym():
                    _inside(member.name, path, member.linkname)
                    info.type, info.linkname = tarfile.SYMTYPE, member.linkname
                    kinds[path] = "l"
                elif member.islnk():
                    try:
                        target = _clean(member.linkname)
                    except InvalidInput:
                        target = None
                    # (A file's parents are directories for good: none can become a link.)
                    if target is None or kinds.get(target) != "f":
                        raise refuse(
                            member.name,
                            f"it is a hard link to '{member.linkname}', not to a file before "
                            "it in the archive",
                        )
                    info.type, info.linkname = tarfile.LNKTYPE, target
                    kinds[path] = "f"
                elif member.ischr() or member.isblk():
                    raise refuse(member.name, "it is a device")
                elif member.isfifo():
                    raise refuse(member.name, "it is a named pipe (fifo)")
                else:
                    raise refuse(member.name, "it is neither a file, a directory nor a link")
                writer.addfile(info, content)
        except (tarfile.TarError, ValueError, OverflowError) as exc:
            raise InvalidInput(
                f"The archive is damaged or cut short ({exc}). Nothing was created; upload "
                "it again."
            ) from None
    return Counted(files=files, size=size)


def _enter_parents(member: str, path: str, kinds: dict[str, str]) -> None:
    """Note the parents of `path` as directories; refused if one is a link (what is written
    through a link lands where it points) or a file."""
    at = path.find("/")
    while at != -1:
        parent = path[:at]
        kind = kinds.setdefault(parent, "d")
        if kind == "l":
            raise refuse(member, "it would be written through a symbolic link")
        if kind == "f":
            raise refuse(member, f"it would be written inside the file '{parent}'")
        at = path.find("/", at + 1)


def _seconds(mtime: float) -> int:
    """A member's time as whole seconds; one that is none (inf, nan, huge) is 0."""
    try:
        return max(0, min(int(mtime), 2**33))
    except (ValueError, OverflowError):
        return 0


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
        self._began = time.monotonic()

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
            took = time.monotonic() - self._began
            if took > SLOW_AFTER_SECONDS and self._read / took < MIN_UPLOAD_RATE:
                # (A client that trickles bytes would hold a copy's place for hours.)
                raise InvalidInput(
                    f"The upload came too slowly ({self._read // 1024} kB in {took:.0f} s). "
                    "Nothing was created; upload it again over a faster connection."
                )
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
