"""Templates on the real engine: the environment a template sets is the container's, and
applying a newer version with another image recreates the container and keeps /workspace."""

from __future__ import annotations

import docker
import pytest

from tests.support.apiclient import eventually
from tests.support.docker_api import docker_api
from tests.support.images import ALT_IMAGE, TEST_IMAGE

from .test_engine import container_of, run_in

pytestmark = pytest.mark.anyio

TEMPLATE = {
    "display_name": "Team",
    "images": [TEST_IMAGE],
    "cpus": 0.5,
    "memory": 256,
    "volume_size": 500,
    "environment": {"TEAM": "vision", "WORKSPACE_BASE_URL": "x"},
}


async def test_a_templates_environment_and_a_new_version_on_the_engine(
    engine: docker.DockerClient,
) -> None:
    async with docker_api() as api:
        admin = api.as_user("boss", is_admin=True)
        refused = await admin.client.put("/templates/team", json=TEMPLATE)
        assert refused.status_code == 422  # the manager's own variable
        team = {**TEMPLATE, "environment": {"TEAM": "vision"}}
        assert (await admin.client.put("/templates/team", json=team)).status_code == 200
        made = await api.create_running(template="team", display_name="team-ws")
        container = container_of(engine, api, made["id"])
        assert run_in(container, "echo $TEAM")[1] == "vision\n"
        assert run_in(container, "echo data > /workspace/kept.txt")[0] == 0

        newer = {**team, "images": [ALT_IMAGE], "environment": {"TEAM": "vision-2"}}
        assert (await admin.client.put("/templates/team", json=newer)).status_code == 200
        assert (await api.get(made["id"])).json()["template_status"] == "outdated"
        applied = await api.client.post(api.path(made["id"]) + ":apply-template")
        assert applied.status_code == 200, applied.text
        await eventually(api, made["id"], lambda w: w["status"] == "running")
        container = container_of(engine, api, made["id"])
        assert container.attrs["Config"]["Image"] == ALT_IMAGE
        assert run_in(container, "echo $TEAM")[1] == "vision-2\n"
        assert run_in(container, "cat /workspace/kept.txt") == (0, "data\n")
        assert (await api.get(made["id"])).json()["template_status"] == "current"
        await admin.client.delete("/templates/team")
