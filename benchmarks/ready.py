"""Time to ready and a burst of creates: the manager against raw `docker run`.

The manager's side: POST a workspace through its public port, then probe the workspace
through the manager's proxy until it answers. The raw side: the same image with the same
limits, mount and network kind, started by the SDK's `containers.run` (create + start, as
`docker run -d` does, without the CLI's own start-up), then the same probe at its address.
Both probe Jupyter's `<base URL>api` (200 once Jupyter serves) every 20 ms.
"""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from docker.types import LogConfig

from lab_workspace_manager.backends.docker import labels as L
from tests.support.images import TEST_IMAGE
from tests.support.settings import SESSION_INSTANCE

from .context import CPUS, MEMORY_MB, PIDS_LIMIT, SHM_MB, Bench
from .tools import wait_answers

MIB = 1024 * 1024
USER = "bench-ready"


def raw_config(name: str, network: str) -> dict[str, Any]:
    """What the manager gives a workspace (backends/docker/spec.py), as plain engine options."""
    memory = MEMORY_MB * MIB
    return {
        "image": TEST_IMAGE,
        "name": name,
        "detach": True,
        "environment": {"WORKSPACE_BASE_URL": f"/workspaces/{name}/", "MAX_NUM_THREADS": "1"},
        "labels": {L.INSTANCE: SESSION_INSTANCE},
        "nano_cpus": round(CPUS * 1e9),
        "mem_limit": memory,
        "memswap_limit": memory,
        "shm_size": SHM_MB * MIB,
        "pids_limit": PIDS_LIMIT,
        "security_opt": ["no-new-privileges:true"],
        "volumes": {name: {"bind": "/workspace", "mode": "rw"}},
        "network": network,
        "restart_policy": {"Name": "on-failure", "MaximumRetryCount": 3},
        "log_config": LogConfig(type="json-file", config={"max-size": "10m", "max-file": "3"}),
    }


def raw_start(bench: Bench, name: str, run_times: list[float] | None = None) -> float:
    """Seconds from `docker run` to the container answering at its address (and, into
    `run_times`, the seconds `docker run` itself took)."""
    client = bench.target.client
    started = time.monotonic()
    container = client.containers.run(**raw_config(name, bench.target.network))
    if run_times is not None:
        run_times.append(time.monotonic() - started)
    container.reload()
    address = container.attrs["NetworkSettings"]["Networks"][bench.target.network]["IPAddress"]
    return wait_answers(f"http://{address}:8080/workspaces/{name}/api") - started


def raw_remove(bench: Bench, name: str) -> None:
    bench.target.client.api.remove_container(name, force=True)
    bench.target.client.api.remove_volume(name, force=True)


def manager_start(bench: Bench, name: str, wait: bool = False) -> tuple[float, float, str]:
    """(seconds to ready through the proxy, seconds the POST took, workspace id). With `wait`,
    ready is when `?wait=true` answers (the manager's own readiness check)."""
    with bench.client(USER) as client:
        started = time.monotonic()
        workspace = bench.create(client, USER, wait=wait, display_name=name)
        answered = time.monotonic()
        url = f"{bench.url}/workspaces/{workspace['id']}/api"
        # On the workspace's own host, as a script with its token in a header.
        headers = {**bench.auth(USER), "Host": bench.workspace_host(workspace["id"])}
        if wait:
            if workspace["status"] != "running":
                raise RuntimeError(f"?wait=true answered {workspace['status']}")
            ready = answered
            wait_answers(url, headers, timeout=30)  # it really does answer
        else:
            ready = wait_answers(url, headers)
    return ready - started, answered - started, str(workspace["id"])


def manager_remove(bench: Bench, workspace_id: str) -> None:
    with bench.client(USER) as client:
        bench.delete(client, USER, workspace_id)


def keep_network(bench: Bench) -> str:
    """A stopped workspace that keeps the user's network (made once per user, by the first
    create): the runs measure the usual create, as the raw side uses an existing network."""
    with bench.client(USER) as client:
        return str(bench.create(client, USER, display_name="anchor", is_stopped=True)["id"])


def time_to_ready(bench: Bench, repetitions: int) -> dict[str, list[float]]:
    """Interleaved: each round runs the three kinds in a rotated order, so drift of the
    machine's load hits all of them."""
    times: dict[str, list[float]] = {"manager": [], "post": [], "wait": [], "raw": [], "run": []}

    def manager() -> None:
        ready, post, workspace_id = manager_start(bench, "ready-" + secrets.token_hex(3))
        times["manager"].append(ready)
        times["post"].append(post)
        manager_remove(bench, workspace_id)

    def waited() -> None:
        ready, _, workspace_id = manager_start(bench, "wait-" + secrets.token_hex(3), wait=True)
        times["wait"].append(ready)
        manager_remove(bench, workspace_id)

    def raw() -> None:
        name = f"lwmbench-raw-{secrets.token_hex(3)}"
        try:
            times["raw"].append(raw_start(bench, name, times["run"]))
        finally:
            raw_remove(bench, name)

    kinds = [manager, raw, waited]
    for round_ in range(repetitions):
        shift = round_ % len(kinds)
        for kind in kinds[shift:] + kinds[:shift]:
            kind()
            time.sleep(0.5)  # let the removal settle before the next start
    return times


def burst(bench: Bench, count: int) -> dict[str, Any]:
    """`count` creates at once by one user (no quota), each until it answers; and `count`
    raw runs at once. Seconds from the first request to the last workspace answering."""
    result: dict[str, Any] = {}
    with ThreadPoolExecutor(count) as pool:
        started = time.monotonic()
        outcomes = list(pool.map(_try(lambda i: manager_start(bench, f"burst-{i}")), range(count)))
        result["manager"] = time.monotonic() - started
        made = [o for o in outcomes if not isinstance(o, Exception)]
        result["manager_ok"] = len(made)
        result["errors"] = [str(o) for o in outcomes if isinstance(o, Exception)][:3]
        list(pool.map(lambda o: manager_remove(bench, o[2]), made))
        time.sleep(2)
        names = [f"lwmbench-burst-{secrets.token_hex(3)}" for _ in range(count)]
        started = time.monotonic()
        raw_outcomes = list(pool.map(_try(lambda name: raw_start(bench, name)), names))
        result["raw"] = time.monotonic() - started
        result["raw_ok"] = sum(not isinstance(o, Exception) for o in raw_outcomes)
        list(pool.map(_try(lambda name: raw_remove(bench, name)), names))
    return result


def _try(function: Any) -> Any:
    def call(argument: Any) -> Any:
        try:
            return function(argument)
        except Exception as exc:  # a failed create is a result here, not a crash
            return exc

    return call
