"""The upload checker against archives made to get past it (pure Python, in memory): each is
refused with what was wrong, quickly, and without reading what it declares into memory."""

from __future__ import annotations

import gzip
import io
import resource
import tarfile
import time

import pytest

from lab_workspace_manager.archives import Limits, check_and_copy
from lab_workspace_manager.errors import InvalidInput

LIMITS = Limits(max_files=1000, max_bytes=10**8)


def member(
    name: str, kind: bytes = tarfile.REGTYPE, link: str = ""
) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, 0o644
    data = b"x" if kind == tarfile.REGTYPE else b""
    info.size = len(data)
    return info, data


def tar_of(*members: tuple[tarfile.TarInfo, bytes], fmt: int = tarfile.GNU_FORMAT) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return out.getvalue()


def check(data: bytes) -> list[str]:
    out = io.BytesIO()
    check_and_copy(io.BytesIO(data), out, LIMITS)
    return [m.name for m in tarfile.open(fileobj=io.BytesIO(out.getvalue()))]


@pytest.mark.parametrize(
    ("members", "why"),
    [
        # A file replaced by a link, then a hard link to it: a second link nobody checked.
        (
            [member("d1/d2/a"), member("d1/d2/a", tarfile.SYMTYPE, "../.."),
             member("b", tarfile.LNKTYPE, "d1/d2/a"), member("b/etc/evil")],
            "twice",
        ),
        # "L" is "." : "L/../x" climbs out of the tree whatever its text says.
        (
            [member("L", tarfile.SYMTYPE, "."), member("e", tarfile.SYMTYPE, "L/../x")],
            "'..' after a name",
        ),
        # A folder made implicitly, then a link in its place, then a hard link through it.
        (
            [member("d1/d2/a"), member("d1", tarfile.SYMTYPE, "."),
             member("b", tarfile.LNKTYPE, "d1/d2/a")],
            "twice (or replaces a folder)",
        ),
        ([member("f"), member("f/inside")], "inside the file 'f'"),
        ([member("l", tarfile.SYMTYPE, "sub"), member("l/x")], "through a symbolic link"),
        ([member("a", tarfile.SYMTYPE, "target"), member("h", tarfile.LNKTYPE, "a")], "hard link"),
        ([member("/".join(["d"] * 300))], "deeper than 256"),
        ([member("n" * 300)], "name of over 255"),
    ],
    ids=["hardlink-to-replaced", "dotdot-after-link", "implicit-folder-replaced", "file-as-folder",
         "through-link", "hardlink-to-symlink", "deep", "long-component"],
)  # fmt: skip
def test_tricks_are_refused(members: list[tuple[tarfile.TarInfo, bytes]], why: str) -> None:
    with pytest.raises(InvalidInput, match="refused at member") as refused:
        check(tar_of(*members))
    assert why in refused.value.message


def test_ordinary_archives_pass_unchanged() -> None:
    names = check(
        tar_of(
            member("dir", tarfile.DIRTYPE),
            member("dir/file"),
            member("dir/sub/deep.txt"),
            member("dir/sub", tarfile.DIRTYPE),  # (explicit after implicit: still a folder)
            member("dir/link", tarfile.SYMTYPE, "../dir/file"),
            member("top", tarfile.SYMTYPE, "/workspace/dir"),
            member("same", tarfile.LNKTYPE, "dir/file"),
        )
    )
    assert names == ["dir", "dir/file", "dir/sub/deep.txt", "dir/sub", "dir/link", "top", "same"]


def test_a_huge_long_name_header_is_refused_unread() -> None:
    """A GNU long-name header declaring 200 MB, compressed to almost nothing."""
    header = tarfile.TarInfo("././@LongLink")
    header.type, header.size = tarfile.GNUTYPE_LONGNAME, 200 * 1024 * 1024
    raw = header.tobuf(format=tarfile.GNU_FORMAT)
    compressed = io.BytesIO()
    with gzip.GzipFile(fileobj=compressed, mode="wb") as gz:
        gz.write(raw)
        zeros = b"\0" * (1024 * 1024)
        for _ in range(200):
            gz.write(zeros)
    assert len(compressed.getvalue()) < 1024 * 1024
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(InvalidInput, match="declares 209715200 bytes"):
        check(compressed.getvalue())
    assert time.monotonic() - started < 5
    grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grew_mb < 50


def test_a_pax_time_that_is_no_number_is_not_a_server_error() -> None:
    info, data = member("f")
    info.pax_headers = {"mtime": "inf"}
    names = check(tar_of((info, data), fmt=tarfile.PAX_FORMAT))
    assert names == ["f"]


def test_copies_under_way_are_bounded_per_user_and_in_all() -> None:
    from lab_workspace_manager.errors import TooManyRequests
    from lab_workspace_manager.snapshots import CopySlots

    slots = CopySlots(per_user=2, in_all=3)
    with slots.held("alice"), slots.held("alice"):
        with pytest.raises(TooManyRequests, match="You have 2 copies"), slots.held("alice"):
            pass
        with (
            slots.held("bob"),
            pytest.raises(TooManyRequests, match="3 copies of files"),
            slots.held("carol"),
        ):
            pass
    with slots.held("alice"), slots.held("alice"):  # (all given back)
        pass
