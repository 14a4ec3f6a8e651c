"""Load through the public port of the built image: many users at once create, list, open
(HTTP through the workspace proxy) and delete workspaces for a bounded time, while two more
misbehave: one restarts its workspace from 8 connections as fast as it can, the other has a
workspace that answers every request with a page that is not JSON (the idle watcher asks it)
and one that fills its /workspace over and over.

No answer may be a 5xx; every user's list must always hold exactly the workspaces that user has
and has not deleted (none lost, none twice); the misbehaving get only 200, 409 (busy) or 429;
afterwards nothing is left on the engine. The latency of each kind of the others' requests is
recorded and printed (p50/p95/p99/max), and what the misbehaving were answered.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Iterator

import docker
import httpx
import pytest

from tests.support.engine import owned
from tests.support.images import ATTACKER_IMAGE, ECHO_IMAGE
from tests.support.manager_image import Manager, start_manager, stop_manager

pytestmark = pytest.mark.anyio

# (users, seconds): each user's workspaces get a bridge network, and Docker's default address
# pools hold about 30. The longer run is `build.py --reliability`.
CI_RUN = (12, 45.0)
LONG_RUN = (20, 180.0)


@pytest.fixture(scope="module")
def manager(engine: docker.DockerClient) -> Iterator[Manager]:
    running = start_manager(engine)
    yield running
    stop_manager(engine, running)


class Recorder:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.server_errors: list[str] = []

    async def request(
        self, client: httpx.AsyncClient, kind: str, method: str, url: str, **kwargs: object
    ) -> httpx.Response:
        start = time.perf_counter()
        response = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
        self.latencies[kind].append(time.perf_counter() - start)
        if response.status_code >= 500:
            self.server_errors.append(f"{method} {url}: {response.status_code} {response.text}")
        return response

    def table(self) -> str:
        lines = [f"{'request':<10}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"]
        for kind, values in sorted(self.latencies.items()):
            ordered = sorted(values)
            cuts = (
                statistics.quantiles(ordered, n=100, method="inclusive")
                if len(ordered) > 1
                else ordered * 99
            )
            lines.append(
                f"{kind:<10}{len(ordered):>7}{cuts[49] * 1000:>9.0f}{cuts[94] * 1000:>9.0f}"
                f"{cuts[98] * 1000:>9.0f}{ordered[-1] * 1000:>9.0f}"
            )
        return "\n".join(lines)


async def one_user(manager: Manager, token: str, user: str, rec: Recorder, end: float) -> int:
    """Create, list, open and delete until `end`; returns how many cycles were completed."""
    mine: set[str] = set()
    cycles = 0
    base = f"/api/users/{user}/workspace"
    async with httpx.AsyncClient(
        base_url=manager.url,
        headers={"Authorization": f"Bearer {token}"},
        # Generous: on a loaded 2-core machine a create-until-running can take a minute; what
        # is checked is the answers (and the latencies are printed), not a deadline.
        timeout=300,
        trust_env=False,
    ) as client:
        while time.monotonic() < end:
            made = await rec.request(
                client, "create", "POST", base, params={"wait": "true"},
                json={"display_name": "load-" + secrets.token_hex(4),
                      "container_image": ECHO_IMAGE, "compute": {"cpus": 0.1, "memory": 128}},
            )  # fmt: skip
            assert made.status_code == 201, made.text
            workspace = made.json()
            assert workspace["status"] == "running", workspace
            mine.add(workspace["id"])
            listing = await rec.request(client, "list", "GET", base)
            assert listing.status_code == 200, listing.text
            ids = [w["id"] for w in listing.json()]
            assert len(ids) == len(set(ids)), f"a workspace is listed twice: {ids}"
            assert set(ids) == mine, f"listed {sorted(ids)}, expected {sorted(mine)}"
            page = await rec.request(
                client, "open", "GET", f"/workspaces/{workspace['id']}/tree?x=1",
                headers={"Host": manager.workspace_host(workspace["id"])},
            )  # fmt: skip
            assert page.status_code == 200, page.text
            assert page.json()["path"] == f"/workspaces/{workspace['id']}/tree?x=1"
            got = await rec.request(client, "get", "GET", f"{base}/{workspace['id']}")
            assert got.status_code == 200, got.text
            # Keep one workspace a cycle longer, so lists hold more than one.
            if len(mine) > 1:
                victim = sorted(mine - {workspace["id"]})[0]
                gone = await rec.request(
                    client, "delete", "DELETE", f"{base}/{victim}",
                    params={"delete_volumes": "true"},
                )  # fmt: skip
                assert gone.status_code == 204, gone.text
                mine.discard(victim)
            cycles += 1
        for workspace_id in sorted(mine):
            gone = await rec.request(
                client, "delete", "DELETE", f"{base}/{workspace_id}",
                params={"delete_volumes": "true"},
            )  # fmt: skip
            assert gone.status_code == 204, gone.text
        final = await client.get(base)
        assert final.json() == [], final.text
    return cycles


FLOOD_CONNECTIONS = 8
FILL = "while true; do dd if=/dev/zero of=/workspace/fill bs=1M count=150 status=none; done"


async def misbehaving_user(
    manager: Manager, engine: docker.DockerClient, token: str, user: str, end: float, kind: str
) -> Counter[int]:
    """`flood`: restarts of one workspace from 8 connections until `end`; `garbage`: a
    workspace that answers nonsense, and one that fills its disk. What it was answered."""
    answers: Counter[int] = Counter()
    base = f"/api/users/{user}/workspace"
    async with httpx.AsyncClient(
        base_url=manager.url, headers={"Authorization": f"Bearer {token}"}, timeout=300,
        trust_env=False,
    ) as client:  # fmt: skip

        async def create(**body: object) -> str:
            made = await client.post(base, params={"wait": "true"}, json={
                "display_name": kind + "-" + secrets.token_hex(3),
                "compute": {"cpus": 0.1, "memory": 128, "volume_size": 100}, **body,
            })  # fmt: skip
            assert made.status_code == 201, made.text
            return str(made.json()["id"])

        if kind == "flood":
            target = await create(container_image=ECHO_IMAGE)

            async def hammer() -> None:
                while time.monotonic() < end:
                    answers[(await client.post(f"{base}/{target}:restart")).status_code] += 1

            await asyncio.gather(*(hammer() for _ in range(FLOOD_CONNECTIONS)))
        else:
            await create(container_image=ATTACKER_IMAGE, idle_timeout=60)
            filler = await create(container_image=ECHO_IMAGE)
            (container,) = engine.containers.list(
                filters={"label": [f"lwm.workspace={filler}", "lwm.kind=workspace"]}
            )
            container.exec_run(["sh", "-c", FILL], detach=True)
            while time.monotonic() < end:
                answers[(await client.get(base)).status_code] += 1
                await asyncio.sleep(1)
        for workspace in (await client.get(base)).json():
            while True:  # a restart may still be under way: 409 until it is done
                gone = await client.delete(
                    f"{base}/{workspace['id']}", params={"delete_volumes": "true"}
                )
                if gone.status_code != 409:
                    break
                await asyncio.sleep(0.5)
            assert gone.status_code == 204, gone.text
    return answers


@pytest.mark.parametrize(
    "run", [CI_RUN, pytest.param(LONG_RUN, marks=pytest.mark.long)], ids=["ci", "long"]
)
async def test_many_users_at_once(
    manager: Manager, engine: docker.DockerClient, run: tuple[int, float]
) -> None:
    count, seconds = run
    users = [f"load{i:02d}-{secrets.token_hex(2)}" for i in range(count)]
    tokens = {user: manager.token_for(user) for user in users}
    bad = {kind: f"bad-{kind}-{secrets.token_hex(2)}" for kind in ("flood", "garbage")}
    bad_tokens = {kind: manager.token_for(user) for kind, user in bad.items()}
    rec = Recorder()
    started = time.monotonic()
    end = started + seconds
    *cycles, flood, garbage = await asyncio.gather(
        *(one_user(manager, tokens[u], u, rec, end) for u in users),
        *(
            misbehaving_user(manager, engine, bad_tokens[kind], user, end, kind)
            for kind, user in bad.items()
        ),
    )
    elapsed = time.monotonic() - started
    print(
        f"\n{count} users for {elapsed:.0f} s: {sum(cycles)} create-list-open-delete cycles "
        f"(per user {min(cycles)}-{max(cycles)}), while one restarted from "
        f"{FLOOD_CONNECTIONS} connections (answers {dict(flood)}) and one had a workspace "
        f"answering nonsense and one filling its disk (its lists: {dict(garbage)})\n"
        f"{rec.table()}"
    )
    assert rec.server_errors == []
    assert min(cycles) >= 1, cycles
    assert set(flood) <= {200, 409, 429} and flood[200] >= 1, flood
    assert set(garbage) <= {200}, garbage
    # The engine holds nothing of theirs any more (networks go with a user's last workspace).
    await asyncio.sleep(0.5)
    left = owned(engine, manager.instance)
    assert left == {"containers": [], "volumes": [], "networks": []}, left
