"""Downloads, snapshots, restores and clones at the API, on the in-memory backend: who may
(the owner and administrators, never a grantee), validation, the limits, and that a download
past its size is cut off rather than ended. The real copies are in tests/docker/test_snapshots.py.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zlib
from collections.abc import AsyncIterator

import pytest

from lab_workspace_manager.backends.measurement import Measurement
from lab_workspace_manager.backends.memory import InMemoryBackend
from lab_workspace_manager.snapshots import ArchiveTooLarge
from tests.support.apiclient import Api, open_api
from tests.support.settings import make_settings

pytestmark = pytest.mark.anyio

FILES = {"notes.txt": b"hello\n", "data/numbers.csv": b"1,2,3\n" * 1000}


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async with open_api(make_settings(snapshot_max_size=1, snapshots_per_user=3)) as api:
        yield api


def files_of(api: Api) -> dict[str, dict[str, bytes]]:
    backend = api.backend
    assert isinstance(backend, InMemoryBackend)
    return backend.files


async def with_files(api: Api, files: dict[str, bytes] = FILES) -> dict:
    workspace = await api.create(display_name="source")
    files_of(api)[workspace["id"]] = dict(files)
    return workspace


def members(archive: bytes) -> dict[str, bytes]:
    found = {}
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(archive)), mode="r:") as tar:
        for member in tar:
            extracted = tar.extractfile(member)
            assert extracted is not None
            found[member.name.removeprefix("./")] = extracted.read()
    return found


async def test_download_is_a_tar_gz_of_workspace(api: Api) -> None:
    workspace = await with_files(api)
    response = await api.client.get(api.path(workspace["id"]) + "/archive")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/gzip"
    assert response.headers["content-disposition"].startswith('attachment; filename="source-')
    assert members(response.content) == FILES


async def test_download_past_the_limit_is_cut_off_not_ended(api: Api) -> None:
    """1 MB allowed, 2 MB of files that compress well: the stream starts, then ends without
    gzip's trailer, so no reader takes it for a whole archive."""
    workspace = await with_files(api, {"big.bin": b"\0" * (2 * 1024 * 1024)})
    received = b""
    with pytest.raises(ArchiveTooLarge, match="more than the 1 MB"):
        async with api.client.stream("GET", api.path(workspace["id"]) + "/archive") as response:
            assert response.status_code == 200
            async for chunk in response.aiter_raw():
                received += chunk
    # (httpx's in-process transport may deliver nothing of it; over HTTP, see the real
    # engine's test: what arrived is a truncated gzip stream.)
    if received:
        with pytest.raises((EOFError, zlib.error)):
            gzip.decompress(received)


async def test_download_refused_before_it_starts_where_the_size_is_known(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = await with_files(api)

    async def measure(disk: bool) -> dict[str, Measurement]:
        return {workspace["id"]: Measurement(volume_used=5)} if disk else {}

    monkeypatch.setattr(api.backend, "measure", measure)
    assert api.app is not None
    await api.app.state.runtime.usage.sample_disk()
    response = await api.client.get(api.path(workspace["id"]) + "/archive")
    assert response.status_code == 409
    assert "holds 5 MB, more than the 1 MB" in response.json()["detail"]


async def test_snapshot_restore_and_clone_copy_the_files(api: Api) -> None:
    workspace = await with_files(api)
    taken = await api.client.post(
        api.path(workspace["id"]) + "/snapshots", json={"name": "before the change"}
    )
    assert taken.status_code == 201, taken.text
    snapshot = taken.json()
    assert snapshot["name"] == "before the change"
    assert snapshot["size"] == sum(len(c) for c in FILES.values())
    assert snapshot["files"] == 2
    assert snapshot["changed_during_copy"] == 0
    files_of(api)[workspace["id"]]["notes.txt"] = b"changed afterwards\n"

    listed = (await api.client.get(api.user_path("snapshots"))).json()
    assert [s["id"] for s in listed] == [snapshot["id"]]

    restored = await api.client.post(
        api.user_path(f"snapshots/{snapshot['id']}:restore"), json={"display_name": "restored"}
    )
    assert restored.status_code == 201, restored.text
    assert files_of(api)[restored.json()["id"]] == FILES

    cloned = await api.client.post(
        api.path(workspace["id"]) + ":clone", json={"display_name": "clone"}
    )
    assert cloned.status_code == 201, cloned.text
    assert files_of(api)[cloned.json()["id"]]["notes.txt"] == b"changed afterwards\n"

    # The rules of any create apply: the name is unique.
    again = await api.client.post(
        api.user_path(f"snapshots/{snapshot['id']}:restore"), json={"display_name": "clone"}
    )
    assert again.status_code == 409

    deleted = await api.client.delete(api.user_path(f"snapshots/{snapshot['id']}"))
    assert deleted.status_code == 204
    assert (await api.client.get(api.user_path("snapshots"))).json() == []
    gone = await api.client.delete(api.user_path(f"snapshots/{snapshot['id']}"))
    assert gone.status_code == 404


async def test_snapshot_names_and_count_are_checked(api: Api) -> None:
    workspace = await with_files(api)
    url = api.path(workspace["id"]) + "/snapshots"
    for bad in ["", "../etc", "a/b", "x" * 65, "-leading dash", "new\nline"]:
        response = await api.client.post(url, json={"name": bad})
        assert response.status_code == 422, bad
    assert (await api.client.post(url, json={"name": "one"})).status_code == 201
    duplicate = await api.client.post(url, json={"name": "one"})
    assert duplicate.status_code == 409
    assert "has a snapshot named 'one' already" in duplicate.json()["detail"]
    for name in ["two", "three"]:
        assert (await api.client.post(url, json={"name": name})).status_code == 201
    too_many = await api.client.post(url, json={"name": "four"})
    assert too_many.status_code == 409
    assert "SNAPSHOTS_PER_USER" in too_many.json()["detail"]


async def test_snapshots_count_toward_the_disk_quota() -> None:
    """3 MB of disk in all; the workspace takes 1, a 2 MB snapshot the rest: a new
    workspace does not fit any more."""
    settings = make_settings(
        quota_disk=3, volume_size_default=1, volume_size_min=1, snapshot_max_size=10
    )
    async with open_api(settings) as api:
        workspace = await with_files(api, {"two-mb": b"x" * (2 * 1024 * 1024)})
        taken = await api.client.post(api.path(workspace["id"]) + "/snapshots", json={"name": "s"})
        assert taken.status_code == 201, taken.text
        refused = await api.client.post(api.path(), json={"display_name": "another"})
        assert refused.status_code == 409, refused.text
        assert "Quota reached" in refused.json()["detail"]


async def test_only_the_owner_and_administrators_get_at_the_data(api: Api) -> None:
    workspace = await with_files(api)
    snapshot = (
        await api.client.post(api.path(workspace["id"]) + "/snapshots", json={"name": "s"})
    ).json()
    other = api.as_user()
    grantee = api.as_user()
    admin = api.as_user(is_admin=True)
    shared = await api.client.put(
        api.path(workspace["id"]) + f"/shares/{grantee.user}", json={"access": "operate"}
    )
    assert shared.status_code == 200, shared.text
    archive = api.path(workspace["id"]) + "/archive"
    restore = api.user_path(f"snapshots/{snapshot['id']}:restore")
    attempts: list[tuple[str, str, dict | None]] = [
        ("GET", archive, None),
        ("GET", api.user_path("snapshots"), None),
        ("POST", api.path(workspace["id"]) + "/snapshots", {"name": "theirs"}),
        ("POST", restore, {"display_name": "stolen"}),
        ("POST", api.path(workspace["id"]) + ":clone", {"display_name": "stolen"}),
        ("DELETE", api.user_path(f"snapshots/{snapshot['id']}"), None),
    ]
    for caller in (other, grantee):
        for method, url, body in attempts:
            response = await caller.client.request(method, url, json=body)
            assert response.status_code == 403, (caller.user, method, url, response.text)
        everyone = await caller.client.get("/snapshots")
        assert everyone.status_code == 403
    # Another user's ids under their own name are simply not there.
    mine = await other.client.get(other.path(workspace["id"]) + "/archive")
    assert mine.status_code == 404
    restore_theirs = await other.client.post(
        other.user_path(f"snapshots/{snapshot['id']}:restore"), json={"display_name": "x"}
    )
    assert restore_theirs.status_code == 404
    delete_theirs = await other.client.delete(other.user_path(f"snapshots/{snapshot['id']}"))
    assert delete_theirs.status_code == 404
    assert files_of(api)[workspace["id"]] == FILES
    # Administrators may.
    downloaded = await admin.client.get(archive)
    assert downloaded.status_code == 200
    assert members(downloaded.content) == FILES
    everyone = (await admin.client.get("/snapshots")).json()
    assert [s["id"] for s in everyone] == [snapshot["id"]]
    assert (
        await admin.client.delete(api.user_path(f"snapshots/{snapshot['id']}"))
    ).status_code == 204


async def test_config_says_whether_snapshots_are_offered(api: Api) -> None:
    config = (await api.client.get("/config")).json()
    assert config["snapshots_available"] is True
    assert config["snapshot_max_size"] == 1


async def test_backends_without_snapshots_say_so() -> None:
    class NoSnapshots(InMemoryBackend):
        name = "swarm"
        snapshots_offered = False

        async def archive(self, owner: str, workspace_id: str) -> AsyncIterator[bytes]:
            raise self.no_snapshots()

        async def take_snapshot(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
            raise self.no_snapshots()

    async with open_api(make_settings(), NoSnapshots()) as api:
        assert (await api.client.get("/config")).json()["snapshots_available"] is False
        workspace = await api.create(display_name="w")
        for response in [
            await api.client.get(api.path(workspace["id"]) + "/archive"),
            await api.client.post(api.path(workspace["id"]) + "/snapshots", json={"name": "s"}),
        ]:
            assert response.status_code == 409
            assert "not offered on the swarm backend" in response.json()["detail"]


# --- uploads --------------------------------------------------------------------------------


def archive_of(*members: tuple[tarfile.TarInfo, bytes | None], compress: bool = True) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz" if compress else "w") as tar:
        for info, content in members:
            if content is not None:
                info.size = len(content)
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return out.getvalue()


def entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, 0o644
    return info


GOOD = [
    (entry("./", tarfile.DIRTYPE), None),
    (entry("./notes.txt"), b"hello\n"),
    (entry("./data", tarfile.DIRTYPE), None),
    (entry("./data/numbers.csv"), b"1,2,3\n" * 1000),
    (entry("./data/link", tarfile.SYMTYPE, "numbers.csv"), None),
    (entry("./data/abs-link", tarfile.SYMTYPE, "/workspace/notes.txt"), None),
    (entry("./hard", tarfile.LNKTYPE, "./notes.txt"), None),
]

BAD = {
    "absolute": ([(entry("/etc/cron.d/evil"), b"x")], "/etc/cron.d/evil", "absolute"),
    "dot-dot": ([(entry("a/../../evil"), b"x")], "a/../../evil", "'..'"),
    "symlink out": (
        [(entry("passwd", tarfile.SYMTYPE, "/etc/passwd"), None)],
        "passwd",
        "outside /workspace",
    ),
    "relative symlink out": (
        [(entry("up", tarfile.SYMTYPE, "../.."), None)],
        "up",
        "outside the archive's tree",
    ),
    "through a symlink": (
        [(entry("here", tarfile.SYMTYPE, "."), None), (entry("here/evil"), b"x")],
        "here/evil",
        "through a symbolic link",
    ),
    "hard link out": (
        [(entry("shadow", tarfile.LNKTYPE, "/etc/shadow"), None)],
        "shadow",
        "hard link",
    ),
    "device": ([(entry("mem", tarfile.CHRTYPE), None)], "mem", "a device"),
    "block device": ([(entry("disk", tarfile.BLKTYPE), None)], "disk", "a device"),
    "fifo": ([(entry("pipe", tarfile.FIFOTYPE), None)], "pipe", "fifo"),
    "too many files": ([(entry(f"f{i}"), b"") for i in range(5)], "f3", "more than 3 files"),
    "too large": ([(entry("big"), b"\0" * (2 * 1024 * 1024))], "big", "more than the 1 MB"),
}


def upload_url(api: Api) -> str:
    return api.path() + ":upload"


@pytest.mark.parametrize("compress", [True, False], ids=["tar.gz", "tar"])
async def test_an_uploaded_archive_becomes_a_workspace(compress: bool) -> None:
    async with open_api(make_settings(upload_max_files=10)) as api:
        response = await api.client.post(
            upload_url(api),
            params={"workspace": '{"display_name": "uploaded", "is_stopped": true}'},
            content=archive_of(*GOOD, compress=compress),
        )
        assert response.status_code == 201, response.text
        workspace = response.json()
        assert workspace["display_name"] == "uploaded" and workspace["is_stopped"]
        assert files_of(api)[workspace["id"]] == {
            "notes.txt": b"hello\n",
            "data/numbers.csv": b"1,2,3\n" * 1000,
        }


@pytest.mark.parametrize("case", list(BAD))
async def test_a_bad_archive_is_refused_naming_the_member_and_nothing_is_made(
    case: str,
) -> None:
    members, name, why = BAD[case]
    async with open_api(make_settings(upload_max_files=3, snapshot_max_size=1)) as api:
        response = await api.client.post(
            upload_url(api), params={"workspace": '{"display_name": "bad"}'},
            content=archive_of(*members),
        )  # fmt: skip
        assert response.status_code == 422, response.text
        detail = response.json()["detail"]
        assert f"member '{name}'" in detail and why in detail, detail
        assert await api.names() == []
        backend = api.backend
        assert isinstance(backend, InMemoryBackend)
        assert backend.volumes == {} and backend.files == {}


async def test_an_upload_that_is_no_archive_or_too_large_is_refused(api: Api) -> None:
    nothing = await api.client.post(upload_url(api), content=b"this is not a tar file" * 100)
    assert nothing.status_code == 422
    assert "not a tar archive" in nothing.json()["detail"]
    # 1 MB allowed: random bytes do not compress, so the upload itself is too large.
    large = await api.client.post(upload_url(api), content=os.urandom(2 * 1024 * 1024))
    assert large.status_code == 422
    assert await api.names() == []


async def test_uploads_are_for_the_owner_and_administrators(api: Api) -> None:
    other = api.as_user()
    refused = await other.client.post(upload_url(api), content=archive_of(*GOOD))
    assert refused.status_code == 403
    admin = api.as_user(is_admin=True)
    made = await admin.client.post(
        upload_url(api), params={"workspace": '{"display_name": "by admin"}'},
        content=archive_of(*GOOD),
    )  # fmt: skip
    assert made.status_code == 201, made.text
    assert made.json()["user_id"] == api.user


async def test_upload_settings_are_validated(api: Api) -> None:
    response = await api.client.post(
        upload_url(api), params={"workspace": '{"compute": {"cpus": -1}}'},
        content=archive_of(*GOOD),
    )  # fmt: skip
    assert response.status_code == 422


async def test_a_download_tells_its_progress() -> None:
    async with open_api(make_settings(snapshot_max_size=100)) as api:
        workspace = await with_files(api, {"big.bin": b"\0" * (40 * 1024 * 1024)})
        response = await api.client.get(api.path(workspace["id"]) + "/archive")
        assert response.status_code == 200
        assert api.app is not None
        events = api.app.state.runtime.events.history(workspace["id"])
        # Told at 16 and 32 MB; the history keeps a copy's latest progress only (many copies
        # must not push the workspace's own events out of it).
        copying = [e.current for e in events if e.phase == "copying"]
        assert copying == [32 * 1024 * 1024], copying
        assert events[-1].phase == "copied"
