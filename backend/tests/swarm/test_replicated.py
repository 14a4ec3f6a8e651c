"""The manager replicated: `docker/stack.yml` deployed on the real three-node test swarm, two
replicas sharing a real PostgreSQL, a real nginx balancing over the nodes
(`tests.support.replicated`).

Every invariant holds with two: a token, a workspace, its events and its proxy work through
either replica; names stay unique and quotas hold when both are asked at once; and one
replica killed under load loses nothing (no 5xx but for the requests it had in flight, no
workspace lost or made twice).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import docker
import httpx
import pytest

from tests.support.images import TEST_IMAGE
from tests.support.manager_image import Manager
from tests.support.replicated import Replicated, replicated_manager
from tests.support.swarm_cluster import Cluster, task_of

pytestmark = pytest.mark.anyio

QUOTA = 3  # workspaces per user
JUPYTER_TITLE = "<title>Home Page - Select or create a notebook</title>"
SMALL = {"compute": {"cpus": 0.5, "memory": 256}}


@pytest.fixture(scope="module")
def deployed(engine: docker.DockerClient, swarm: Cluster) -> Iterator[Replicated]:
    with replicated_manager(engine, swarm, quota_workspaces=QUOTA) as replicated:
        yield replicated


def two(deployed: Replicated) -> tuple[Manager, Manager]:
    first, second = sorted(deployed.wait_replicas().items())[:2]
    return first[1], second[1]


def client(manager: Manager, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"{manager.url}/api",
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
        trust_env=False,
    )


def new_user(deployed: Replicated, through: Manager) -> tuple[str, str]:
    user = "u" + secrets.token_hex(4)
    return user, through.token_for(user)


async def test_either_replica_serves_what_the_other_made(deployed: Replicated) -> None:
    """A token issued by one works on the other; a workspace made through one is listed,
    followed (its events) and opened (its proxy) through the other."""
    first, second = two(deployed)
    user, token = new_user(deployed, first)
    async with client(first, token) as one, client(second, token) as other:
        events = asyncio.create_task(other.get(f"/users/{user}/events", params={"timeout": 90}))
        await asyncio.sleep(1)  # (subscribed)
        made = await one.post(f"/users/{user}/workspace", json={"display_name": "a", **SMALL})
        assert made.status_code == 201, made.text
        workspace = made.json()
        listed = await other.get(f"/users/{user}/workspace")
        assert [w["id"] for w in listed.json()] == [workspace["id"]]
        running = await _running(other, user, workspace["id"])
        stream = await asyncio.wait_for(_until_ready(events, workspace["id"]), 120)
        assert "ready" in stream, stream
    path = f"/workspaces/{workspace['id']}/tree"
    for replica in (first, second):
        with replica.workspace_client(workspace["id"], token) as browser:
            page = browser.get(path)
            assert page.status_code == 200 and JUPYTER_TITLE in page.text, (replica.url, page.text)
    assert running["access_url"]


async def _running(api: httpx.AsyncClient, user: str, workspace_id: str) -> dict:
    deadline = time.monotonic() + 120
    while True:
        found = (await api.get(f"/users/{user}/workspace/{workspace_id}")).json()
        if found["status"] == "running":
            return dict(found)
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.3)


async def _until_ready(events: asyncio.Task[httpx.Response], workspace_id: str) -> list[str]:
    """The phases of the workspace told on the stream (which ends at its timeout)."""
    response = await events
    phases = []
    for line in response.text.splitlines():
        if line.startswith("data: "):
            event = json.loads(line[6:])
            if event["workspace_id"] == workspace_id:
                phases.append(event["phase"])
    return phases


async def test_workspaces_cannot_reach_the_database(deployed: Replicated) -> None:
    """The database holds the installation's secrets (issued tokens' key, the
    administrator's token): no workspace may even open a connection to it."""
    first, _ = two(deployed)
    user, token = new_user(deployed, first)
    async with client(first, token) as api:
        made = await api.post(f"/users/{user}/workspace", json={"display_name": "db", **SMALL})
        assert made.status_code == 201, made.text
        await _running(api, user, made.json()["id"])
    host, port = urlsplit(deployed.database_url).hostname, urlsplit(deployed.database_url).port
    connect = f"import socket; socket.create_connection(({host!r}, {port}), 3); print('open')"
    node, container = task_of(deployed.cluster, deployed.instance, made.json()["id"])
    assert b"open" not in container.exec_run(["python3", "-c", connect]).output
    # Control: a container of the same node outside the swarm's networks connects.
    prober = deployed.cluster.client(node).containers.run(
        TEST_IMAGE, ["python3", "-c", connect], entrypoint=[], detach=True
    )
    try:
        prober.wait(timeout=30)
        assert prober.logs(stdout=True, stderr=False).strip() == b"open"
    finally:
        prober.remove(force=True)


async def test_names_stay_unique_and_quotas_hold_across_replicas(deployed: Replicated) -> None:
    first, second = two(deployed)
    user, token = new_user(deployed, first)
    async with client(first, token) as one, client(second, token) as other:
        path = f"/users/{user}/workspace"
        same = await asyncio.gather(
            *(api.post(path, json={"display_name": "twin", **SMALL}) for api in (one, other) * 4)
        )
        codes = sorted(r.status_code for r in same)
        assert codes == [201] + [409] * 7, [r.text for r in same]
        many = await asyncio.gather(
            *(
                api.post(path, json={"display_name": f"w{i}", **SMALL})
                for i, api in enumerate((one, other) * 4)
            )
        )
        made = [r for r in many if r.status_code == 201]
        assert len(made) == QUOTA - 1, [r.text for r in many]
        assert all(r.status_code in (403, 409, 422, 429) for r in many if r.status_code != 201)
        listed = (await other.get(path)).json()
        assert len(listed) == QUOTA
        assert len({w["display_name"] for w in listed}) == QUOTA
        for workspace in listed:
            await one.delete(f"{path}/{workspace['id']}", params={"delete_volumes": "true"})


@dataclass
class Call:
    what: str
    started: float
    ended: float
    status: int  # 0: no answer


async def test_a_replica_killed_under_load_loses_nothing(deployed: Replicated) -> None:
    """Users work through the load balancer (create, read, stop, start, delete) while one
    replica is killed: only requests it had in flight may fail; every workspace whose create
    answered exists once, none is made twice, and all settle."""
    first, _ = two(deployed)
    front = deployed.front
    users = [new_user(deployed, first) for _ in range(4)]
    calls: list[Call] = []
    kept: dict[str, set[str]] = {}  # user -> names of their workspaces that should exist
    made_ids: dict[str, list[str]] = {}  # name -> ids answered by creates
    stop_at = time.monotonic() + 40

    async def call(api: httpx.AsyncClient, what: str, method: str, url: str, **kw: object):
        began = time.monotonic()
        try:
            response = await api.request(method, url, **kw)  # type: ignore[arg-type]
        except httpx.HTTPError:
            calls.append(Call(what, began, time.monotonic(), 0))
            return None
        calls.append(Call(what, began, time.monotonic(), response.status_code))
        return response

    async def work(user: str, token: str) -> None:
        """Rounds of: create, list, read, stop, start, then delete the last round's (so
        that, with one create cut short, a user never holds more than QUOTA)."""
        path = f"/users/{user}/workspace"
        kept[user] = set()
        last: tuple[str, str] | None = None
        async with client(front, token) as api:
            round_ = 0
            while time.monotonic() < stop_at:
                round_ += 1
                name = f"{user}-{round_}"
                body = {"display_name": name, **SMALL}
                made = await call(api, "create", "POST", path, json=body)
                if made is None or made.status_code >= 500:
                    continue  # (in flight when killed: it may or may not exist; checked below)
                assert made.status_code == 201, made.text
                workspace_id = made.json()["id"]
                made_ids.setdefault(name, []).append(workspace_id)
                kept[user].add(name)
                await call(api, "list", "GET", path)
                await call(api, "get", "GET", f"{path}/{workspace_id}")
                await call(api, "stop", "POST", f"{path}/{workspace_id}:stop")
                await call(api, "start", "POST", f"{path}/{workspace_id}:start")
                if last is not None:
                    gone = await call(
                        api,
                        "delete",
                        "DELETE",
                        f"{path}/{last[1]}",
                        params={"delete_volumes": "true"},
                    )
                    if gone is not None and gone.status_code == 204:
                        kept[user].discard(last[0])
                last = (name, workspace_id)

    async def kill_midway() -> float:
        await asyncio.sleep(15)
        victim = sorted(deployed.replicas())[0]
        moment = time.monotonic()
        await asyncio.to_thread(deployed.kill, victim)
        return moment

    killed_at, *_ = await asyncio.gather(kill_midway(), *(work(u, t) for u, t in users))

    # Only requests in flight when the replica died failed.
    failed = [c for c in calls if c.status == 0 or c.status >= 500]
    assert all(c.started <= killed_at + 0.5 <= c.ended + 0.5 for c in failed), [
        (c.what, round(c.started - killed_at, 2), round(c.ended - killed_at, 2), c.status)
        for c in failed
    ]
    assert len(failed) <= len(users)
    after = [c for c in calls if c.started > killed_at + 0.5]
    assert len([c for c in calls if c.what == "create"]) >= 8  # (the load was real)
    assert len(after) >= 20 and all(0 < c.status < 500 for c in after)
    print(
        f"{len(calls)} requests, {len(after)} after the kill; failed: "
        f"{[(c.what, c.status, round(c.ended - c.started, 2)) for c in failed]}"
    )

    # Nothing lost, nothing made twice; everything settles.
    deployed.wait_replicas(2)
    for user, token in users:
        async with client(front, token) as api:
            listed = (await api.get(f"/users/{user}/workspace")).json()
            names = [w["display_name"] for w in listed]
            assert len(names) == len(set(names)), names
            assert kept[user] <= set(names), (kept[user], names)
            assert len(listed) <= QUOTA
            for workspace in listed:
                settled = await _settled(api, user, workspace["id"])
                assert settled in ("running", "stopped"), workspace
    assert all(len(ids) == 1 for ids in made_ids.values()), made_ids


async def _settled(api: httpx.AsyncClient, user: str, workspace_id: str) -> str:
    deadline = time.monotonic() + 120
    while True:
        found = (await api.get(f"/users/{user}/workspace/{workspace_id}")).json()
        if found["status"] in ("running", "stopped", "failed"):
            return str(found["status"])
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.5)


async def test_a_replica_killed_outright_takes_its_manager_with_it(deployed: Replicated) -> None:
    """A replica (the supervising task) killed with SIGKILL stops nothing itself: its manager
    notices and ends, so no manager runs that Swarm does not count; Swarm brings back two."""
    node = sorted(deployed.wait_replicas())[0]
    client = deployed.cluster.client(node)
    manager = client.api.inspect_container(f"{deployed.service}-on-{node}")
    replica = next(
        task["Status"]["ContainerStatus"]["ContainerID"]
        for task in deployed._running_tasks()
        if deployed.cluster.hostname_of(task["NodeID"]) == node
    )
    client.api.kill(replica)
    deadline = time.monotonic() + 30
    while True:
        try:
            running = client.api.inspect_container(manager["Id"])["State"]["Running"]
        except docker.errors.NotFound:
            running = False
        if not running:
            break
        assert time.monotonic() < deadline, "the manager outlived its replica"
        await asyncio.sleep(0.5)
    assert len(deployed.wait_replicas(2)) >= 2
