"""Templates at the API, on the in-memory backend: defined in a file and by administrators,
created from within their choices, versions and applying a newer one, deprecation, "custom"
only where allowed, and /config as it was for clients that know no templates. On the real
engine (environment, a new image applied): tests/docker/test_templates.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lab_workspace_manager.app import create_app
from lab_workspace_manager.backends.memory import InMemoryBackend
from lab_workspace_manager.settings import Settings
from tests.support.apiclient import Api, running
from tests.support.images import ALT_IMAGE, OOM_IMAGE, TEST_IMAGE
from tests.support.settings import make_settings

pytestmark = pytest.mark.anyio

GPU_BOX = {
    "display_name": "GPU box",
    "description": "For training.",
    "images": [{"image": TEST_IMAGE, "display_name": "Test"}, ALT_IMAGE],
    "cpus": {"default": 1, "min": 0.5, "max": 4},
    "memory": {"default": 512, "options": [512, 1024]},
    "volume_size": 1000,
    "idle_timeout": {"default": 3600, "options": [0, 3600]},
    "clear_volume_on_stop": None,
    "environment": {"TEAM": "vision"},
}
SMALL = {
    "display_name": "Small",
    "images": [TEST_IMAGE],
    "cpus": 0.5,
    "memory": 256,
    "volume_size": 500,
}


@pytest.fixture
async def api(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    overrides: dict[str, Any] = getattr(request, "param", {})
    (tmp_path / "templates.json").write_text(json.dumps({"gpu-box": GPU_BOX}))
    settings = make_settings(
        data_dir=tmp_path, templates_file=tmp_path / "templates.json", **overrides
    )
    async with running(create_app(settings, InMemoryBackend())) as app:
        user = Api(app, app.state.runtime.backend, settings, user="tina")
        try:
            yield user
        finally:
            await user.aclose()


def admin_of(api: Api) -> Api:
    return api.as_user("boss", is_admin=True)


async def test_file_templates_are_listed_with_what_a_ui_may_offer(api: Api) -> None:
    listed = (await api.client.get("/templates")).json()
    assert [t["name"] for t in listed] == ["gpu-box"]
    box = listed[0]
    assert (box["source"], box["deprecated"], len(box["version"])) == ("file", False, 8)
    assert box["cpus"] == {"default": 1, "fixed": False, "min": 0.5, "max": 4, "options": []}
    assert box["volume_size"]["fixed"] is True
    config = box["config"]
    assert [o["image"] for o in config["container_image_options"]] == [TEST_IMAGE, ALT_IMAGE]
    assert (config["cpus_min"], config["cpus_max"]) == (0.5, 4)
    assert config["memory_options"] == [512, 1024]
    assert (config["volume_size_min"], config["volume_size_max"]) == (1000, 1000)
    assert config["idle_timeout_options"] == [0, 3600]
    # /config is as it was, for clients that know no templates.
    plain = (await api.client.get("/config")).json()
    assert plain["cpus_max"] == 2
    assert plain["custom_allowed"] is True


async def test_a_workspace_from_a_template_gets_its_defaults_within_its_choices(api: Api) -> None:
    made = await api.create(template="gpu-box", display_name="train", is_stopped=True)
    assert made["template"] == "gpu-box"
    assert made["template_status"] == "current"
    assert made["compute"] == {"cpus": 1.0, "memory": 512, "volume_size": 1000, "gpus": 0}
    assert made["idle_timeout"] == 3600
    assert made["environment"] == {"TEAM": "vision"}
    chosen = await api.create(
        template="gpu-box",
        display_name="bigger",
        container_image=ALT_IMAGE,
        compute={"cpus": 3.5, "memory": 1024},
        is_stopped=True,
    )
    assert (chosen["container_image"], chosen["compute"]["cpus"]) == (ALT_IMAGE, 3.5)
    for body, says in [
        ({"compute": {"cpus": 6}}, "outside the allowed range 0.5 to 4"),  # the settings allow 2
        ({"compute": {"memory": 700}}, "not one of the offered values (512, 1024"),
        ({"compute": {"volume_size": 2000}}, "range 1000 to 1000"),
        ({"container_image": OOM_IMAGE}, "not an allowed image"),
    ]:
        refused = await api.create(expect=422, template="gpu-box", display_name="x", **body)
        assert says in refused["detail"], refused
    unknown = await api.create(expect=422, template="nope", display_name="x")
    assert "no template 'nope'" in unknown["detail"]
    # Resizing it later is checked against the template too.
    resized = await api.client.patch(api.path(made["id"]), json={"compute": {"cpus": 3}})
    assert resized.status_code == 200
    too_big = await api.client.patch(api.path(made["id"]), json={"compute": {"cpus": 5}})
    assert too_big.status_code == 422


async def test_administrators_define_change_and_deprecate_templates(api: Api) -> None:
    admin = admin_of(api)
    defined = await admin.client.put("/templates/small", json=SMALL)
    assert defined.status_code == 200, defined.text
    assert defined.json()["source"] == "api"
    made = await api.create(template="small", display_name="mine", is_stopped=True)
    assert made["template_version"] == defined.json()["version"]
    assert (await api.client.put("/templates/small", json=SMALL)).status_code == 403

    # A new version: the workspace says so, and applying it fits the workspace to it.
    changed = await admin.client.put(
        "/templates/small", json={**SMALL, "images": [ALT_IMAGE], "memory": 300}
    )
    assert changed.json()["version"] != defined.json()["version"]
    outdated = (await api.get(made["id"])).json()
    assert outdated["template_status"] == "outdated"
    uses = (await admin.client.get("/templates/small/workspaces")).json()
    assert uses == [
        {
            "workspace_id": made["id"],
            "owner": "tina",
            "display_name": "mine",
            "version": defined.json()["version"],
            "current": False,
        }
    ]
    applied = await api.client.post(api.path(made["id"]) + ":apply-template")
    assert applied.status_code == 200, applied.text
    assert applied.json()["template_status"] == "current"
    assert (applied.json()["container_image"], applied.json()["compute"]["memory"]) == (
        ALT_IMAGE,
        300,
    )
    assert (await admin.client.get("/templates/small/workspaces")).json()[0]["current"] is True

    # Deprecated: kept for its workspaces, no new ones.
    await admin.client.put("/templates/small", json={**SMALL, "deprecated": True})
    assert (await api.get(made["id"])).json()["template_status"] == "deprecated"
    refused = await api.create(expect=422, template="small", display_name="another")
    assert "deprecated" in refused["detail"]
    # Removed: the workspace keeps its settings.
    assert (await admin.client.delete("/templates/small")).status_code == 204
    gone = (await api.get(made["id"])).json()
    assert (gone["template_status"], gone["compute"]["memory"]) == ("removed", 300)
    assert (await api.client.post(api.path(made["id"]) + ":apply-template")).status_code == 409


async def test_file_templates_are_changed_in_the_file_and_bad_ones_are_refused(api: Api) -> None:
    admin = admin_of(api)
    refused = await admin.client.put("/templates/gpu-box", json=SMALL)
    assert refused.status_code == 409
    assert "TEMPLATES_FILE" in refused.json()["detail"]
    for body, says in [
        ({**SMALL, "cpus": {"default": 5, "min": 1, "max": 4}}, "min <= default <= max"),
        ({**SMALL, "memory": {"default": 3, "options": [1, 2]}}, "not one of the options"),
        ({**SMALL, "images": ["Not A Reference"]}, "not a Docker image reference"),
        ({**SMALL, "environment": {"WORKSPACE_BASE_URL": "/x"}}, "the manager's"),
        ({**SMALL, "environment": {"A B": "x"}}, "cannot be set"),
        ({**SMALL, "idle_timeout": {"default": 60, "min": 0, "max": 120}}, "not a range"),
        ({**SMALL, "privileged": True}, "Extra inputs are not permitted"),
        ({**SMALL, "cpus": {"default": 1, "min": 0, "max": 4}}, "must be above 0"),
        ({**SMALL, "idle_timeout": 10**13}, "idle_timeout: at most"),
        ({**SMALL, "volume_size": {"default": 500, "options": [500, 900]}}, "not options"),
        ({**SMALL, "gpus": {"default": 1, "min": 1, "max": 2}}, "starts at 0"),
        (
            {
                **SMALL,
                "environment": {"BIG": "x" * 4000, **{f"V{i}": "y" * 4000 for i in range(9)}},
            },
            "32 KiB",
        ),
    ]:
        answer = await admin.client.put("/templates/bad", json=body)
        assert answer.status_code == 422, body
        assert says in answer.json()["detail"], answer.json()["detail"]


async def test_infinite_numbers_are_refused(api: Api) -> None:
    admin = admin_of(api)
    body = json.dumps({**SMALL, "memory": 1}).replace('"memory": 1', '"memory": 1e309')
    answer = await admin.client.put(
        "/templates/inf", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422, answer.text


async def test_a_stored_template_this_manager_does_not_understand_is_passed_over(
    api: Api,
) -> None:
    runtime = api.app.state.runtime  # type: ignore[union-attr]
    with runtime.shared.document("templates").changing() as data:
        data["future"] = {**SMALL, "a_field_of_a_newer_manager": 1}
    admin = admin_of(api)
    assert (await admin.client.put("/templates/small", json=SMALL)).status_code == 200
    names = [t["name"] for t in (await api.client.get("/templates")).json()]
    assert names == ["gpu-box", "small"]
    assert (await api.client.get(api.path())).status_code == 200


@pytest.mark.parametrize("api", [{"custom_allowed": False}], indirect=True)
async def test_a_workspace_whose_template_was_removed_does_not_become_custom(api: Api) -> None:
    admin = admin_of(api)
    await admin.client.put("/templates/small", json={**SMALL, "cpus": {"default": 0.5, "max": 1}})
    made = await api.create(template="small", display_name="kept", is_stopped=True)
    await admin.client.delete("/templates/small")
    refused = await api.client.patch(api.path(made["id"]), json={"compute": {"cpus": 2}})
    assert refused.status_code == 409
    assert "was removed" in refused.json()["detail"]
    renamed = await api.client.patch(api.path(made["id"]), json={"display_name": "still-mine"})
    assert renamed.status_code == 200


@pytest.mark.parametrize("api", [{"custom_allowed": False}], indirect=True)
async def test_custom_workspaces_only_where_allowed(api: Api) -> None:
    assert (await api.client.get("/config")).json()["custom_allowed"] is False
    refused = await api.create(expect=422, display_name="custom")
    assert "choose a template" in refused["detail"]
    await api.create(template="gpu-box", display_name="from-template", is_stopped=True)
    admin = admin_of(api)
    assert (await admin.client.get("/config")).json()["custom_allowed"] is True
    await admin.create(display_name="admins-own", is_stopped=True)


def test_a_bad_templates_file_stops_the_start(tmp_path: Path) -> None:
    path = tmp_path / "templates.json"
    path.write_text(json.dumps({"Bad Name": SMALL}))
    with pytest.raises(ValueError, match="'Bad Name' is not a template name"):
        Settings(**{**make_settings().model_dump(), "templates_file": path})
    path.write_text(json.dumps({"small": {**SMALL, "cpus": "many"}}))
    with pytest.raises(ValueError, match="template 'small': cpus"):
        Settings(**{**make_settings().model_dump(), "templates_file": path})
