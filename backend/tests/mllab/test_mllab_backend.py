"""Workspaces as ML Lab services: what contaxy really deploys, and what we fix on top of it."""

from __future__ import annotations

from typing import Any

import docker
import pytest

from lab_workspace_manager.backends.mllab import service_input
from lab_workspace_manager.models import ComputeSpec, WorkspaceSpec
from tests.support.apiclient import eventually
from tests.support.contaxy_server import Contaxy
from tests.support.images import TEST_IMAGE
from tests.support.settings import make_settings

pytestmark = pytest.mark.anyio


def test_the_service_input_is_exactly_what_was_asked() -> None:
    spec = WorkspaceSpec(
        display_name="Mon espace",
        container_image="img:1",
        compute=ComputeSpec(cpus=1.5, memory=700, volume_size=900, gpus=0),
        idle_timeout=3600,
        clear_volume_on_stop=True,
    )
    settings = make_settings(instance_id="lwm", container_size=4000)
    assert service_input(settings, "abcdefghij", spec, start=False) == {
        "container_image": "img:1",
        "display_name": "ws-abcdefghij",
        "description": "Mon espace",
        "icon": "code",
        "endpoints": ["8080b"],
        "parameters": {
            "WORKSPACE_BASE_URL": "{env.CONTAXY_SERVICE_URL}",
            "MAX_NUM_THREADS": "2",
            "SHARED_LINKS_ENABLED": "false",
        },
        "compute": {
            "max_cpus": 1.5,
            "min_cpus": 1.5,
            "max_memory": 700,
            "min_memory": 700,
            "max_gpus": None,
            "volume_path": "/workspace",
            "max_volume_size": 900,
            "max_container_size": 4000,
        },
        "metadata": {
            "lwm.instance": "lwm",
            "lwm.workspace": "abcdefghij",
            "lwm.display-name": "Mon espace",
            "lwm.spec": spec.model_dump_json(),
            "ctxy.workspaceExtension.deploymentType": "workspace",
        },
        "idle_timeout": 3600,
        "clear_volume_on_stop": True,
        "is_stopped": True,
    }


def container_of(
    engine: docker.DockerClient, contaxy: Contaxy, owner: str, workspace_id: str
) -> Any:
    wanted = [f"ctxy.namespace={contaxy.namespace}", f"lwm.workspace={workspace_id}"]
    found = engine.containers.list(all=True, filters={"label": wanted})
    assert len(found) == 1, found
    return found[0]


async def test_what_ml_lab_deploys(
    lab_api: Any, contaxy: Contaxy, engine: docker.DockerClient
) -> None:
    async with lab_api("mllab") as alice:
        workspace = await alice.create_running(
            display_name="deployed", compute={"cpus": 0.5, "memory": 300}
        )
        container = container_of(engine, contaxy, alice.user, workspace["id"])
        host = container.attrs["HostConfig"]
        assert host["NanoCpus"] == 500_000_000
        assert host["Memory"] == 300 * 1024 * 1024
        assert [m["Destination"] for m in container.attrs["Mounts"]] == ["/workspace"]
        env = dict(e.split("=", 1) for e in container.attrs["Config"]["Env"])
        assert env["WORKSPACE_BASE_URL"] + "/" == workspace["access_url"]
        assert env["SHARED_LINKS_ENABLED"] == "false"
        labels = container.attrs["Config"]["Labels"]
        assert labels["lwm.display-name"] == "deployed"
        assert labels["ctxy.projectName"] == alice.user
        # Files in /workspace survive a stop and a start (ML Lab recreates the container).
        container.exec_run(["sh", "-c", "echo kept > /workspace/kept.txt"])
        await alice.action(workspace["id"], "stop")
        await alice.action(workspace["id"], "start")
        await eventually(alice, workspace["id"], lambda w: w["status"] == "running")
        again = container_of(engine, contaxy, alice.user, workspace["id"])
        assert again.exec_run(["cat", "/workspace/kept.txt"]).output == b"kept\n"


async def test_other_services_in_the_project_are_never_touched(
    lab_api: Any, contaxy: Contaxy
) -> None:
    async with lab_api("mllab") as alice:
        with contaxy.client(alice.token) as lab:
            other = lab.post(
                f"/projects/{alice.user}/services",
                json={
                    "container_image": TEST_IMAGE,
                    "display_name": "someone-elses",
                    "is_stopped": True,
                },
            )
            assert other.status_code == 200, other.text
        mine = await alice.create(display_name="mine", is_stopped=True)
        assert await alice.names() == ["mine"]
        await alice.client.delete(alice.path(mine["id"]), params={"delete_volumes": "true"})
        with contaxy.client(alice.token) as lab:
            left = lab.get(f"/projects/{alice.user}/services").json()
        assert [s["display_name"] for s in left] == ["someone-elses"]


async def test_a_failed_deploy_leaves_no_record(lab_api: Any, contaxy: Contaxy) -> None:
    missing = "lwm-test-missing:latest"
    async with lab_api("mllab", workspace_image_options=[missing]) as alice:
        response = await alice.client.post(
            alice.path(), json={"display_name": "x", "container_image": missing}
        )
        assert response.status_code == 500
        assert "ML Lab failed to create the workspace" in response.json()["detail"]
        with contaxy.client(alice.token) as lab:
            assert lab.get(f"/projects/{alice.user}/services").json() == []


async def test_deleting_a_stopped_workspace_with_its_data_removes_the_volume(
    lab_api: Any, contaxy: Contaxy, engine: docker.DockerClient
) -> None:
    async with lab_api("mllab") as alice:
        workspace = await alice.create_running(display_name="data")
        await alice.action(workspace["id"], "stop")
        volumes = {
            "label": [f"ctxy.namespace={contaxy.namespace}", f"ctxy.projectName={alice.user}"]
        }
        assert engine.volumes.list(filters=volumes)
        response = await alice.client.delete(
            alice.path(workspace["id"]), params={"delete_volumes": "true"}
        )
        assert response.status_code == 204
        assert engine.volumes.list(filters=volumes) == []
