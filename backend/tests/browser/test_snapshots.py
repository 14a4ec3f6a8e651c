"""Downloads and snapshots in Chromium, checked on the engine: the Download button gives the
files of /workspace; a snapshot taken in the dialog is restored into a new workspace with the
same files."""

from __future__ import annotations

import gzip
import io
import tarfile

import docker
from playwright.sync_api import expect

from tests.docker.test_snapshots import LIST_FILES, container_of, run
from tests.support.browser import NewPage
from tests.support.manager_image import Manager

from .ui import WORKSPACE_TIMEOUT, assert_accessible, create_workspace, sign_in, status_chip


def test_download_take_and_restore_a_snapshot(
    manager: Manager, new_page: NewPage, engine: docker.DockerClient
) -> None:
    page = new_page()
    sign_in(page, manager.token_for("sonja"), "sonja")
    card = create_workspace(page, "Thesis")
    expect(status_chip(card, "running")).to_be_visible(timeout=WORKSPACE_TIMEOUT)
    workspace_id = manager_workspace_id(engine, manager, "sonja")
    container = container_of(engine, workspace_id, manager.instance)
    run(container, "mkdir -p /workspace/chapters && echo one > /workspace/chapters/1.md && "
                   "head -c 100000 /dev/urandom > /workspace/data.bin")  # fmt: skip
    files = run(container, LIST_FILES)

    with page.expect_download() as started:
        card.get_by_role("link", name="Download").click()
    download = started.value
    assert download.suggested_filename.startswith("Thesis-")
    assert download.suggested_filename.endswith(".tar.gz")
    path = download.path()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(path.read_bytes()))) as tar:
        names = {m.name.removeprefix("./") for m in tar.getmembers()}
    assert {"chapters/1.md", "data.bin"} <= names

    card.get_by_role("button", name="Snapshots").click()
    dialog = page.get_by_role("dialog", name="Snapshots of “Thesis”")
    expect(dialog.get_by_text("This workspace has no snapshots yet.")).to_be_visible()
    assert_accessible(page, "the snapshots dialog")
    dialog.get_by_label("Snapshot name").fill("first draft")
    dialog.get_by_role("button", name="Take snapshot").click()
    snapshots = dialog.get_by_role("list", name="Snapshots")
    expect(snapshots.get_by_text("first draft")).to_be_visible(timeout=WORKSPACE_TIMEOUT)
    expect(snapshots).to_contain_text("consistent")

    run(container, "echo changed later > /workspace/chapters/1.md")
    dialog.get_by_role("button", name="Restore").click()
    restore = page.get_by_role("dialog", name="Restore “first draft”")
    restore.get_by_label("Name of the new workspace").fill("Thesis, first draft")
    restore.get_by_role("button", name="Create").click()
    expect(restore.get_by_text("was created with the files of snapshot")).to_be_visible(
        timeout=WORKSPACE_TIMEOUT
    )
    restore.get_by_role("button", name="Close").click()
    dialog.get_by_role("button", name="Close").click()

    restored = page.get_by_role("article", name="Thesis, first draft", exact=True)
    expect(status_chip(restored, "running")).to_be_visible(timeout=WORKSPACE_TIMEOUT)
    restored_id = next(
        w for w in engine.containers.list(filters={"label": [
            f"lwm.instance={manager.instance}", "lwm.kind=workspace", "lwm.owner=sonja"]})
        if w.labels["lwm.workspace"] != workspace_id
    ).labels["lwm.workspace"]  # fmt: skip
    assert run(container_of(engine, restored_id, manager.instance), LIST_FILES) == files


def manager_workspace_id(engine: docker.DockerClient, manager: Manager, owner: str) -> str:
    found = engine.containers.list(
        all=True,
        filters={"label": [f"lwm.instance={manager.instance}", "lwm.kind=workspace",
                           f"lwm.owner={owner}"]},
    )  # fmt: skip
    assert len(found) == 1, found
    return str(found[0].labels["lwm.workspace"])
