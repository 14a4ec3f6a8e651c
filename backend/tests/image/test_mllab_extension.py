"""Installing the image into a real ML Lab (contaxy 0.0.23), both ways the README documents."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.support.contaxy_server import Contaxy
from tests.support.manager_image import IMAGE, start_manager, stop_manager

UI = "8080/app#/users/{env.userId}/workspace"
API = "8080/api"


def listed_extensions(contaxy: Contaxy) -> tuple[str, list[dict[str, Any]]]:
    """What a normal ML Lab user sees: (their id, the extensions of their home project)."""
    user_id, token = contaxy.add_user("ext" + secrets.token_hex(3))
    with contaxy.client(token) as lab:
        response = lab.get(f"/projects/{user_id}/extensions")
    assert response.status_code == 200, response.text
    return user_id, response.json()


def test_install_through_the_extension_api(contaxy: Contaxy, engine: docker.DockerClient) -> None:
    request = {
        "container_image": IMAGE,
        "display_name": "Workspaces",
        "icon": "code",
        "endpoints": ["8080"],
        "api_extension_endpoint": API,
        "ui_extension_endpoint": UI,
        # contaxy 0.0.23 refuses "global-extension" (422).
        "extension_type": "user-extension",
        "parameters": {"WORKSPACE_MAX_MEMORY_MB": "2000", "WORKSPACE_MAX_CPUS": "2"},
    }
    with contaxy.client() as admin:
        installed = admin.post("/projects/ctxy-global/extensions", json=request)
    assert installed.status_code == 200, installed.text
    extension_id = installed.json()["id"]
    try:
        user_id, extensions = listed_extensions(contaxy)
        ours = next(e for e in extensions if e["id"] == extension_id)
        access = f"/projects/ctxy-global/services/{extension_id}/access"
        assert ours["ui_extension_endpoint"] == f"{access}/8080/app#/users/{user_id}/workspace"
        assert ours["api_extension_endpoint"] == f"{access}/8080/api"
        container = engine.containers.get(extension_id)
        assert container.attrs["Config"]["Image"] == IMAGE
        env = dict(e.split("=", 1) for e in container.attrs["Config"]["Env"])
        # ML Lab tells the manager where it is: the manager starts in ML Lab mode.
        assert env["CONTAXY_API_ENDPOINT"] == contaxy.endpoint
        assert env["WORKSPACE_MAX_MEMORY_MB"] == "2000"
    finally:
        # contaxy 0.0.23 cannot delete an extension: uninstalling is removing its container.
        engine.containers.get(extension_id).remove(force=True, v=True)


def test_discovery_by_docker_labels(contaxy: Contaxy, engine: docker.DockerClient) -> None:
    name = f"{contaxy.namespace}-p-ctxy-global-s-workspace-manager"
    manager = start_manager(
        engine,
        name=name,
        environment={
            "CONTAXY_DEPLOYMENT_NAME": name,
            "WORKSPACE_PUBLIC_PREFIX": f"/projects/ctxy-global/services/{name}/access/8080",
        },
        labels={
            "ctxy.namespace": contaxy.namespace,
            "ctxy.projectName": "ctxy-global",
            "ctxy.deploymentType": "extension",
            "ctxy.deploymentId": name,
            "ctxy.displayName": "Workspaces",
            "ctxy.endpoints": "8080",
            "ctxy.icon": "code",
            "ctxy.extensionType": "user-extension",
            "ctxy.ui_extension_endpoint": UI,
            "ctxy.api_extension_endpoint": API,
        },
    )
    try:
        user_id, extensions = listed_extensions(contaxy)
        ours = next(e for e in extensions if e["id"] == name)
        access = f"/projects/ctxy-global/services/{name}/access"
        assert ours["display_name"] == "Workspaces"
        assert ours["ui_extension_endpoint"] == f"{access}/8080/app#/users/{user_id}/workspace"
        assert ours["api_extension_endpoint"] == f"{access}/8080/api"
        # What ML Lab's proxy forwards (its prefix stripped) is answered, and redirects stay
        # relative to that prefix.
        with manager.client() as client:
            assert client.get("/api/healthz").status_code == 200
            assert client.get("/app").headers["Location"] == "app/"
    finally:
        stop_manager(engine, manager)


def test_the_compose_file_carries_the_discovery_labels() -> None:
    compose = (Path(__file__).resolve().parents[3] / "docker-compose.yml").read_text()
    for label in (
        "ctxy.namespace",
        "ctxy.projectName: ctxy-global",
        "ctxy.deploymentType: extension",
        "ctxy.deploymentId",
        "ctxy.endpoints",
        f'ctxy.ui_extension_endpoint: "{UI}"',
        f'ctxy.api_extension_endpoint: "{API}"',
        "CONTAXY_DEPLOYMENT_NAME",
    ):
        assert label in compose, label


@pytest.fixture(autouse=True)
def _image_exists(engine: docker.DockerClient) -> None:
    engine.images.get(IMAGE)
