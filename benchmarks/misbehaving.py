"""Users misbehave while another works: the other's list and its workspace through the
proxy, measured without them, while one user floods, and while two misbehave.

The flooding user restarts its workspace from 8 connections as fast as it can (answered at
once: 409 while a restart is under way, 429 beyond its share, most of them by nginx's
per-caller limit); its program runs in a container with half a CPU, as it would run on a
machine of its own, not on the manager's. The second has a workspace that answers every
request with a page that is not JSON (the idle watcher asks it every round) and one that
fills its /workspace over and over. What is compared is the working user's latency (p50;
p99 shown) with the misbehaving, against without.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from tests.support.images import ATTACKER_IMAGE, TEST_IMAGE
from tests.support.manager_image import IMAGE

from .context import Bench
from .tools import WrkResult, wait_answers, wrk

WORKER = "bench-worker"
FLOODER = "bench-flooder"
OTHER = "bench-garbage"
FLOOD_CONNECTIONS = 8
PROXY_CONNECTIONS = 1  # latency, not throughput: one request at a time, as the list
FILL = "while true; do dd if=/dev/zero of=/workspace/fill bs=1M count=300 status=none; done"
SMALL = {"cpus": 0.5, "memory": 256, "volume_size": 200}
# Run with the manager image's Python and httpx: URL, token, seconds; prints the answers.
FLOOD = f"""
import collections, json, sys, threading, time
import httpx
url, token, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
answers = collections.Counter()
end = time.monotonic() + seconds
def hammer():
    with httpx.Client(headers={{"Authorization": "Bearer " + token}}, timeout=60) as client:
        while time.monotonic() < end:
            answers[client.post(url).status_code] += 1
threads = [threading.Thread(target=hammer) for _ in range({FLOOD_CONNECTIONS})]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps(answers))
"""


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
                        authorizations=bench.authorizations(WORKER),
                    ),
                    "proxy": wrk(
                        bench.url + path, seconds, PROXY_CONNECTIONS, threads=1, headers=browser
                    ),
                }

            alone = both()
            with Misbehaving(bench, 2 * seconds + 8, others=False):
                flooded = both()
            with Misbehaving(bench, 2 * seconds + 8) as misbehaving:
                crowded = both()
            return {
                "alone": alone,
                "flooded": flooded,
                "crowded": crowded,
                "answers": misbehaving.answers,
            }
        finally:
            bench.delete(worker, WORKER, workspace["id"])


class Misbehaving:
    """The flood for `seconds`; with `others`, the second user's workspaces too."""

    def __init__(self, bench: Bench, seconds: float, others: bool = True) -> None:
        self.bench = bench
        self.seconds = seconds
        self.others = others
        self.answers: Counter[int] = Counter()
        self.made: list[tuple[str, str]] = []
        self.flood: Any = None

    def __enter__(self) -> Misbehaving:
        bench = self.bench
        with bench.client(FLOODER) as client:
            flooded = bench.create(client, FLOODER, wait=True, display_name="flood", compute=SMALL)
        self.made.append((FLOODER, flooded["id"]))
        engine = bench.target.client
        if self.others:
            self._misbehave_too()
        url = f"{bench.url}/api/users/{FLOODER}/workspace/{flooded['id']}:restart"
        self.flood = engine.containers.run(
            IMAGE,
            entrypoint=["python3", "-c", FLOOD, url, bench.token(FLOODER), str(self.seconds)],
            network=bench.target.network,
            nano_cpus=500_000_000,
            labels={"lwm.instance": bench.manager.instance},
            detach=True,
        )
        time.sleep(2)  # in full swing
        return self

    def _misbehave_too(self) -> None:
        """A workspace answering nonsense, and one filling its disk."""
        bench, engine = self.bench, self.bench.target.client
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
        (container,) = engine.containers.list(filters={"label": wanted})
        container.exec_run(["sh", "-c", FILL], detach=True)

    def __exit__(self, *exc: object) -> None:
        if self.flood is not None:
            self.flood.wait(timeout=self.seconds + 60)
            output = self.flood.logs(stdout=True, stderr=False).decode().strip()
            self.answers.update({int(k): v for k, v in json.loads(output or "{}").items()})
            self.flood.remove(force=True)
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
