"""The Docker engine stopped and started again under the manager, on a private engine (never
the main one: other tests run on it). The manager is the in-process app with its Docker backend
pointed at the private engine's socket (`DOCKER_HOST`).

While the engine is down every request that needs it answers 503 with a sentence saying so;
afterwards the manager recovers by itself: the running workspace runs again, the stopped one
stays stopped, creates that were cut either failed cleanly or are listed, and nothing is left
that no workspace owns.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import anyio.to_thread
import docker
import pytest

from lab_workspace_manager.backends.docker.backend import DockerBackend
from tests.support import private_engine
from tests.support.apiclient import eventually, open_api
from tests.support.images import ECHO_IMAGE
from tests.support.settings import SESSION_INSTANCE, make_settings

from .test_faults import accounted_for, all_listed, read, workspace_container

pytestmark = pytest.mark.anyio
DOWN = "Docker engine is not reachable"


@pytest.fixture(scope="module")
def private(
    engine: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[private_engine.PrivateEngine]:
    directory = tmp_path_factory.mktemp("engine")
    with private_engine.for_tests(directory, engine, (ECHO_IMAGE,)) as started:
        yield started


async def test_engine_restart_during_creates_and_while_workspaces_run(
    private: private_engine.PrivateEngine,
) -> None:
    instance = SESSION_INSTANCE[:8] + secrets.token_hex(2)
    settings = make_settings(
        workspace_backend="docker",
        docker_host=private.url,
        instance_id=instance,
        workspace_image_default=ECHO_IMAGE,
        workspace_image_options=[],
    )
    backend = DockerBackend(settings)
    try:
        async with open_api(settings, backend) as api:
            running = await api.create_running(display_name="running")
            container = workspace_container(private.client, instance, running["id"])
            assert container.exec_run(["sh", "-c", "echo kept > /workspace/kept.txt"])[0] == 0
            stopped = await api.create(display_name="stopped", is_stopped=True)

            cut = [
                asyncio.create_task(api.client.post(api.path(), json={"display_name": f"cut-{i}"}))
                for i in range(3)
            ]
            await asyncio.sleep(0.1)
            await anyio.to_thread.run_sync(private.stop)

            for method, path in (
                ("GET", api.path()),
                ("GET", api.path(running["id"])),
                ("POST", api.path()),
                ("POST", api.path(stopped["id"]) + ":start"),
                ("DELETE", api.path(stopped["id"])),
                ("GET", "/healthz"),
            ):
                response = await api.client.request(method, path, json={"display_name": "down"})
                assert response.status_code == 503, (method, path, response.text)
                assert DOWN in response.json()["detail"], response.text
            answers = [(await task) for task in cut]
            for answer in answers:
                assert answer.status_code in (201, 503), answer.text

            await anyio.to_thread.run_sync(private.restart)
            health = await api.client.get("/healthz")
            assert health.status_code == 200, health.text
            # The reconciler runs every RECONCILE_INTERVAL; here once, as it would.
            await api.backend.reconcile()  # type: ignore[attr-defined]

            back = await eventually(api, running["id"], lambda w: w["status"] == "running")
            # Creates cut between their container and its start are started by the reconciler
            # (they used to read "Starting: the container is created." for ever).
            for workspace in (await api.client.get(api.path())).json():
                if workspace["status"] == "pending":
                    await eventually(api, workspace["id"], lambda w: w["status"] == "running")
            assert back["access_url"]
            assert (await api.get(stopped["id"])).json()["status"] == "stopped"
            listed = (await api.client.get(api.path())).json()
            names = {w["display_name"] for w in listed}
            # A create answered 201 is there; one answered "could not create" is not
            # (regression: its half-made record stayed, so a workspace its user was told had
            # failed appeared). One made before the engine went, but not read back after
            # ("could not read"), may be either.
            for index, answer in enumerate(answers):
                if answer.status_code == 201:
                    assert answer.json()["display_name"] in names, listed
                elif "could not create" in answer.json()["detail"]:
                    assert f"cut-{index}" not in names, listed
            print(
                f"\ncreates cut by the engine restart answered "
                f"{[(a.status_code, a.text[:80]) for a in answers]}; listed after: "
                f"{sorted((w['display_name'], w['status'], w['status_message']) for w in listed)}"
            )
            accounted_for(private.client, instance, await all_listed(api))
            container = workspace_container(private.client, instance, running["id"])
            assert read(container, "/workspace/kept.txt") == "kept\n"

            # Nothing needs a person: the cut creates go with a plain delete.
            for workspace in listed:
                if workspace["display_name"].startswith("cut-"):
                    gone = await api.client.delete(
                        api.path(workspace["id"]), params={"delete_volumes": "true"}
                    )
                    assert gone.status_code == 204, gone.text
            await api.backend.reconcile()  # type: ignore[attr-defined]
            accounted_for(private.client, instance, await all_listed(api))
    finally:
        await backend.close()
