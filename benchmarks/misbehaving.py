"""Two users misbehave while another works: the other's list and its workspace through the
proxy, measured without them and then with them.

One misbehaving user restarts its workspace from 8 connections as fast as it can (each
answered at once: 409 while a restart is under way, 429 beyond the user's share); the other
has a workspace that answers every request with a page that is not JSON (the idle watcher
asks it every round) and one that fills its /workspace over and over. What is compared is
the working user's latency: p99 with the misbehaving, against p99 without.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from tests.conftest import ATTACKER_IMAGE, TEST_IMAGE

from .context import Bench
from .tools import WrkResult, wait_answers, wrk

WORKER = "bench-worker"
FLOODER = "bench-flooder"
OTHER = "bench-garbage"
FLOOD_CONNECTIONS = 8
PROXY_CONNECTIONS = 4  # latency, not throughput: the 2 cores are shared with the misbehaving
FILL = "while true; do dd if=/dev/zero of=/workspace/fill bs=1M count=300 status=none; done"
SMALL = {"cpus": 0.5, "memory": 256, "volume_size": 200}


def measure(bench: Bench, seconds: float) -> dict[str, Any]:
    with bench.client(WORKER) as worker:
        workspace = bench.create(worker, WORKER, wait=True, display_name="working")
        try:
            path = f"/workspaces/{workspace['id']}/static/base/images/favicon.ico"
            browser = bench.browser_headers(worker, WORKER, workspace["id"])
            wait_answers(bench.url + path, browser)

            def both() -> dict[str, WrkResult]:
                return {
                    "list": wrk(
                        f"{bench.url}/api/users/{WORKER}/workspace",
                        seconds,
                        1,
                        threads=1,
                        headers=bench.auth(WORKER),
                    ),
                    "proxy": wrk(bench.url + path, seconds, PROXY_CONNECTIONS, headers=browser),
                }

            alone = both()
            with Misbehaving(bench) as misbehaving:
                crowded = both()
            return {"alone": alone, "crowded": crowded, "answers": misbehaving.answers}
        finally:
            bench.delete(worker, WORKER, workspace["id"])


class Misbehaving:
    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.stop = threading.Event()
        self.answers: Counter[int] = Counter()
        self.threads: list[threading.Thread] = []
        self.made: list[tuple[str, str]] = []

    def __enter__(self) -> Misbehaving:
        bench = self.bench
        with bench.client(FLOODER) as client:
            flooded = bench.create(client, FLOODER, wait=True, display_name="flood", compute=SMALL)
        self.made.append((FLOODER, flooded["id"]))
        with bench.client(OTHER) as client:
            garbage = bench.create(
                client, OTHER, wait=True, display_name="nonsense", compute=SMALL,
                container_image=ATTACKER_IMAGE, idle_timeout=60,
            )  # fmt: skip
            filler = bench.create(
                client, OTHER, wait=True, display_name="fill", compute=SMALL,
                container_image=TEST_IMAGE,
            )  # fmt: skip
        self.made += [(OTHER, garbage["id"]), (OTHER, filler["id"])]
        wanted = [f"lwm.workspace={filler['id']}", "lwm.kind=workspace"]
        (container,) = bench.target.client.containers.list(filters={"label": wanted})
        container.exec_run(["sh", "-c", FILL], detach=True)
        for _ in range(FLOOD_CONNECTIONS):
            thread = threading.Thread(target=self._restart, args=(flooded["id"],), daemon=True)
            thread.start()
            self.threads.append(thread)
        time.sleep(2)  # in full swing
        return self

    def _restart(self, workspace_id: str) -> None:
        with self.bench.client(FLOODER) as client:
            while not self.stop.is_set():
                answer = client.post(f"/api/users/{FLOODER}/workspace/{workspace_id}:restart")
                self.answers[answer.status_code] += 1

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()
        for owner, workspace_id in self.made:
            with self.bench.client(owner) as client:
                for _ in range(120):  # a restart may be under way: 409 until it is done
                    gone = client.delete(
                        f"/api/users/{owner}/workspace/{workspace_id}",
                        params={"delete_volumes": "true"},
                    )
                    if gone.status_code != 409:
                        break
                    time.sleep(0.5)
