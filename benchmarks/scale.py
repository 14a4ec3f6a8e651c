"""Many workspaces: how long making them takes, list latency for one user as the total
grows, and the manager's memory."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .context import Bench
from .tools import WrkResult, wrk

PER_USER = 10
MIB = 1024 * 1024
CREATORS = 8  # creates in flight at once
CHURNERS = 4  # users creating and deleting while another lists
PYTHON_RSS = """
import os
total = 0
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        cmdline = open(f'/proc/{pid}/cmdline', 'rb').read()
        status = open(f'/proc/{pid}/status').read()
    except OSError:
        continue
    if b'lab_workspace_manager' in cmdline:
        total += int(status.split('VmRSS:')[1].split()[0])
print(total)
"""


def user(number: int) -> str:
    return f"bench-u{number:03d}"


def populate(bench: Bench, first_user: int, last_user: int) -> float:
    """PER_USER stopped workspaces for each user in [first_user, last_user), made by the
    administrator through the API; the seconds it took."""
    jobs = [(user(u), n) for u in range(first_user, last_user) for n in range(PER_USER)]

    def make(job: tuple[str, int]) -> None:
        owner, n = job
        with bench.client() as client:
            bench.create(client, owner, display_name=f"ws-{n}", is_stopped=True)

    started = time.monotonic()
    # One user's workspaces one after another, users side by side: a user's creates serialise
    # on the name check anyway, and 100 users each make their network once.
    with ThreadPoolExecutor(CREATORS) as pool:
        list(pool.map(make, sorted(jobs, key=lambda j: (j[1], j[0]))))
    return time.monotonic() - started


def list_latency(bench: Bench, seconds: float) -> WrkResult:
    """One connection, one request at a time: the latency one user sees listing their own."""
    owner = user(0)
    with bench.client(owner) as client:
        listed = client.get(f"/api/users/{owner}/workspace")
        listed.raise_for_status()
        if len(listed.json()) != PER_USER:
            raise RuntimeError(f"{owner} has {len(listed.json())} workspaces, not {PER_USER}")
    return wrk(
        f"{bench.url}/api/users/{owner}/workspace",
        seconds,
        1,
        threads=1,
        authorizations=bench.authorizations(owner),
    )


def list_during_churn(bench: Bench, seconds: float) -> tuple[WrkResult, int]:
    """`list_latency` while another user creates and deletes workspaces side by side (each
    change makes the engine report events, and the manager list all containers again); the
    list's latency and how many creates and deletes were made meanwhile."""
    stop = threading.Event()
    changes = []

    def churn(number: int) -> None:
        owner = f"bench-churn{number}"
        made = 0
        with bench.client() as client:
            while not stop.is_set():
                workspace = bench.create(client, owner, display_name="churn", is_stopped=True)
                bench.delete(client, owner, workspace["id"])
                made += 2
        changes.append(made)

    threads = [threading.Thread(target=churn, args=(n,), daemon=True) for n in range(CHURNERS)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1)
        result = list_latency(bench, seconds)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    return result, sum(changes)


def engine_list_latency(bench: Bench, calls: int = 200) -> tuple[float, float]:
    """(p50, p99) ms of the engine call behind a user's list (all containers with the
    instance and owner labels, through the Docker SDK), one at a time."""
    wanted = [f"lwm.instance={bench.manager.instance}", f"lwm.owner={user(0)}"]
    api = bench.target.client.api
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        api.containers(all=True, filters={"label": wanted})
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.99) - 1]


def admin_list_all(bench: Bench) -> tuple[float, int]:
    """(seconds, count) of the administrators' view of every workspace."""
    with bench.client() as client:
        started = time.monotonic()
        page = client.get("/api/workspaces", params={"limit": 500})
        page.raise_for_status()
        return time.monotonic() - started, int(page.json()["total"])


def memory(bench: Bench) -> dict[str, Any]:
    """MiB: the manager container's memory as `docker stats` shows it (usage less page cache),
    and the resident memory of the backend's Python process(es) inside."""
    container = bench.manager.container
    stats = bench.target.client.api.stats(container.id, stream=False)
    memory_stats = stats["memory_stats"]
    details = memory_stats.get("stats") or {}
    # cgroup v1 names it total_inactive_file, v2 inactive_file.
    cache = details.get("total_inactive_file", details.get("inactive_file", 0))
    exit_code, output = container.exec_run(["python3", "-c", PYTHON_RSS])
    python_kb = int(output.decode().strip()) if exit_code == 0 else -1
    return {
        "container_mib": (memory_stats["usage"] - cache) / MIB,
        "python_mib": python_kb / 1024,
        "raw": json.dumps({k: details.get(k) for k in ("rss", "cache", "total_inactive_file")}),
    }
