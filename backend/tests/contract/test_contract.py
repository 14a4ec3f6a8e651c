"""The workspace API's promises, checked on every backend (see `conftest.api`)."""

from __future__ import annotations

import asyncio
import re

import pytest

from lab_workspace_manager.app import create_app
from lab_workspace_manager.naming import WORKSPACE_ID_PATTERN
from tests.support.apiclient import Api, running
from tests.support.images import ALT_IMAGE, CRASH_IMAGE, OOM_IMAGE, TEST_IMAGE

pytestmark = pytest.mark.anyio


async def test_create_returns_the_workspace_and_lists_it(api: Api) -> None:
    created = await api.create(
        display_name="Analysis",
        compute={"cpus": 0.5, "memory": 300, "volume_size": 400},
        idle_timeout=600,
        clear_volume_on_stop=False,
    )
    assert re.fullmatch(WORKSPACE_ID_PATTERN, created["id"])
    assert created["user_id"] == api.user
    assert created["display_name"] == "Analysis"
    assert created["container_image"] == TEST_IMAGE
    assert created["compute"] == {"cpus": 0.5, "memory": 300, "volume_size": 400, "gpus": 0}
    assert created["idle_timeout"] == 600
    assert created["status"] in {"pending", "running"}
    assert created["status_message"]
    assert created["is_stopped"] is False
    listed = (await api.client.get(api.path())).json()
    assert [w["id"] for w in listed] == [created["id"]]
    fetched = (await api.get(created["id"])).json()
    assert fetched["display_name"] == "Analysis"


async def test_wait_returns_a_running_workspace_with_its_address(api: Api) -> None:
    workspace = await api.create_running(display_name="ready")
    if api.backend.name == "mllab":
        # Through ML Lab's proxy: the path is kept whole (the "b" endpoint).
        assert re.fullmatch(
            rf"/projects/{api.user}/services/[a-z0-9-]+-ws-{workspace['id']}/access/8080b/",
            workspace["access_url"],
        )
    else:
        assert workspace["access_url"] == f"/workspaces/{workspace['id']}/"


async def test_an_empty_request_gets_the_defaults(api: Api) -> None:
    created = await api.create(is_stopped=True)
    assert created["display_name"] == "my-workspace"
    assert created["compute"] == {"cpus": 0.5, "memory": 256, "volume_size": 500, "gpus": 0}


async def test_names_are_unique_per_user_ignoring_case(api: Api) -> None:
    await api.create(display_name="Project", is_stopped=True)
    duplicate = await api.create(expect=409, display_name="project", is_stopped=True)
    assert "already have a workspace named 'project'" in duplicate["detail"]
    await api.as_user().create(display_name="Project", is_stopped=True)
    assert await api.names() == ["Project"]


async def test_two_concurrent_creates_with_one_name_make_one_workspace(api: Api) -> None:
    body = {"display_name": "race", "is_stopped": True}
    responses = await asyncio.gather(
        api.client.post(api.path(), json=body), api.client.post(api.path(), json=body)
    )
    assert sorted(r.status_code for r in responses) == [201, 409]
    assert await api.names() == ["race"]


async def test_stop_start_restart(api: Api) -> None:
    workspace = await api.create_running(display_name="cycle")
    stopped = await api.action(workspace["id"], "stop")
    assert (stopped["status"], stopped["is_stopped"], stopped["access_url"]) == (
        "stopped",
        True,
        None,
    )
    assert stopped["status_message"].startswith("Stopped by its user")
    again = await api.action(workspace["id"], "stop")
    assert again["status"] == "stopped"
    started = await api.action(workspace["id"], "start", wait=True)
    assert (started["status"], started["is_stopped"]) == ("running", False)
    assert (await api.action(workspace["id"], "start"))["status"] == "running"
    restarted = await api.action(workspace["id"], "restart", wait=True)
    assert restarted["status"] == "running"


async def test_create_stopped_then_start(api: Api) -> None:
    created = await api.create(display_name="later", is_stopped=True)
    assert (created["status"], created["is_stopped"]) == ("stopped", True)
    started = await api.action(created["id"], "start", wait=True)
    assert started["status"] == "running"


async def test_patch_changes_only_what_it_names(api: Api) -> None:
    created = await api.create(display_name="before", is_stopped=True)
    response = await api.client.patch(
        api.path(created["id"]), json={"display_name": "after", "compute": {"cpus": 1}}
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["display_name"] == "after"
    assert updated["compute"] == {**created["compute"], "cpus": 1}
    assert updated["idle_timeout"] == created["idle_timeout"]
    assert (await api.get(created["id"])).json()["display_name"] == "after"


async def test_patch_to_a_taken_name_is_a_conflict(api: Api) -> None:
    await api.create(display_name="one", is_stopped=True)
    two = await api.create(display_name="two", is_stopped=True)
    response = await api.client.patch(api.path(two["id"]), json={"display_name": "ONE"})
    assert response.status_code == 409
    same = await api.client.patch(api.path(two["id"]), json={"display_name": "Two"})
    assert same.status_code == 200
    assert sorted(await api.names()) == ["Two", "one"]


async def test_patch_image_keeps_the_workspace(api: Api) -> None:
    created = await api.create(display_name="img", is_stopped=True)
    response = await api.client.patch(api.path(created["id"]), json={"container_image": OOM_IMAGE})
    assert response.status_code == 200, response.text
    assert response.json()["container_image"] == OOM_IMAGE
    assert response.json()["status"] == "stopped"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"compute": {"cpus": 64}}, "compute.cpus"),
        ({"compute": {"cpus": -1}}, "compute.cpus"),
        ({"compute": {"memory": 1}}, "compute.memory"),
        ({"compute": {"volume_size": 10**9}}, "compute.volume_size"),
        ({"container_image": "someone/else:latest"}, "not an allowed image"),
        ({"display_name": ""}, "cannot be empty"),
        ({"display_name": "x" * 129}, "display_name"),
        ({"idle_timeout": -5}, "idle_timeout"),
        ({"unknown": 1}, "unknown"),
    ],
)
async def test_invalid_input_is_refused_and_nothing_is_created(
    api: Api, body: dict, message: str
) -> None:
    refused = await api.create(expect=422, **body)
    assert message in refused["detail"]
    assert await api.names() == []


async def test_invalid_patch_changes_nothing(api: Api) -> None:
    created = await api.create(display_name="keep", is_stopped=True)
    response = await api.client.patch(api.path(created["id"]), json={"compute": {"memory": 99999}})
    assert response.status_code == 422
    assert (await api.get(created["id"])).json()["compute"] == created["compute"]


def every_verb(api: Api, path: str) -> list:
    return [
        api.client.get(path),
        api.client.patch(path, json={"display_name": "mine"}),
        api.client.post(path + ":start"),
        api.client.post(path + ":stop"),
        api.client.post(path + ":restart"),
        api.client.get(path + "/logs"),
        api.client.delete(path, params={"delete_volumes": "true"}),
    ]


async def test_another_users_path_is_forbidden_whatever_the_verb(api: Api) -> None:
    theirs = await api.create(display_name="private", is_stopped=True)
    intruder = api.as_user()
    responses = await asyncio.gather(
        *every_verb(intruder, api.path(theirs["id"])),
        intruder.client.get(api.path()),
        intruder.client.post(api.path(), json={"display_name": "planted"}),
    )
    for response in responses:
        assert response.status_code == 403, response.text
        assert (
            f"can only manage your own workspaces, not those of '{api.user}'"
            in (response.json()["detail"])
        )
    assert await api.names() == ["private"]
    assert (await api.get(theirs["id"])).json()["status"] == "stopped"


async def test_another_users_workspace_id_is_not_found_under_ones_own_path(api: Api) -> None:
    theirs = await api.create(display_name="private", is_stopped=True)
    intruder = api.as_user()
    *others, delete = await asyncio.gather(*every_verb(intruder, intruder.path(theirs["id"])))
    for response in others:
        assert response.status_code == 404, response.text
        assert "does not exist" in response.json()["detail"]
    assert delete.status_code == 204  # idempotent: there was nothing of theirs to delete
    still_there = (await api.get(theirs["id"])).json()
    assert (still_there["display_name"], still_there["status"]) == ("private", "stopped")


async def test_an_administrator_acts_for_any_user(api: Api) -> None:
    workspace = await api.create(display_name="owned", is_stopped=True)
    admin = api.as_user("boss", is_admin=True)
    assert (await admin.client.get(api.path(workspace["id"]))).status_code == 200
    renamed = await admin.client.patch(api.path(workspace["id"]), json={"display_name": "moved"})
    assert renamed.status_code == 200
    assert await api.names() == ["moved"]
    page = (await admin.client.get("/workspaces", params={"user_id": api.user})).json()
    assert [w["id"] for w in page["items"]] == [workspace["id"]]
    assert page["total"] == 1
    stopped = await admin.client.get(
        "/workspaces", params={"status": "stopped", "user_id": api.user, "limit": 500}
    )
    assert workspace["id"] in [w["id"] for w in stopped.json()["items"]]
    forbidden = await api.client.get("/workspaces")
    assert forbidden.status_code == 403


async def test_delete_is_idempotent(api: Api) -> None:
    created = await api.create(display_name="gone", is_stopped=True)
    for _ in range(2):
        response = await api.client.delete(api.path(created["id"]))
        assert response.status_code == 204
    assert (await api.get(created["id"])).status_code == 404
    assert await api.names() == []


async def test_logs_are_text(api: Api) -> None:
    workspace = await api.create_running(display_name="talks")
    response = await api.client.get(api.path(workspace["id"]) + "/logs", params={"tail": 50})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.strip()
    too_many = await api.client.get(api.path(workspace["id"]) + "/logs", params={"tail": 0})
    assert too_many.status_code == 422


async def test_malformed_ids_are_refused(api: Api) -> None:
    assert (await api.client.get(api.path("NOT-AN-ID"))).status_code == 422
    assert (await api.client.get("/users/bad%20user/workspace")).status_code == 422


async def test_a_new_manager_sees_the_same_workspaces_despite_lower_limits(api: Api) -> None:
    """Nothing lives in the manager's memory, and stored state is never re-validated."""
    created = await api.create(
        display_name="big", compute={"memory": 2000, "cpus": 2}, is_stopped=True
    )
    lowered = api.settings.model_copy(update={"memory_max": 500, "cpus_max": 1})
    backend = api.restarted_backend(lowered)
    async with running(create_app(lowered, backend)) as app:
        # (A manager reached over HTTP signed its tokens itself: this one issues its own.)
        token = None if api.url else api.token
        restarted = Api(app, backend, lowered, api.user, token)
        listed = (await restarted.client.get(api.path())).json()
        await restarted.aclose()
    assert [(w["id"], w["compute"]["memory"]) for w in listed] == [(created["id"], 2000)]


async def test_config_describes_the_rules(api: Api) -> None:
    config = (await api.client.get("/config")).json()
    assert config["container_image_default"] == {
        "image": TEST_IMAGE,
        "display_name": "Test workspace",
    }
    assert [o["image"] for o in config["container_image_options"]] == [
        TEST_IMAGE,
        CRASH_IMAGE,
        OOM_IMAGE,
        ALT_IMAGE,
    ]
    assert (config["cpus_min"], config["cpus_max"], config["cpus_step"]) == (0.1, 2, 0.1)
    assert (config["memory_min"], config["memory_max"]) == (32, 2000)
    assert config["shm_size"] == 512


async def test_health(api: Api) -> None:
    response = await api.client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


SCHEDULE = {"timezone": "Europe/Berlin", "days": ["mon", "fri"], "start": "08:00", "stop": "18:00"}


async def test_a_schedule_is_kept_with_the_workspace_where_schedules_exist(api: Api) -> None:
    """Kept by the engine with the other settings (through stops, starts and a rename), or
    refused, as /config says."""
    config = (await api.client.get("/config")).json()
    if not config["schedules_available"]:  # the ML Lab backend
        refused = await api.create(expect=422, display_name="sched", schedule=SCHEDULE)
        assert "ML Lab" in refused["detail"]
        return
    made = await api.create(display_name="sched", is_stopped=True, schedule=SCHEDULE)
    assert made["schedule"] == SCHEDULE
    assert made["starts_at"] is not None
    renamed = await api.client.patch(api.path(made["id"]), json={"display_name": "renamed"})
    assert renamed.json()["schedule"] == SCHEDULE
    changed = await api.client.patch(
        api.path(made["id"]), json={"schedule": {**SCHEDULE, "stop": "17:30"}}
    )
    assert changed.status_code == 200, changed.text
    started = await api.client.post(api.path(made["id"]) + ":start", params={"wait": "true"})
    assert started.json()["status"] == "running"
    assert started.json()["schedule"]["stop"] == "17:30"
    assert started.json()["stops_at"] is not None
    await api.client.post(api.path(made["id"]) + ":stop")
    assert (await api.get(made["id"])).json()["schedule"] == {**SCHEDULE, "stop": "17:30"}
    removed = await api.client.patch(api.path(made["id"]), json={"schedule": None})
    assert removed.json()["schedule"] is None


async def test_a_share_opens_one_workspace_where_sharing_exists(api: Api) -> None:
    config = (await api.client.get("/config")).json()
    made = await api.create(display_name="shared", is_stopped=True)
    grantee = api.as_user()
    path = f"/users/{api.user}/workspace/{made['id']}/shares/{grantee.user}"
    if not config["sharing_available"]:  # the ML Lab backend
        refused = await api.client.put(path, json={"access": "operate"})
        assert refused.status_code == 409
        assert "share the project in ML Lab" in refused.json()["detail"]
        return
    assert (await api.client.put(path, json={"access": "operate"})).status_code == 200
    started = await grantee.client.post(api.path(made["id"]) + ":start", params={"wait": "true"})
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "running"
    shared = (await grantee.client.get(f"/users/{grantee.user}/shared")).json()
    assert [s["workspace"]["id"] for s in shared] == [made["id"]]
    other = await api.create(display_name="not-shared", is_stopped=True)
    assert (await grantee.client.get(api.path(other["id"]))).status_code == 403
    assert (await api.client.delete(api.path(made["id"]))).status_code == 204
    assert (await grantee.client.get(f"/users/{grantee.user}/shared")).json() == []
