"""A replica of the manager's swarm service (`docker/stack.yml`): it runs the manager itself as
a plain container on its node, and lives exactly as long as that container.

Why not the manager in the task itself: the manager's container must join each user's overlay
network when their first workspace is made, and the engine does not attach a swarm task's
container to a network on demand (moby#39391: "network ... not found"; forcing it gives the
task an address the swarm also gives to another container). A plain container joins
attachable networks at any time. So the task supervises:

- at start it makes the manager's container on its node, `<service>-on-<node>`, from the
  task's own image, environment and mounts, publishing MANAGER_PORT on the node (one left by
  a supervisor that was killed is replaced);
- the manager's log is this task's log (`docker service logs` shows it);
- it ends when the manager's container ends, so that Swarm starts a new replica;
- stopped (a service update or removal, a drained node) it stops the manager first;
- killed outright, it stops nothing: the manager notices its replica is gone (`REPLICA_OF`,
  `follow_replica`) and ends itself, so no manager runs that Swarm does not count.

Swarm still places the replicas, keeps their number, restarts and updates them; what it does
not do is publish their port through its routing mesh: each manager is reached on its node.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import threading
from typing import Any

import docker
import docker.errors

from .backends.docker import labels as L

log = logging.getLogger("lab_workspace_manager.replica")

STOP_SECONDS = 20  # for the manager to finish its requests when the replica is stopped
FOLLOW_SECONDS = 2.0
KIND_MANAGER = "manager"


def manager_config(me: dict[str, Any], name: str, port: int) -> dict[str, Any]:
    """What the manager's container is made with, from the supervising task's container
    `me`: its image, environment (but its own name) and bind mounts (the Docker socket)."""
    environment = [
        variable
        for variable in me["Config"].get("Env") or []
        if not variable.startswith(("MANAGER_CONTAINER=", "HOSTNAME=", "REPLICA_OF="))
    ]
    binds = [
        f"{mount['Source']}:{mount['Destination']}:{'rw' if mount.get('RW', True) else 'ro'}"
        for mount in me.get("Mounts") or []
        if mount.get("Type") == "bind"
    ]
    labels = me["Config"].get("Labels") or {}
    instance = next(
        (v.split("=", 1)[1] for v in environment if v.startswith("WORKSPACE_MANAGER_INSTANCE=")),
        "lwm",
    )
    return {
        "image": me["Image"],
        "name": name,
        "environment": [*environment, f"MANAGER_CONTAINER={name}", f"REPLICA_OF={me['Id']}"],
        "binds": binds,
        "port": port,
        "labels": {
            L.INSTANCE: instance,
            L.KIND: KIND_MANAGER,
            "com.docker.stack.namespace": labels.get("com.docker.stack.namespace", ""),
        },
    }


class Supervisor:
    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.ended = threading.Event()
        self.stopping = False
        self.container: str | None = None

    def start(self) -> None:
        api = self.client.api
        me = api.inspect_container(socket.gethostname())
        service = (me["Config"].get("Labels") or {}).get("com.docker.swarm.service.name")
        if not service:
            sys.exit("lab_workspace_manager.replica runs as a task of a swarm service only")
        node = self.client.info()["Name"]
        port = int(os.environ.get("MANAGER_PORT", "8080"))
        config = manager_config(me, f"{service}-on-{node}", port)
        try:
            api.remove_container(config["name"], force=True)
            log.info("replaced the manager container a killed replica left")
        except docker.errors.NotFound:
            pass
        host_config = api.create_host_config(
            binds=config["binds"],
            port_bindings={8080: config["port"]},
            restart_policy={"Name": "no"},  # (this replica's to restart: it ends with it)
        )
        made = api.create_container(
            config["image"],
            name=config["name"],
            environment=config["environment"],
            ports=[8080],
            labels=config["labels"],
            host_config=host_config,
        )
        self.container = str(made["Id"])
        api.start(self.container)
        log.info("runs the manager as %s on %s, port %d", config["name"], node, port)
        threading.Thread(target=self._follow_log, daemon=True).start()
        threading.Thread(target=self._wait, daemon=True).start()

    def _follow_log(self) -> None:
        assert self.container
        for chunk in self.client.api.logs(self.container, stream=True, follow=True):
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()

    def _wait(self) -> None:
        assert self.container
        try:
            status = self.client.api.wait(self.container).get("StatusCode")
            if not self.stopping:
                log.warning("the manager ended (exit code %s): this replica ends", status)
        finally:
            self.ended.set()

    def stop(self) -> None:
        """Stop the manager (it finishes its requests) and remove its container."""
        self.stopping = True
        if self.container:
            try:
                self.client.api.stop(self.container, timeout=STOP_SECONDS)
                self.client.api.remove_container(self.container, force=True)
            except docker.errors.APIError as exc:
                log.warning("could not stop the manager: %s", exc.explanation)
        self.ended.set()


async def follow_replica(replica: str, docker_host: str | None) -> None:
    """In the manager a replica runs: end this process (and so the manager's container)
    once the replica's container is gone or stopped. Checked every FOLLOW_SECONDS."""
    from .backends.docker.engine import make_client

    client = make_client(docker_host)
    try:
        while True:
            await asyncio.sleep(FOLLOW_SECONDS)
            try:
                found = await asyncio.to_thread(client.api.inspect_container, replica)
                gone = not found["State"]["Running"]
            except docker.errors.NotFound:
                gone = True
            except docker.errors.APIError as exc:
                log.warning("could not look at this manager's replica: %s", exc.explanation)
                continue
            if gone:
                log.warning("this manager's replica %s is gone: the manager ends", replica[:12])
                os.kill(os.getpid(), signal.SIGTERM)
                return
    finally:
        client.close()


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    supervisor = Supervisor(docker.DockerClient(base_url="unix:///var/run/docker.sock"))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=supervisor.stop).start())
    signal.signal(signal.SIGINT, lambda *_: threading.Thread(target=supervisor.stop).start())
    supervisor.start()
    while not supervisor.ended.wait(1.0):  # (in steps: signals are handled between them)
        pass
    # Stopped on purpose: done. The manager ended by itself: a failure, so Swarm restarts.
    sys.exit(0 if supervisor.stopping else 1)


if __name__ == "__main__":
    main()
