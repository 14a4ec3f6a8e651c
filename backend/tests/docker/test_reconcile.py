"""The reconciler removes leftovers of interrupted operations, and never anyone's data."""

from __future__ import annotations

import secrets
from typing import Any

import docker
import pytest

from lab_workspace_manager import naming
from lab_workspace_manager.backends.docker import spec as build
from tests.support.apiclient import Api
from tests.support.engine import owned
from tests.support.settings import SESSION_INSTANCE

from .test_engine import container_of

pytestmark = pytest.mark.anyio


def leftover(engine: docker.DockerClient, name: str, **labels: str) -> None:
    engine.containers.create(
        build.RECORD_IMAGE,
        ["record"],
        name=name,
        network_mode="none",
        labels={"lwm.instance": SESSION_INSTANCE, **{f"lwm.{k}": v for k, v in labels.items()}},
    )


async def test_leftovers_go_and_data_stays(api: Api, engine: docker.DockerClient) -> None:
    running = await api.create_running(display_name="running")
    stopped = await api.create(display_name="stopped", is_stopped=True)
    kept = await api.create(display_name="kept", is_stopped=True)
    adopted = await api.create(display_name="adopted", is_stopped=True)
    await api.client.delete(api.path(kept["id"]))  # the user keeps its data
    container_of(engine, api, adopted["id"]).remove(force=True)  # as if a create died

    base = naming.container_name(SESSION_INSTANCE, api.user, "orphan12345")
    leftover(engine, base, kind="workspace", owner=api.user, workspace="orphan12345")
    old_revision = naming.record_name(SESSION_INSTANCE, api.user, running["id"], 0)
    record = engine.containers.list(
        all=True, filters={"label": [f"lwm.workspace={running['id']}", "lwm.kind=record"]}
    )[0]
    engine.containers.create(
        build.RECORD_IMAGE,
        ["record"],
        name=old_revision,
        network_mode="none",
        labels={**record.labels, "lwm.revision": "0"},
    )
    half_changed = naming.container_name(SESSION_INSTANCE, api.user, stopped["id"]) + "-next"
    leftover(engine, half_changed, kind="workspace", owner=api.user, workspace=stopped["id"])
    ghost = engine.networks.create(
        naming.network_name(SESSION_INSTANCE, "ghost"),
        labels={"lwm.instance": SESSION_INSTANCE, "lwm.kind": "network", "lwm.owner": "ghost"},
    )

    removed = await api.backend.reconcile()  # type: ignore[attr-defined]

    # (Other tests of this session may have left leftovers of their own: at least these.)
    assert {base, old_revision, half_changed, ghost.name} <= set(removed)
    names = await api.names()
    assert sorted(names) == ["adopted", "running", "stopped"]
    assert (
        naming.volume_name(SESSION_INSTANCE, api.user, kept["id"])
        in owned(engine, owner=api.user)["volumes"]
    )
    assert (await api.get(running["id"])).json()["status"] == "running"
    # The interrupted create is a workspace its user can start.
    started = await api.action(adopted["id"], "start", wait=True)
    assert started["status"] == "running"
    again = await api.backend.reconcile()  # type: ignore[attr-defined]
    assert not [name for name in again if api.user in name]
    await api.client.delete(api.path(kept["id"]), params={"delete_volumes": "true"})


async def test_the_manager_never_removes_its_own_container(
    open_api: Any, engine: docker.DockerClient
) -> None:
    """Regression (issue 13): started with the instance label on its own container, as an
    operator may well do, the manager's reconciler removed the manager. Neither a container
    without one of the kinds the manager makes nor its own (whatever its labels) is touched."""
    stand_in = f"{SESSION_INSTANCE}-manager-{secrets.token_hex(3)}"
    labelled = f"{SESSION_INSTANCE}-labelled-{secrets.token_hex(3)}"
    leftover(engine, stand_in, kind="workspace", owner="x", workspace="managerxyz")
    leftover(engine, labelled)  # the instance label only
    try:
        async with open_api(manager_container=stand_in) as api:
            removed = await api.backend.reconcile()
        assert stand_in not in removed and labelled not in removed
        for name in (stand_in, labelled):
            assert engine.containers.get(name)  # still there
    finally:
        for name in (stand_in, labelled):
            engine.containers.get(name).remove(force=True)


async def test_a_kept_volume_survives_a_late_rollback(
    api: Api, engine: docker.DockerClient
) -> None:
    """Regression (issue 13): a create whose rollback failed was queued for the reconciler;
    if its user started it, wrote data and deleted it keeping the data before the next round,
    the reconciler took the workspace's absence for "untouched" and removed the volume."""
    workspace = await api.create_running(display_name="late")
    container_of(engine, api, workspace["id"]).exec_run(["sh", "-c", "echo mine > /workspace/f"])
    deleted = await api.client.delete(api.path(workspace["id"]))  # keeping the data
    assert deleted.status_code == 204
    backend = api.backend
    backend.pending.rollback_due(api.user, workspace["id"])  # type: ignore[attr-defined]
    await backend.reconcile()  # type: ignore[attr-defined]
    volume = naming.volume_name(SESSION_INSTANCE, api.user, workspace["id"])
    assert volume in owned(engine, owner=api.user)["volumes"]
    engine.volumes.get(volume).remove(force=True)
