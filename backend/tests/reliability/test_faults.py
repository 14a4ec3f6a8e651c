"""Faults: the manager killed mid-create, ML Lab gone and back, a workspace out of memory, a
full /workspace. Each test ends the same way (`accounted_for`): every workspace is listed with
a clear state, the data in /workspace is still there, and nothing the manager made on the
engine is owned by no workspace, with no manual help.

The Docker engine restarting is in test_engine_faults.py (it needs a private engine).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import docker
import httpx
import pytest
import requests.exceptions
from docker.models.containers import Container
from docker.models.volumes import Volume

from lab_workspace_manager.backends.docker.lifecycle import Lifecycle
from tests.support.apiclient import Api, eventually, open_api
from tests.support.contaxy_server import Contaxy
from tests.support.docker_api import docker_api
from tests.support.engine import remove_everything
from tests.support.images import ECHO_IMAGE, OOM_IMAGE, TEST_IMAGE
from tests.support.manager_image import Manager, start_manager, stop_manager
from tests.support.settings import SESSION_INSTANCE, make_settings

pytestmark = pytest.mark.anyio
CLEAR_STATES = {"pending", "running", "stopped", "failed"}


def labelled(engine: docker.DockerClient, instance: str) -> dict[str, set[str]]:
    """Workspace ids named by the labels of what the manager made: containers, volumes."""
    mine = {"label": f"lwm.instance={instance}"}
    ids: dict[str, set[str]] = {"containers": set(), "volumes": set()}
    for container in engine.containers.list(all=True, filters=mine):
        ids["containers"].add(container.labels.get("lwm.workspace", ""))
    for volume in engine.volumes.list(filters=mine):
        ids["volumes"].add((volume.attrs.get("Labels") or {}).get("lwm.workspace", ""))
    return ids


def accounted_for(
    engine: docker.DockerClient,
    instance: str,
    listed: list[dict[str, Any]],
    kept_volumes: set[str] = frozenset(),  # type: ignore[assignment]
) -> None:
    """Every listed workspace reads clearly; everything on the engine belongs to one of them
    (or is a volume its user chose to keep)."""
    ids = [w["id"] for w in listed]
    assert len(ids) == len(set(ids)), f"listed twice: {ids}"
    for workspace in listed:
        assert workspace["status"] in CLEAR_STATES, workspace
        assert workspace["status_message"].strip(), workspace
    on_engine = labelled(engine, instance)
    # The record image and the per-user networks carry no workspace label.
    assert on_engine["containers"] - {""} <= set(ids), on_engine
    assert on_engine["volumes"] - {""} <= set(ids) | kept_volumes, on_engine
    networks = engine.networks.list(filters={"label": f"lwm.instance={instance}"})
    owners = {w["user_id"] for w in listed}
    for network in networks:
        assert network.attrs["Labels"].get("lwm.owner") in owners, network.name


def workspace_container(engine: docker.DockerClient, instance: str, workspace_id: str) -> Any:
    found = engine.containers.list(
        all=True,
        filters={"label": [f"lwm.instance={instance}", f"lwm.workspace={workspace_id}",
                           "lwm.kind=workspace"]},
    )  # fmt: skip
    assert len(found) == 1, (workspace_id, found)
    return found[0]


def read(container: Any, path: str) -> str:
    code, output = container.exec_run(["cat", path])
    assert code == 0, output
    return str(output.decode())


@contextlib.asynccontextmanager
async def own_instance(engine: docker.DockerClient, **overrides: Any) -> AsyncIterator[Api]:
    """The app on the Docker backend under an instance label of its own (inside this session's
    name), so `accounted_for` sees only what this test made; removed at the end."""
    instance = SESSION_INSTANCE[:8] + secrets.token_hex(2)
    try:
        async with docker_api(instance_id=instance, **overrides) as api:
            yield api
    finally:
        remove_everything(engine, instance)


# --- the manager killed and started again -------------------------------------------------------


def restarted(engine: docker.DockerClient, manager: Manager) -> Manager:
    """The same container started again (its /data kept), once it answers."""
    manager.container.start()
    deadline = time.monotonic() + 60
    while True:
        manager.container.reload()
        ports = manager.container.attrs["NetworkSettings"]["Ports"].get("8080/tcp")
        if ports:
            url = f"http://127.0.0.1:{ports[0]['HostPort']}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/api/healthz", trust_env=False).status_code == 200:
                    return Manager(manager.container, url, manager.admin_token, manager.instance)
        assert time.monotonic() < deadline, manager.container.logs()[-2000:]
        time.sleep(0.3)


def test_a_killed_manager_comes_back_with_every_workspace(engine: docker.DockerClient) -> None:
    manager = start_manager(engine)
    try:
        user = "kim-" + secrets.token_hex(2)
        token = manager.token_for(user)
        base = f"/api/users/{user}/workspace"
        with manager.client(token) as client:
            made = client.post(
                base, params={"wait": "true"},
                json={"display_name": "running", "container_image": ECHO_IMAGE},
            )  # fmt: skip
            assert made.status_code == 201, made.text
            running = made.json()
            stopped = client.post(base, json={"display_name": "stopped", "is_stopped": True})
            assert stopped.status_code == 201, stopped.text
        container = workspace_container(engine, manager.instance, running["id"])
        assert container.exec_run(["sh", "-c", "echo kept > /workspace/kept.txt"])[0] == 0

        # Creates in flight when the manager is killed (SIGKILL: no clean shutdown).
        answers: list[int | str] = []

        def create(index: int) -> None:
            with manager.client(token) as client:
                try:
                    response = client.post(
                        base, json={"display_name": f"cut-{index}", "container_image": ECHO_IMAGE}
                    )
                    answers.append(response.status_code)
                except httpx.HTTPError as exc:
                    answers.append(type(exc).__name__)

        threads = [threading.Thread(target=create, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.4)
        manager.container.kill()
        for thread in threads:
            thread.join(30)
        assert len(answers) == 4, answers

        manager = restarted(engine, manager)
        # The reconciler runs at start; what it found is gone before the list is read again.
        time.sleep(1)
        with manager.client(token) as client:
            listed = client.get(base).json()
            by_name = {w["display_name"]: w for w in listed}
            assert by_name["stopped"]["status"] == "stopped"
            back = eventually_sync(client, f"{base}/{running['id']}", "running")
            assert back["id"] == running["id"]
            # Each interrupted create is either not there at all, or a workspace its user sees
            # with a clear state, which they can start or delete.
            for workspace in listed:
                if workspace["display_name"].startswith("cut-"):
                    assert workspace["status"] in CLEAR_STATES, workspace
            print(f"\ninterrupted creates answered {answers}; listed after the restart: "
                  f"{sorted((w['display_name'], w['status']) for w in listed)}")  # fmt: skip
            accounted_for(engine, manager.instance, client.get(base).json())
        container = workspace_container(engine, manager.instance, running["id"])
        assert read(container, "/workspace/kept.txt") == "kept\n"
        # Nothing needs a person: the interrupted ones go with a plain delete.
        with manager.client(token) as client:
            for workspace in client.get(base).json():
                if workspace["display_name"].startswith("cut-"):
                    gone = client.delete(
                        f"{base}/{workspace['id']}", params={"delete_volumes": "true"}
                    )
                    assert gone.status_code == 204, gone.text
            accounted_for(engine, manager.instance, client.get(base).json())
    finally:
        stop_manager(engine, manager)


def eventually_sync(client: httpx.Client, path: str, status: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        workspace = client.get(path).json()
        if workspace.get("status") == status or time.monotonic() > deadline:
            assert workspace.get("status") == status, workspace
            return workspace
        time.sleep(0.3)


# --- ML Lab unreachable ------------------------------------------------------------------------


class Cable:
    """A TCP forwarder in front of ML Lab that can be unplugged (every connection cut, new
    ones refused) and plugged in again on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def plug(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def unplug(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


@pytest.fixture
async def cable(contaxy: Contaxy) -> AsyncIterator[Cable]:
    host, port = contaxy.endpoint.removeprefix("http://").split(":")
    cable = Cable(host, int(port))
    await cable.plug()
    yield cable
    if cable._server is not None:
        await cable.unplug()


async def test_ml_lab_gone_gives_503_and_it_recovers_by_itself(
    contaxy: Contaxy, cable: Cable, engine: docker.DockerClient
) -> None:
    # Verdicts on tokens are not reused, so every request really asks ML Lab.
    settings = make_settings(
        workspace_backend="docker",
        contaxy_api_endpoint=cable.endpoint,
        auth_cache_seconds=0,
        instance_id=SESSION_INSTANCE[:8] + secrets.token_hex(2),
    )
    async with open_api(settings, sign_up=contaxy.sign_up) as api:
        kept = await api.create(display_name="kept", is_stopped=True)
        await cable.unplug()
        for method, path in (
            ("GET", api.path()),
            ("GET", api.path(kept["id"])),
            ("POST", api.path()),
            ("GET", "/users/me"),
        ):
            response = await api.client.request(method, path, json={"display_name": "during"})
            assert response.status_code == 503, (method, path, response.text)
            assert "ML Lab cannot be reached" in response.json()["detail"], response.text
        health = await api.client.get("/healthz")
        assert health.status_code in (200, 503), health.text  # the engine answers; sign-in not
        await cable.plug()
        listed = (await api.client.get(api.path())).json()
        assert [w["display_name"] for w in listed] == ["kept"], listed
        assert (await api.client.get("/users/me")).json()["id"] == api.user
        accounted_for(engine, settings.instance_id, await all_listed(api))
    remove_everything(engine, settings.instance_id)


async def all_listed(api: Api) -> list[dict[str, Any]]:
    """Every workspace of this session's instance, as the backend lists them (the other tests
    of the session run on the same instance label)."""
    return [
        {
            "id": state.id,
            "user_id": state.owner,
            "status": state.status.value,
            "status_message": state.status_message,
        }
        for state in await api.backend.list_workspaces(None)
    ]


# --- out of memory, and a full /workspace ------------------------------------------------------


async def test_out_of_memory_keeps_the_data_and_says_so(engine: docker.DockerClient) -> None:
    """tests/docker checks the OOM message; here: the data survives it and the user recovers
    without help (back to an image that fits, started again)."""
    async with own_instance(engine) as api:
        workspace = await api.create_running(display_name="oom", compute={"memory": 128})
        container = workspace_container(engine, api.settings.instance_id, workspace["id"])
        assert container.exec_run(["sh", "-c", "echo kept > /workspace/kept.txt"])[0] == 0
        response = await api.client.patch(
            api.path(workspace["id"]), json={"container_image": OOM_IMAGE}
        )
        assert response.status_code == 200, response.text
        final = await eventually(api, workspace["id"], lambda w: w["status"] == "stopped")
        assert "out of memory" in final["status_message"], final
        response = await api.client.patch(
            api.path(workspace["id"]), json={"container_image": TEST_IMAGE}
        )
        assert response.status_code == 200, response.text
        back = await api.action(workspace["id"], "start", wait=True)
        assert back["status"] == "running", back
        container = workspace_container(engine, api.settings.instance_id, workspace["id"])
        assert read(container, "/workspace/kept.txt") == "kept\n"
        accounted_for(engine, api.settings.instance_id, await all_listed(api))


async def test_a_full_workspace_recovers_once_room_is_made(engine: docker.DockerClient) -> None:
    """tests/docker/test_usage.py: the soft limit stops a full workspace, deleting nothing.
    Here the rest: the user starts it, makes room, and it keeps running with no warning."""
    async with own_instance(engine, disk_grace_seconds=0) as api:
        workspace = await api.create_running(display_name="full", compute={"volume_size": 100})
        container = workspace_container(engine, api.settings.instance_id, workspace["id"])
        fill = "dd if=/dev/zero of=/workspace/big bs=1M count=120 status=none"
        fill += " && echo kept > /workspace/kept.txt"
        assert container.exec_run(["sh", "-c", fill])[0] == 0
        usage = api.app.state.runtime.usage
        assert await usage.sample_disk() == [workspace["id"]]
        stopped = (await api.get(workspace["id"])).json()
        assert stopped["status"] == "stopped" and "nothing was deleted" in stopped["status_message"]
        await api.action(workspace["id"], "start", wait=True)
        container = workspace_container(engine, api.settings.instance_id, workspace["id"])
        assert container.exec_run(["rm", "/workspace/big"])[0] == 0
        assert await usage.sample_disk() == []
        stats = (await api.client.get(api.path(workspace["id"]) + "/stats")).json()
        assert stats["volume_used"] < 10 and stats["warnings"] == [], stats
        assert (await api.get(workspace["id"])).json()["status"] == "running"
        assert read(container, "/workspace/kept.txt") == "kept\n"
        accounted_for(engine, api.settings.instance_id, await all_listed(api))


async def test_a_create_cut_before_its_start_is_started_by_the_reconciler(
    engine: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: a create cut between creating the container and starting it (the manager or
    the engine restarting) left a workspace reading "Starting: the container is created."
    for ever. Here the cut is made exact: the start is skipped, as if the manager had died."""
    async with own_instance(engine) as api:
        with monkeypatch.context() as patched:
            patched.setattr(Container, "start", lambda self, **kwargs: None)
            cut = await api.create(display_name="cut")
        assert cut["status"] == "pending", cut
        assert workspace_container(engine, api.settings.instance_id, cut["id"]).status == "created"
        await api.backend.reconcile()  # type: ignore[attr-defined]
        await eventually(api, cut["id"], lambda w: w["status"] == "running")
        accounted_for(engine, api.settings.instance_id, await all_listed(api))


async def test_a_create_the_engine_cut_is_undone_once_it_is_back(
    engine: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: a create cut by the engine going away answered 503 "could not create", but
    its rollback failed too (no engine), and once the engine was back the workspace appeared.
    The reconciler now finishes the rollback, unless the user has acted on it since."""
    unreachable = requests.exceptions.ConnectionError("engine gone")

    def gone(*args: object, **kwargs: object) -> None:
        raise unreachable

    async with own_instance(engine) as api:
        with monkeypatch.context() as patched:
            patched.setattr(Container, "start", gone)
            patched.setattr(Volume, "remove", gone)
            patched.setattr(Lifecycle, "remove_containers", gone)
            for name in ("undone", "kept"):
                response = await api.client.post(api.path(), json={"display_name": name})
                assert response.status_code == 503, response.text
                assert "could not create" in response.json()["detail"]
        listed = {w["display_name"]: w for w in (await api.client.get(api.path())).json()}
        assert set(listed) == {"undone", "kept"}  # until the reconciler runs
        await api.action(listed["kept"]["id"], "start", wait=True)  # the user acts on it
        await api.backend.reconcile()  # type: ignore[attr-defined]
        after = (await api.client.get(api.path())).json()
        assert [(w["display_name"], w["status"]) for w in after] == [("kept", "running")]
        accounted_for(engine, api.settings.instance_id, await all_listed(api))
