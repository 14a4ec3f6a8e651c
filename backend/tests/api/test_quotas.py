"""Per-user quotas, through the API (in-memory backend; the rules do not depend on it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from lab_workspace_manager.backends.memory import InMemoryBackend
from tests.support.apiclient import Api, open_api
from tests.support.settings import make_settings

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api(request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    quotas: dict[str, Any] = getattr(request, "param", {})
    async with open_api(make_settings(**quotas), InMemoryBackend()) as api:
        yield api


def quota(**values: Any) -> Any:
    return pytest.mark.parametrize("api", [values], indirect=True)


@quota(quota_workspaces=2)
async def test_number_of_workspaces(api: Api) -> None:
    await api.create(display_name="a", is_stopped=True)
    await api.create(display_name="b", is_stopped=True)
    refused = await api.create(expect=409, display_name="c", is_stopped=True)
    assert refused["detail"] == (
        "Quota reached: you may have at most 2 workspaces and have 2 ('a', 'b'). Delete one first."
    )
    # Another user has a quota of their own.
    await api.as_user().create(display_name="c", is_stopped=True)


@quota(quota_running=1)
async def test_running_workspaces(api: Api) -> None:
    first = await api.create(display_name="one")
    second = await api.create(display_name="two", is_stopped=True)
    refused = await api.client.post(api.path(second["id"]) + ":start")
    assert refused.status_code == 409
    assert "run at most 1 workspaces at once and 1 run ('one')" in refused.json()["detail"]
    await api.action(first["id"], "stop")
    assert (await api.action(second["id"], "start"))["status"] == "running"
    assert (await api.action(second["id"], "restart"))["status"] == "running"


@quota(quota_cpus=1, quota_memory=600)
async def test_cpu_and_memory_of_running_workspaces(api: Api) -> None:
    await api.create(display_name="a", compute={"cpus": 0.5, "memory": 300})
    cpus = await api.create(expect=409, display_name="b", compute={"cpus": 0.6, "memory": 100})
    assert "may use 1 CPUs in all; 0.5 are in use and this needs 0.6" in cpus["detail"]
    memory = await api.create(expect=409, display_name="b", compute={"cpus": 0.5, "memory": 400})
    assert "600 MB of memory in all; 300 MB are in use and this needs 400 MB" in memory["detail"]
    # Stopped workspaces use no CPU or memory.
    await api.create(display_name="c", compute={"cpus": 1, "memory": 600}, is_stopped=True)
    fits = await api.create(display_name="d", compute={"cpus": 0.5, "memory": 300})
    grow = await api.client.patch(api.path(fits["id"]), json={"compute": {"cpus": 0.7}})
    assert grow.status_code == 409


@quota(quota_disk=1000)
async def test_disk_counts_stopped_workspaces_too(api: Api) -> None:
    await api.create(display_name="a", compute={"volume_size": 600}, is_stopped=True)
    refused = await api.create(expect=409, display_name="b", compute={"volume_size": 500})
    assert "1000 MB of disk in all; 600 MB are taken and this needs 500 MB" in refused["detail"]
    await api.create(display_name="b", compute={"volume_size": 400}, is_stopped=True)


@quota(quota_workspaces=1)
async def test_administrators_are_exempt(api: Api) -> None:
    admin = api.as_user("boss", is_admin=True)
    await admin.create(display_name="a", is_stopped=True)
    await admin.create(display_name="b", is_stopped=True)
    # ... also when acting for a user.
    await admin.create(user=api.user, display_name="x", is_stopped=True)
    await admin.create(user=api.user, display_name="y", is_stopped=True)
    assert sorted(await api.names()) == ["x", "y"]
    await api.create(expect=409, display_name="z", is_stopped=True)


@quota(quota_disk=6000, volume_size_max=5000)
async def test_data_kept_at_delete_counts_until_it_is_deleted(api: Api) -> None:
    """Create 4000 MB, delete it keeping the data, create 4000 MB again: refused, since the
    kept data still takes its disk. The user finds it under kept volumes and deletes it."""
    first = await api.create(display_name="big", compute={"volume_size": 4000}, is_stopped=True)
    deleted = await api.client.delete(api.path(first["id"]))
    assert deleted.status_code == 204
    refused = await api.create(expect=409, display_name="again", compute={"volume_size": 4000})
    assert refused["detail"] == (
        "Quota reached: your workspaces may use 6000 MB of disk in all; 4000 MB are taken "
        "(4000 MB of them by data kept from deleted workspaces: see Kept data) and this "
        "needs 4000 MB. Delete a workspace (with its data) or kept data, or ask for a "
        "smaller disk."
    )
    kept = (await api.client.get(api.user_path("kept-volumes"))).json()
    assert [(k["workspace_id"], k["display_name"], k["size"]) for k in kept] == [
        (first["id"], "big", 4000)
    ]
    # Not another user's to see or delete.
    other = api.as_user()
    assert (await other.client.get(other.user_path("kept-volumes"))).json() == []
    theirs = await other.client.delete(other.user_path(f"kept-volumes/{first['id']}"))
    assert theirs.status_code == 404
    forbidden = await other.client.get(api.user_path("kept-volumes"))
    assert forbidden.status_code == 403
    # An administrator sees everyone's.
    admin = api.as_user("boss", is_admin=True)
    everyone = (await admin.client.get("/kept-volumes")).json()
    assert [k["user_id"] for k in everyone] == [api.user]
    gone = await api.client.delete(api.user_path(f"kept-volumes/{first['id']}"))
    assert gone.status_code == 204
    assert (await api.client.get(api.user_path("kept-volumes"))).json() == []
    await api.create(display_name="again", compute={"volume_size": 4000})


async def test_a_workspaces_own_data_is_not_kept_data(api: Api) -> None:
    workspace = await api.create(display_name="alive", is_stopped=True)
    assert (await api.client.get(api.user_path("kept-volumes"))).json() == []
    refused = await api.client.delete(api.user_path(f"kept-volumes/{workspace['id']}"))
    assert refused.status_code == 409
    assert "still exists: delete the workspace with its data instead" in refused.text
