"""Downloads, snapshots, restores and clones on the real engine: the files (md5 of each, modes
and links) survive every round trip; a snapshot of a workspace whose files change while it is
copied says so; a copy that fails or is cut short by a killed manager leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from lab_workspace_manager.backends.docker import copies as C
from lab_workspace_manager.backends.docker.backend import DockerBackend
from tests.support.apiclient import Api
from tests.support.engine import owned
from tests.support.settings import (
    ADMIN_TOKEN,
    SESSION_INSTANCE,
    environment_of,
    make_settings,
)

pytestmark = pytest.mark.anyio

# Files of every kind a user makes: nested, empty, binary, executable, a link inside.
MAKE_FILES = r"""
set -e
mkdir -p /workspace/project/data /workspace/empty-dir
printf 'hello\n' > /workspace/notes.txt
head -c 300000 /dev/urandom > /workspace/project/data/random.bin
: > /workspace/project/empty
printf '#!/bin/sh\necho run\n' > /workspace/project/run.sh && chmod 750 /workspace/project/run.sh
ln -s project/run.sh /workspace/link-to-run
"""
# path, type, mode and md5 of every file, sorted: what a round trip must keep.
LIST_FILES = r"""
cd /workspace && find . -mindepth 1 ! -name '.*' | sort | while read -r f; do
  if [ -L "$f" ]; then echo "$f link $(readlink "$f")";
  elif [ -d "$f" ]; then echo "$f dir $(stat -c %a "$f")";
  else echo "$f file $(stat -c %a "$f") $(md5sum < "$f" | cut -d' ' -f1)"; fi
done
"""


def container_of(
    engine: docker.DockerClient, workspace_id: str, instance: str = SESSION_INSTANCE
) -> Any:
    found = engine.containers.list(
        all=True,
        filters={"label": [f"lwm.instance={instance}", f"lwm.workspace={workspace_id}",
                           "lwm.kind=workspace"]},
    )  # fmt: skip
    assert len(found) == 1, (workspace_id, found)
    return found[0]


def run(container: Any, script: str) -> str:
    code, output = container.exec_run(["sh", "-c", script])
    assert code == 0, output
    return str(output.decode())


def listing_of_archive(archive: bytes) -> str:
    """LIST_FILES's output, of the members of a .tar.gz."""
    lines = []
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(archive)), mode="r:") as tar:
        for member in tar:
            name = member.name if member.name.startswith("./") else "./" + member.name
            if name in ("./", ".") or name.split("/")[1].startswith("."):
                continue
            mode = f"{member.mode & 0o7777:o}"
            if member.issym():
                lines.append(f"{name} link {member.linkname}")
            elif member.isdir():
                lines.append(f"{name.rstrip('/')} dir {mode}")
            else:
                extracted = tar.extractfile(member)
                assert extracted is not None
                digest = hashlib.md5(extracted.read()).hexdigest()
                lines.append(f"{name} file {mode} {digest}")
    return "\n".join(sorted(lines)) + "\n"


async def with_files(api: Api, engine: docker.DockerClient, name: str) -> tuple[dict, str]:
    workspace = await api.create_running(display_name=name)
    container = container_of(engine, workspace["id"])
    run(container, MAKE_FILES)
    return workspace, run(container, LIST_FILES)


async def test_download_running_and_stopped_keeps_every_file(
    api: Api, engine: docker.DockerClient
) -> None:
    workspace, files = await with_files(api, engine, "download")
    assert "random.bin file 644" in files and "link-to-run link project/run.sh" in files
    url = api.path(workspace["id"]) + "/archive"
    running = await api.client.get(url)
    assert running.status_code == 200, running.text
    assert listing_of_archive(running.content) == files
    await api.action(workspace["id"], "stop")
    stopped = await api.client.get(url)
    assert stopped.status_code == 200, stopped.text
    assert listing_of_archive(stopped.content) == files
    # Nothing of the download is left on the engine.
    assert owned(engine, kind=C.KIND_ARCHIVER)["containers"] == []


async def test_snapshot_restore_and_clone_keep_every_file(
    api: Api, engine: docker.DockerClient
) -> None:
    workspace, files = await with_files(api, engine, "original")
    taken = await api.client.post(api.path(workspace["id"]) + "/snapshots", json={"name": "first"})
    assert taken.status_code == 201, taken.text
    snapshot = taken.json()
    assert snapshot["files"] == files.count("\n") and snapshot["size"] > 300000
    listed = await api.client.get(api.user_path("snapshots"))
    assert [s["id"] for s in listed.json()] == [snapshot["id"]]
    # Changed afterwards: the snapshot keeps what was.
    run(container_of(engine, workspace["id"]), "echo later > /workspace/notes.txt")

    restored = await api.client.post(
        api.user_path(f"snapshots/{snapshot['id']}:restore"), json={"display_name": "restored"}
    )
    assert restored.status_code == 201, restored.text
    assert run(container_of(engine, restored.json()["id"]), LIST_FILES) == files

    cloned = await api.client.post(
        api.path(workspace["id"]) + ":clone", json={"display_name": "cloned"}
    )
    assert cloned.status_code == 201, cloned.text
    clone_files = run(container_of(engine, cloned.json()["id"]), LIST_FILES)
    assert clone_files == run(container_of(engine, workspace["id"]), LIST_FILES) != files

    # A snapshot outlives its workspace; deleting it removes its volume.
    await api.client.delete(api.path(workspace["id"]), params={"delete_volumes": "true"})
    assert [s["id"] for s in (await api.client.get(api.user_path("snapshots"))).json()] == [
        snapshot["id"]
    ]
    assert owned(engine, snapshot=snapshot["id"])["volumes"] != []
    deleted = await api.client.delete(api.user_path(f"snapshots/{snapshot['id']}"))
    assert deleted.status_code == 204
    assert owned(engine, snapshot=snapshot["id"]) == {
        "containers": [], "volumes": [], "networks": []
    }  # fmt: skip
    assert owned(engine, kind=C.KIND_COPIER)["containers"] == []


async def test_a_snapshot_of_files_changing_during_the_copy_says_so(
    api: Api, engine: docker.DockerClient
) -> None:
    workspace, _ = await with_files(api, engine, "busy")
    container = container_of(engine, workspace["id"])
    # Enough files that the copy takes a while, and a writer that keeps changing them.
    run(container, "mkdir /workspace/many && cd /workspace/many && "
                   "for i in $(seq 1 3000); do echo $i > f$i; done")  # fmt: skip
    quiet = await api.client.post(api.path(workspace["id"]) + "/snapshots", json={"name": "q"})
    assert quiet.status_code == 201, quiet.text
    assert quiet.json()["changed_during_copy"] == 0
    container.exec_run(
        ["sh", "-c", "while true; do for i in $(seq 1 3000); do date +%N > /workspace/many/f$i;"
                     " done; done"],
        detach=True,
    )  # fmt: skip
    time.sleep(0.5)
    busy = await api.client.post(api.path(workspace["id"]) + "/snapshots", json={"name": "b"})
    assert busy.status_code == 201, busy.text
    assert busy.json()["changed_during_copy"] > 0, busy.json()


async def test_a_failed_restore_leaves_nothing(open_api: Any, engine: docker.DockerClient) -> None:
    """A snapshot larger than the new workspace's disk: refused by the copier, and the new
    workspace, its volume and its containers are gone."""
    async with open_api(volume_size_min=1) as api:
        workspace = await api.create_running(display_name="big")
        run(container_of(engine, workspace["id"]), "head -c 3000000 /dev/zero > /workspace/big")
        snapshot = (
            await api.client.post(api.path(workspace["id"]) + "/snapshots", json={"name": "s"})
        ).json()
        before = owned(engine, owner=api.user)
        refused = await api.client.post(
            api.user_path(f"snapshots/{snapshot['id']}:restore"),
            json={"display_name": "too small", "compute": {"volume_size": 1}},
        )
        assert refused.status_code == 409, refused.text
        assert "more than the 1 MB a copy may have" in refused.json()["detail"]
        assert await api.names() == ["big"]
        assert owned(engine, owner=api.user) == before


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


MANAGER_SETTINGS = (
    "workspace_backend", "instance_id", "workspace_image_default", "workspace_image_pull",
    "cpus_default", "memory_default", "memory_min", "volume_size_default", "admin_token",
    "jwt_secret", "data_dir", "port", "snapshot_max_size",
)  # fmt: skip


async def test_a_copy_cut_by_a_killed_manager_leaves_nothing_half_made(
    engine: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A manager (uvicorn, in a process of its own) is killed with SIGKILL while it takes a
    snapshot and while it restores one: after the next reconcile neither the snapshot nor the
    new workspace is there, nor anything of them on the engine."""
    port = free_port()
    settings = make_settings(workspace_backend="docker", data_dir=tmp_path, port=port)
    environment = {**os.environ, **environment_of(settings, *MANAGER_SETTINGS)}
    user = "killed-" + os.urandom(2).hex()
    base = f"http://127.0.0.1:{port}/users/{user}"
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def start() -> subprocess.Popen[bytes]:
        with (tmp_path / "manager.log").open("ab") as log:  # (the process has its own copy)
            process = subprocess.Popen(
                [sys.executable, "-m", "lab_workspace_manager.app"], env=environment,
                stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    return process
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "manager.log").read_text()
            time.sleep(0.2)

    def kill_while_copying(process: subprocess.Popen[bytes], request: Any) -> None:
        with httpx.Client(headers=headers, timeout=120) as client:
            thread = threading.Thread(target=lambda: _ignore(request, client), daemon=True)
            thread.start()
            deadline = time.monotonic() + 60
            copiers = {"label": [f"lwm.instance={SESSION_INSTANCE}", f"lwm.kind={C.KIND_COPIER}"]}
            while not engine.containers.list(filters=copiers):  # (running ones)
                assert time.monotonic() < deadline, "no copy started"
                time.sleep(0.05)
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            thread.join(10)

    def until_copiers_ended() -> None:
        deadline = time.monotonic() + 120
        copiers = {"label": [f"lwm.instance={SESSION_INSTANCE}", f"lwm.kind={C.KIND_COPIER}"]}
        while any(c.status == "running" for c in engine.containers.list(filters=copiers)):
            assert time.monotonic() < deadline, "a copier runs on"
            time.sleep(0.2)

    # (A snapshot volume without its record is otherwise given minutes: another manager may
    # be about to write the record.)
    monkeypatch.setattr(C, "RECORD_GRACE", timedelta(0))
    process = start()
    try:
        with httpx.Client(headers=headers, timeout=120) as client:
            made = client.post(f"{base}/workspace", params={"wait": "true"},
                               json={"display_name": "source"})  # fmt: skip
            assert made.status_code == 201, made.text
            workspace = made.json()
        # Many small files: a copy of seconds.
        run(container_of(engine, workspace["id"]),
            "mkdir /workspace/many && cd /workspace/many && "
            "for i in $(seq 1 20000); do echo $i > f$i; done")  # fmt: skip

        snapshot_url = f"{base}/workspace/{workspace['id']}/snapshots"
        kill_while_copying(process, lambda c: c.post(snapshot_url, json={"name": "cut"}))
        until_copiers_ended()
        backend = DockerBackend(settings)
        try:
            await backend.reconcile()
            assert await backend.snapshots(user) == []
        finally:
            await backend.close()
        assert owned(engine, owner=user, kind=C.KIND_SNAPSHOT_DATA)["volumes"] == []
        assert owned(engine, owner=user, kind=C.KIND_COPIER)["containers"] == []

        # A complete snapshot, then a restore of it cut short.
        process = start()
        with httpx.Client(headers=headers, timeout=120) as client:
            taken = client.post(snapshot_url, json={"name": "whole"})
            assert taken.status_code == 201, taken.text
        restore_url = f"{base}/snapshots/{taken.json()['id']}:restore"
        kill_while_copying(process, lambda c: c.post(restore_url, json={"display_name": "cut"}))
        until_copiers_ended()
        backend = DockerBackend(settings)
        try:
            await backend.reconcile()
            names = [w.spec.display_name for w in await backend.list_workspaces(user)]
            assert names == ["source"]
            assert [s.name for s in await backend.snapshots(user)] == ["whole"]
        finally:
            await backend.close()
        volumes = owned(engine, owner=user, kind="volume")["volumes"]
        assert volumes == [f"{SESSION_INSTANCE}-{user}-{workspace['id']}-data"]
        assert owned(engine, owner=user, kind=C.KIND_COPIER)["containers"] == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        backend = DockerBackend(settings)  # (what is the user's goes, their network too)
        try:
            for snapshot in await backend.snapshots(user):
                await backend.delete_snapshot(user, snapshot.id)
            for state in await backend.list_workspaces(user):
                await backend.delete(user, state.id, delete_volume=True)
        finally:
            await backend.close()


def _ignore(request: Any, client: httpx.Client) -> None:
    with contextlib.suppress(httpx.HTTPError):  # (the manager was killed under it)
        request(client)


async def test_a_download_past_the_limit_is_cut_off_over_http(
    engine: docker.DockerClient, tmp_path: Path
) -> None:
    """Over real HTTP (uvicorn): the response starts, then ends without the end of the
    gzip stream, so neither gzip nor tar takes it for a whole archive."""
    port = free_port()
    settings = make_settings(
        workspace_backend="docker", data_dir=tmp_path, port=port, snapshot_max_size=1
    )
    environment = {**os.environ, **environment_of(settings, *MANAGER_SETTINGS)}
    process = subprocess.Popen([sys.executable, "-m", "lab_workspace_manager.app"],
                               env=environment, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.2)
        user = "cut-" + os.urandom(2).hex()
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            made = client.post(f"/users/{user}/workspace", params={"wait": "true"},
                               json={"display_name": "large"})  # fmt: skip
            assert made.status_code == 201, made.text
            workspace_id = made.json()["id"]
            run(container_of(engine, workspace_id),
                "head -c 3000000 /dev/urandom > /workspace/large")  # fmt: skip
            received = b""
            archive = f"/users/{user}/workspace/{workspace_id}/archive"
            with pytest.raises(httpx.HTTPError), client.stream("GET", archive) as response:
                assert response.status_code == 200
                for chunk in response.iter_raw():
                    received += chunk
            assert len(received) > 1000000
            with pytest.raises((EOFError, zlib.error)):
                gzip.decompress(received)
            # The manager removes what it read from once the response is cut.
            deadline = time.monotonic() + 30
            while owned(engine, kind=C.KIND_ARCHIVER)["containers"]:
                assert time.monotonic() < deadline, owned(engine, kind=C.KIND_ARCHIVER)
                time.sleep(0.2)
            client.delete(f"/users/{user}/workspace/{workspace_id}",
                          params={"delete_volumes": "true"})  # fmt: skip
    finally:
        process.kill()
        process.wait(10)


async def test_download_then_upload_into_a_new_workspace_keeps_every_file(
    api: Api, engine: docker.DockerClient
) -> None:
    workspace, files = await with_files(api, engine, "to download")
    downloaded = await api.client.get(api.path(workspace["id"]) + "/archive")
    assert downloaded.status_code == 200, downloaded.text
    uploaded = await api.client.post(
        api.path() + ":upload",
        params={"workspace": '{"display_name": "uploaded"}'},
        content=downloaded.content,
    )
    assert uploaded.status_code == 201, uploaded.text
    new = await api.client.get(api.path(uploaded.json()["id"]))
    assert new.json()["status"] in ("pending", "running")
    assert run(container_of(engine, uploaded.json()["id"]), LIST_FILES) == files
    assert owned(engine, kind=C.KIND_ARCHIVER)["containers"] == []


BAD_ARCHIVES = {
    "absolute": [("/etc/evil", tarfile.REGTYPE, "")],
    "dot-dot": [("../evil", tarfile.REGTYPE, "")],
    "symlink out": [("passwd", tarfile.SYMTYPE, "/etc/passwd")],
    "device": [("mem", tarfile.CHRTYPE, "")],
    "fifo": [("pipe", tarfile.FIFOTYPE, "")],
    "too many files": [(f"f{i}", tarfile.REGTYPE, "") for i in range(5)],
    "too large": [("big", tarfile.REGTYPE, "")],
}


@pytest.mark.parametrize("case", list(BAD_ARCHIVES))
async def test_a_bad_archive_is_refused_and_nothing_is_written(
    case: str, open_api: Any, engine: docker.DockerClient
) -> None:
    """Good members first (they reach the engine), then the bad one: refused, and the new
    workspace's record, volume and archiver are all gone again."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, content in [("good.txt", b"fine\n"), ("more.txt", b"also fine\n")]:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        for name, kind, link in BAD_ARCHIVES[case]:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, link
            content = b"\0" * (2 * 1024 * 1024) if name == "big" else b""
            info.size = len(content) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(content) if kind == tarfile.REGTYPE else None)
    async with open_api(upload_max_files=5, snapshot_max_size=1) as api:
        response = await api.client.post(
            api.path() + ":upload", params={"workspace": '{"display_name": "bad"}'},
            content=out.getvalue(),
        )  # fmt: skip
        assert response.status_code == 422, response.text
        assert "was refused at member" in response.json()["detail"]
        assert await api.names() == []
        left = owned(engine, owner=api.user)
        assert left["containers"] == [] and left["volumes"] == [], left


async def test_long_copies_tell_their_progress_on_the_events_stream(
    api: Api, engine: docker.DockerClient
) -> None:
    backend = api.backend
    assert isinstance(backend, DockerBackend) and api.app is not None
    backend.copies.copier.progress_seconds = 0.1
    workspace, _ = await with_files(api, engine, "progress")
    run(container_of(engine, workspace["id"]),
        "mkdir /workspace/many && cd /workspace/many && "
        "for i in $(seq 1 5000); do echo $i > f$i; done")  # fmt: skip
    bus = api.app.state.runtime.events
    live = bus.subscribe(workspace["id"])  # (the history keeps a copy's latest progress only)
    try:
        taken = await api.client.post(api.path(workspace["id"]) + "/snapshots", json={"name": "p"})
        assert taken.status_code == 201, taken.text
        events = []
        while not live.empty():
            events.append(live.get_nowait())
    finally:
        bus.unsubscribe(workspace["id"], live)
    copying = [e for e in events if e.phase == "copying" and e.current is not None]
    assert copying, [(e.phase, e.message) for e in events]
    # At the start, every 0.1 s, and at the end (du's sizes of the copy: about the total).
    assert copying[0].current == 0 and copying[-1].current > 5000
    assert all(e.total and e.current is not None for e in copying)
    assert copying[-1].message == "Taking snapshot 'p'."
    assert events[-1].phase == "copied"
    history = [e for e in bus.history(workspace["id"]) if e.phase == "copying"]
    assert history == [copying[-1]]
