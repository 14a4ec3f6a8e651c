"""What the Docker backend really leaves on the engine, checked with `docker inspect`."""

from __future__ import annotations

import asyncio
from typing import Any

import docker
import docker.errors
import pytest
from docker.models.containers import ContainerCollection

from lab_workspace_manager import naming
from tests.support.apiclient import Api, eventually
from tests.support.engine import owned
from tests.support.images import ALT_IMAGE, CRASH_IMAGE, OOM_IMAGE
from tests.support.settings import SESSION_INSTANCE

pytestmark = pytest.mark.anyio
MIB = 1024 * 1024


def container_of(engine: docker.DockerClient, api: Api, workspace_id: str, user: str | None = None):
    return engine.containers.get(
        naming.container_name(SESSION_INSTANCE, user or api.user, workspace_id)
    )


def run_in(container: Any, command: str) -> tuple[int, str]:
    exit_code, output = container.exec_run(["sh", "-c", command])
    return exit_code, output.decode(errors="replace")


async def test_the_container_has_every_limit_label_and_mount_asked_for(
    api: Api, engine: docker.DockerClient
) -> None:
    workspace = await api.create_running(
        display_name="Exact", compute={"cpus": 0.5, "memory": 300, "volume_size": 400}
    )
    attrs = container_of(engine, api, workspace["id"]).attrs
    host = attrs["HostConfig"]
    assert host["NanoCpus"] == 500_000_000
    assert host["Memory"] == host["MemorySwap"] == 300 * MIB
    assert host["ShmSize"] == 512 * MIB
    assert host["PidsLimit"] == 4096
    assert host["Privileged"] is False
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert not host.get("Binds")
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert host["LogConfig"] == {
        "Type": "json-file",
        "Config": {"max-file": "3", "max-size": "10m"},
    }
    volume = naming.volume_name(SESSION_INSTANCE, api.user, workspace["id"])
    assert [(m["Type"], m["Name"], m["Destination"]) for m in attrs["Mounts"]] == [
        ("volume", volume, "/workspace")
    ]
    assert "docker.sock" not in str(attrs)
    env = dict(item.split("=", 1) for item in attrs["Config"]["Env"])
    assert env["WORKSPACE_BASE_URL"] == f"/workspaces/{workspace['id']}/"
    assert env["MAX_NUM_THREADS"] == "1"
    assert list(attrs["NetworkSettings"]["Networks"]) == [
        naming.network_name(SESSION_INSTANCE, api.user)
    ]
    labels = attrs["Config"]["Labels"]
    assert {k: labels[k] for k in ("lwm.instance", "lwm.kind", "lwm.owner", "lwm.workspace")} == {
        "lwm.instance": SESSION_INSTANCE,
        "lwm.kind": "workspace",
        "lwm.owner": api.user,
        "lwm.workspace": workspace["id"],
    }
    assert labels["lwm.display-name"] == "Exact"
    volume_labels = engine.volumes.get(volume).attrs["Labels"]
    assert volume_labels["lwm.owner"] == api.user
    assert volume_labels["lwm.workspace"] == workspace["id"]
    assert owned(engine, owner=api.user)["networks"] == [
        naming.network_name(SESSION_INSTANCE, api.user)
    ]


async def test_one_record_per_workspace_never_started(
    api: Api, engine: docker.DockerClient
) -> None:
    workspace = await api.create(display_name="rec", is_stopped=True)
    for name in ("rec-2", "rec-3"):
        response = await api.client.patch(api.path(workspace["id"]), json={"display_name": name})
        assert response.status_code == 200
    await api.action(workspace["id"], "start")
    await api.action(workspace["id"], "stop")
    records = engine.containers.list(
        all=True, filters={"label": [f"lwm.workspace={workspace['id']}", "lwm.kind=record"]}
    )
    assert len(records) == 1
    record = records[0].attrs
    assert record["State"]["Status"] == "created"
    assert record["HostConfig"]["NetworkMode"] == "none"
    assert record["Config"]["Labels"]["lwm.display-name"] == "rec-3"
    assert record["Config"]["Labels"]["lwm.desired"] == "stopped"


async def test_stop_and_start_switch_the_restart_policy(
    api: Api, engine: docker.DockerClient
) -> None:
    workspace = await api.create_running(display_name="policy")
    await api.action(workspace["id"], "stop")
    container = container_of(engine, api, workspace["id"])
    assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "no"
    assert container.status == "exited"
    await api.action(workspace["id"], "start")
    container.reload()
    assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "on-failure"


async def test_out_of_memory_is_reported(api: Api) -> None:
    workspace = await api.create(
        display_name="hog", container_image=OOM_IMAGE, compute={"memory": 64}
    )
    final = await eventually(api, workspace["id"], lambda w: w["status"] == "stopped")
    assert "used more than its 64 MB memory limit (out of memory)" in final["status_message"]


async def test_a_crash_reports_its_exit_code_and_last_lines(
    api: Api, engine: docker.DockerClient
) -> None:
    workspace = await api.create(display_name="crash", container_image=CRASH_IMAGE)
    final = await eventually(api, workspace["id"], lambda w: w["status"] == "failed")
    assert "exited with code 3" in final["status_message"]
    assert "gives up on purpose" in final["status_message"]
    logs = await api.client.get(api.path(workspace["id"]) + "/logs")
    assert "gives up on purpose" in logs.text
    # Why it ended is read once per end, not on every list (each read is two engine calls).
    container = container_of(engine, api, workspace["id"])
    for _ in range(120):  # until the engine has given up restarting it
        container.reload()
        if container.attrs["RestartCount"] >= 3 and container.status == "exited":
            break
        await asyncio.sleep(0.25)
    await asyncio.sleep(1)  # the last end's events have arrived
    await api.client.get(api.path())
    backend = api.backend
    calls = []
    inspect = backend.client.api.inspect_container
    backend.client.api.inspect_container = lambda *a, **k: calls.append(a) or inspect(*a, **k)
    try:
        for _ in range(20):
            listed = (await api.client.get(api.path())).json()
            assert "gives up on purpose" in listed[0]["status_message"]
    finally:
        backend.client.api.inspect_container = inspect
    assert calls == []


async def test_delete_leaves_nothing_behind(api: Api, engine: docker.DockerClient) -> None:
    workspace = await api.create_running(display_name="temp")
    assert owned(engine, owner=api.user)["volumes"]
    response = await api.client.delete(api.path(workspace["id"]), params={"delete_volumes": "true"})
    assert response.status_code == 204
    assert owned(engine, owner=api.user) == {"containers": [], "volumes": [], "networks": []}


async def test_delete_keeps_the_data_unless_asked(api: Api, engine: docker.DockerClient) -> None:
    workspace = await api.create(display_name="keep", is_stopped=True)
    await api.client.delete(api.path(workspace["id"]))
    volume = naming.volume_name(SESSION_INSTANCE, api.user, workspace["id"])
    assert owned(engine, owner=api.user) == {"containers": [], "volumes": [volume], "networks": []}
    # Deleting again with delete_volumes removes the data that was kept.
    await api.client.delete(api.path(workspace["id"]), params={"delete_volumes": "true"})
    assert owned(engine, owner=api.user)["volumes"] == []


async def test_users_cannot_reach_each_others_workspaces(
    open_api: Any, engine: docker.DockerClient
) -> None:
    async with open_api() as alice, open_api() as bob:
        a1, a2, b1 = await asyncio.gather(
            alice.create_running(display_name="a1"),
            alice.create_running(display_name="a2"),
            bob.create_running(display_name="b1"),
        )
        target = container_of(engine, alice, a1["id"])
        address = next(iter(target.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
        probe = (
            f"curl -s -o /dev/null -m 3 -w '%{{http_code}}' http://{address}:8080{a1['access_url']}"
        )
        own_code, own = run_in(container_of(engine, alice, a2["id"]), probe)
        assert (own_code, own) == (0, "302"), "control: a user's own workspaces reach each other"
        other_code, _ = run_in(container_of(engine, bob, b1["id"], bob.user), probe)
        assert other_code != 0, "another user's workspace must not be reachable"


async def test_data_survives_stop_start_and_an_image_change(
    api: Api, engine: docker.DockerClient
) -> None:
    workspace = await api.create_running(display_name="data")
    before = container_of(engine, api, workspace["id"])
    assert run_in(before, "echo precious > /workspace/result.txt")[0] == 0
    await api.action(workspace["id"], "stop")
    await api.action(workspace["id"], "start", wait=True)
    response = await api.client.patch(
        api.path(workspace["id"]), json={"container_image": ALT_IMAGE}
    )
    assert response.status_code == 200, response.text
    running = await eventually(api, workspace["id"], lambda w: w["status"] == "running")
    assert running["container_image"] == ALT_IMAGE
    after = container_of(engine, api, workspace["id"])
    assert after.id != before.id
    assert after.attrs["Config"]["Image"] == ALT_IMAGE
    assert run_in(after, "cat /workspace/result.txt") == (0, "precious\n")


async def test_cpu_and_memory_change_live(api: Api, engine: docker.DockerClient) -> None:
    workspace = await api.create_running(
        display_name="resize", compute={"cpus": 0.5, "memory": 256}
    )
    before = container_of(engine, api, workspace["id"])
    response = await api.client.patch(
        api.path(workspace["id"]), json={"compute": {"cpus": 1.5, "memory": 512}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "running"
    after = container_of(engine, api, workspace["id"])
    assert after.id == before.id
    assert after.attrs["State"]["StartedAt"] == before.attrs["State"]["StartedAt"]
    assert after.attrs["HostConfig"]["NanoCpus"] == 1_500_000_000
    assert (
        after.attrs["HostConfig"]["Memory"] == after.attrs["HostConfig"]["MemorySwap"] == 512 * MIB
    )


async def test_memory_below_current_use_is_refused(api: Api, engine: docker.DockerClient) -> None:
    workspace = await api.create_running(display_name="busy", compute={"memory": 512})
    container = container_of(engine, api, workspace["id"])
    container.exec_run(
        ["python3", "-c", "import time; x = bytearray(300 * 1024 * 1024); time.sleep(600)"],
        detach=True,
    )
    await asyncio.sleep(2)
    response = await api.client.patch(api.path(workspace["id"]), json={"compute": {"memory": 100}})
    assert response.status_code == 409, response.text
    assert "cannot be lowered that far while it runs" in response.json()["detail"]
    assert (await api.get(workspace["id"])).json()["compute"]["memory"] == 512
    container.reload()
    assert container.attrs["HostConfig"]["Memory"] == 512 * MIB


async def test_a_container_removed_outside_comes_back_on_start(
    api: Api, engine: docker.DockerClient
) -> None:
    workspace = await api.create_running(display_name="gone")
    container = container_of(engine, api, workspace["id"])
    run_in(container, "echo kept > /workspace/kept.txt")
    container.remove(force=True)
    # Seen as soon as the engine's event has been listed (reads do not list themselves).
    missing = await eventually(api, workspace["id"], lambda w: w["status"] == "stopped", 10)
    assert "container is missing" in missing["status_message"]
    await api.action(workspace["id"], "start", wait=True)
    assert (
        run_in(container_of(engine, api, workspace["id"]), "cat /workspace/kept.txt")[1] == "kept\n"
    )


async def test_twenty_concurrent_creates_all_succeed(api: Api, engine: docker.DockerClient) -> None:
    responses = await asyncio.gather(
        *(
            api.client.post(
                api.path(), json={"display_name": f"burst-{i}", "compute": {"cpus": 0.1}}
            )
            for i in range(20)
        )
    )
    assert [r.status_code for r in responses] == [201] * 20, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 20
    assert len(owned(engine, owner=api.user, kind="workspace")["containers"]) == 20


async def test_an_engine_that_is_down_gives_503(open_api: Any) -> None:
    async with open_api(docker_host="unix:///tmp/no-docker-here.sock") as api:
        listing = await api.client.get(api.path())
        assert listing.status_code == 503
        assert "Docker engine is not reachable" in listing.json()["detail"]
        create = await api.client.post(api.path(), json={"display_name": "x"})
        assert create.status_code == 503
        health = await api.client.get("/healthz")
        assert health.status_code == 503
        assert health.json()["status"] == "unavailable"


async def test_a_missing_image_is_refused_and_leaves_nothing(
    open_api: Any, engine: docker.DockerClient
) -> None:
    missing = "lwm-test-missing:latest"
    async with open_api(workspace_image_options=[missing]) as api:
        refused = await api.create(expect=400, display_name="x", container_image=missing)
        assert refused["detail"].startswith(f"Image {missing} is not available on this host")
        assert owned(engine, owner=api.user) == {"containers": [], "volumes": [], "networks": []}


async def test_gpus_on_a_host_without_them_are_refused(
    open_api: Any, engine: docker.DockerClient
) -> None:
    async with open_api(gpus_max=2) as api:
        refused = await api.create(expect=400, display_name="x", compute={"gpus": 1})
        assert "no NVIDIA runtime" in refused["detail"]
        assert owned(engine, owner=api.user) == {"containers": [], "volumes": [], "networks": []}


async def test_a_create_failing_half_way_is_rolled_back(
    api: Api, engine: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record, volume and network exist when the container fails: all must go."""
    real_create = ContainerCollection.create

    def failing_create(self: ContainerCollection, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("mounts"):
            raise docker.errors.APIError("injected failure", explanation="injected failure")
        return real_create(self, *args, **kwargs)

    monkeypatch.setattr(ContainerCollection, "create", failing_create)
    response = await api.client.post(api.path(), json={"display_name": "half"})
    assert response.status_code == 500
    assert "injected failure" in response.json()["detail"]
    assert owned(engine, owner=api.user) == {"containers": [], "volumes": [], "networks": []}


async def test_clear_volume_on_stop_empties_workspace_on_stop_only(
    api: Api, engine: docker.DockerClient
) -> None:
    workspace = await api.create_running(display_name="scratch", clear_volume_on_stop=True)
    write = "mkdir -p /workspace/d && echo x > /workspace/d/f && echo y > /workspace/.hidden"
    assert run_in(container_of(engine, api, workspace["id"]), write)[0] == 0
    await api.action(workspace["id"], "restart", wait=True)
    kept = run_in(container_of(engine, api, workspace["id"]), "ls -A /workspace")[1].split()
    assert sorted(kept) == [".hidden", "d"], "a restart is not a stop: nothing is cleared"
    await api.action(workspace["id"], "stop")
    await api.action(workspace["id"], "start", wait=True)
    left = run_in(container_of(engine, api, workspace["id"]), "ls -A /workspace")[1]
    assert left == ""
    assert owned(engine, owner=api.user, kind="cleaner")["containers"] == []


async def test_a_network_with_a_users_name_but_not_theirs_is_never_joined(
    api: Api, engine: docker.DockerClient
) -> None:
    """Regression (issue 13): the manager reused any network that had the user's network name;
    one made by someone else (or found by a user who chose an id whose name collides) would
    have put the user's workspaces on a stranger's network. Its labels are checked."""
    victim = api.as_user()
    name = naming.network_name(SESSION_INSTANCE, victim.user)
    planted = engine.networks.create(
        name, labels={"lwm.instance": SESSION_INSTANCE, "lwm.owner": "mallory"}
    )
    try:
        refused = await victim.client.post(
            f"/users/{victim.user}/workspace", json={"display_name": "mine"}
        )
        assert refused.status_code == 409, refused.text
        assert "is not this user's" in refused.json()["detail"]
        assert engine.networks.get(name).attrs["Containers"] == {}
        leftovers = owned(engine, owner=victim.user)
        assert (leftovers["containers"], leftovers["volumes"]) == ([], []), leftovers
    finally:
        planted.remove()


async def test_a_workspace_has_no_raw_sockets_or_device_nodes_but_works(
    api: Api, engine: docker.DockerClient
) -> None:
    """Issue 13: workspaces had Docker's default capabilities, NET_RAW and MKNOD included.
    Dropped; owning files, switching users and Jupyter itself still work."""
    workspace = await api.create_running(display_name="caps")
    container = container_of(engine, api, workspace["id"])
    raw = "import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)"
    code, output = container.exec_run(["python3", "-c", raw])
    assert code != 0 and b"PermissionError" in output, output
    code, output = container.exec_run(["mknod", "/tmp/device", "c", "1", "3"])
    assert code != 0, output
    code, output = container.exec_run(
        [
            "sh",
            "-c",
            "touch /workspace/f && chown nobody /workspace/f && su -s /bin/sh nobody -c id",
        ]
    )
    assert code == 0, output
    assert (await api.get(workspace["id"])).json()["status"] == "running"


async def test_logs_are_read_within_a_bound(api: Api, engine: docker.DockerClient) -> None:
    """Issue 13: /logs held whatever the engine kept (up to 30 MB per workspace: lines come in
    16 KB pieces, up to 10,000 of them) in memory. At most the last 1 MB is read, and the
    answer says it was cut."""
    workspace = await api.create_running(display_name="chatty")
    container = container_of(engine, api, workspace["id"])
    # Three megabytes on the workspace's own output, then a last line.
    out = "> /proc/1/fd/1"
    write = f"head -c 3000000 /dev/zero | tr '\\0' x {out}; echo {out}; echo last {out}"
    code, _ = container.exec_run(["sh", "-c", write])
    assert code == 0
    # (The engine writes what a container printed to its log a moment later: asked again
    # until the last line is there.)
    for _ in range(40):
        response = await api.client.get(api.path(workspace["id"]) + "/logs", params={"tail": 10000})
        if response.text.rstrip().endswith("last"):
            break
        await asyncio.sleep(0.25)
    assert response.status_code == 200
    assert len(response.content) <= 1024 * 1024 + 200
    assert response.text.startswith("[earlier output cut: the last 1 MB are shown]")
    assert "xxxx" in response.text
    assert response.text.rstrip().endswith("last")


async def test_data_kept_at_delete_is_listed_counted_and_deleted_on_request(
    api: Api, engine: docker.DockerClient
) -> None:
    workspace = await api.create_running(display_name="keeps", compute={"volume_size": 300})
    run_in(container_of(engine, api, workspace["id"]), "echo mine > /workspace/mine.txt")
    assert (await api.client.delete(api.path(workspace["id"]))).status_code == 204
    kept = (await api.client.get(api.user_path("kept-volumes"))).json()
    assert [(k["workspace_id"], k["display_name"], k["size"]) for k in kept] == [
        (workspace["id"], "keeps", 300)
    ]
    assert kept[0]["created_at"]
    # The reconciler leaves it alone: it is the user's data.
    await api.backend.reconcile()
    volume = naming.volume_name(SESSION_INSTANCE, api.user, workspace["id"])
    assert engine.volumes.get(volume)
    assert (
        await api.client.delete(api.user_path(f"kept-volumes/{workspace['id']}"))
    ).status_code == 204
    with pytest.raises(docker.errors.NotFound):
        engine.volumes.get(volume)
    assert (await api.client.get(api.user_path("kept-volumes"))).json() == []
    again = await api.client.delete(api.user_path(f"kept-volumes/{workspace['id']}"))
    assert again.status_code == 404
    assert "no kept data" in again.json()["detail"]
