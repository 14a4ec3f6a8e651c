"""Workspaces as services on a Docker Swarm cluster: one service with one task each.

DOCKER_HOST is the engine of a manager node (the manager's own node, when it runs in the
swarm). A workspace is:
  - its service, whose labels are its record (`spec.py`); stop scales it to 0, start to 1;
  - its volume, made by the node its first task ran on; from then on a placement constraint
    keeps the workspace on that node (`pin`), so it never starts empty elsewhere;
  - its owner's overlay network, shared by that owner's workspaces and joined by the manager.

Reads ask the swarm (services, their tasks, the nodes: three calls). Each change runs in a
worker thread while no other change of the same workspace runs (`operations.py`); a change
that starts a task is followed in the background until the workspace settles, telling its
progress as events. Whether a running task answers is probed by the manager over the user's
network, as for the Docker backend: the manager must run in the swarm, joined to them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, TypeVar

import docker
import docker.errors

from ... import naming
from ...errors import Busy, Conflict, InvalidInput, ManagerError, NotFound, workspace_not_found
from ...models import WorkspaceSpec, WorkspaceStatus
from ...operations import Operations
from ...policies.clearing import clears_on_stop
from ...settings import Settings
from ...shared import SharedState, open_shared_state
from ..base import (
    BY_USER,
    KEPT_BUT_IN_USE,
    SETTLED,
    KeptVolumeState,
    WorkspaceBackend,
    WorkspaceState,
)
from ..docker import cleaner, egress
from ..docker import labels as L
from ..docker.engine import EngineWatch, Pools, in_thread, make_client
from ..docker.measure import UsageMeter
from ..docker.observer import kept_volume
from ..docker.readiness import ReadinessTracker
from ..docker.spec import WORKSPACE_PORT
from ..measurement import Measurement
from . import spec as build
from .attachments import Attachments
from .nodes import NodeEngines
from .spec import Record
from .tasks import Json, Node, Seen, address_on, current_task, network_id_on, observe

log = logging.getLogger(__name__)

T = TypeVar("T")

# How often a change's progress is looked at while it settles: often at first (most
# workspaces answer within seconds), then less.
FOLLOW_FAST = 0.1
FOLLOW_FAST_SECONDS = 30.0
FOLLOW_SLOW = 1.0
# A stop waits this long for the task's container to be gone (its grace period and more).
STOP_WAIT = 30.0
# A delete waits this long for the task's container to go before removing its volume.
VOLUME_WAIT = 60.0
MAX_LOG_BYTES = 1024 * 1024
# Every task's traffic out of its node (its default route) crosses this bridge of the node's.
GATEWAY_BRIDGE = "docker_gwbridge"
# Completes "Stopped ..." for a failed workspace whose settings were changed.
AFTER_FAILING = "after it failed; start it to try the new settings"
# `locate`: seconds before an id not running at the last look is looked for again, and
# before any answer is looked at again.
LOCATE_SECONDS = 0.2
LOCATED_MAX_AGE = 2.0
# Seconds a look at the nodes is used for.
NODES_SECONDS = 1.0
# Seconds the manager tries to join a user network the swarm has only just made.


class SwarmBackend(WorkspaceBackend):
    name = "swarm"

    def __init__(
        self,
        settings: Settings,
        client: docker.DockerClient | None = None,
        shared: SharedState | None = None,
    ) -> None:
        self.settings = settings
        self.client = client or make_client(settings.docker_host)
        self.nodes = NodeEngines(settings)
        self.pools = Pools()
        self.operations = Operations()
        self.readiness = ReadinessTracker(settings.workspace_ready_timeout)
        self._nodes_seen: tuple[float, dict[str, Node]] | None = None
        self._unused_networks: set[str] = set()  # by id, as found by the last reconcile
        # (when, workspace id -> (owner, address)) of the running workspaces, for `locate`
        self._located: tuple[float, dict[str, tuple[str, str]]] | None = None
        self._locating = asyncio.Lock()
        self._nodes_lock = threading.Lock()
        self._followed: dict[str, _Followed] = {}
        self._pinning: set[str] = set()  # workspace ids being pinned
        self._pins: set[asyncio.Task[None]] = set()
        self._follower: asyncio.Task[None] | None = None
        self._meters: dict[str, UsageMeter] = {}
        # Per owner: "the network exists" and "a service of theirs exists" change together
        # (a create's network is not collected before its service is made), here and in
        # the other managers (sharing DATA_DIR or DATABASE_URL).
        self._own_shared = shared is None
        self.shared = shared or open_shared_state(settings)
        self._owner_locks: dict[str, threading.Lock] = {}
        self._owner_locks_guard = threading.Lock()
        self.attachments = Attachments(self.client, settings)

    # --- reading ------------------------------------------------------------------------------
    def _services(self, owner: str | None, workspace_id: str | None = None) -> list[Json]:
        wanted = L.selector(self.settings.instance_id, L.KIND_WORKSPACE, owner, workspace_id)
        return list(self.client.api.services(filters={"label": wanted}))

    def _tasks(self, services: list[Json]) -> dict[str, list[Json]]:
        by_service: dict[str, list[Json]] = {s["ID"]: [] for s in services}
        if services:
            for task in self.client.api.tasks(filters={"service": list(by_service)}):
                by_service.setdefault(task["ServiceID"], []).append(task)
        return by_service

    def _nodes(self) -> dict[str, Node]:
        """The nodes, as seen at most NODES_SECONDS ago: every read and check names them,
        and they change seldom (a node that goes down takes the swarm seconds to notice)."""
        with self._nodes_lock:
            if self._nodes_seen and time.monotonic() - self._nodes_seen[0] < NODES_SECONDS:
                return self._nodes_seen[1]
        nodes = {n["ID"]: Node.from_api(n) for n in self.client.api.nodes()}
        with self._nodes_lock:
            self._nodes_seen = (time.monotonic(), nodes)
        return nodes

    def _read(
        self, owner: str | None, workspace_id: str | None = None
    ) -> list[tuple[Json, Record, list[Json]]]:
        """(service, record, tasks) of the owner's workspaces (or one), in one consistent
        look: services, their tasks, in that order."""
        return [
            f
            for f in self._records(self._services(owner, workspace_id))
            if owner is None or f[1].owner == owner
        ]

    def _records(self, services: list[Json]) -> list[tuple[Json, Record, list[Json]]]:
        """(service, record, tasks) of these services; unreadable ones are left out."""
        tasks = self._tasks(services)
        found = []
        for service in services:
            labels = service["Spec"].get("Labels") or {}
            try:
                record = Record.from_labels(labels)
            except (KeyError, ValueError) as exc:
                log.warning("service %s has unreadable labels: %s", service["ID"], exc)
                continue
            found.append((service, record, tasks.get(service["ID"], [])))
            for task in tasks.get(service["ID"], []):
                if task["Status"]["State"] == "running":
                    self._join_network_of(task, record.owner)
        return found

    def _seen(self, record: Record, tasks: list[Json], nodes: dict[str, Node]) -> Seen:
        network = naming.network_name(self.settings.instance_id, record.owner)
        path = naming.workspace_path(self.settings.workspace_public_prefix, record.workspace_id)

        def answers(task: Json, address: str) -> tuple[bool, float]:
            return self.readiness.check(task["ID"], f"http://{address}{path}")

        timeout = self.settings.workspace_ready_timeout
        return observe(record, tasks, nodes, network, WORKSPACE_PORT, answers, timeout)

    def _state(self, record: Record, seen: Seen) -> WorkspaceState:
        running = seen.status is WorkspaceStatus.RUNNING
        return WorkspaceState(
            id=record.workspace_id,
            owner=record.owner,
            spec=record.spec,
            status=seen.status,
            status_message=seen.message,
            is_stopped=record.desired == "stopped",
            created_at=record.created_at,
            access_url=(
                naming.workspace_path(self.settings.workspace_public_prefix, record.workspace_id)
                if running
                else None
            ),
            started_at=seen.started_at if running else None,
        )

    async def _look(
        self, owner: str | None, workspace_id: str | None = None
    ) -> list[tuple[Json, Record, Seen]]:
        def read() -> tuple[list[tuple[Json, Record, list[Json]]], dict[str, Node]]:
            return self._read(owner, workspace_id), self._nodes()

        found, nodes = await in_thread(self.pools.reads, "read the workspaces", read)
        # Seen on the event loop: the readiness probes are asyncio tasks.
        return [
            (service, record, self._seen(record, tasks, nodes)) for service, record, tasks in found
        ]

    def watch_engine(self, watch: EngineWatch) -> None:
        self.pools.watch(watch)

    # --- the contract -------------------------------------------------------------------------
    async def list_workspaces(self, owner: str | None) -> list[WorkspaceState]:
        states = [self._state(record, seen) for _, record, seen in await self._look(owner)]
        return sorted(states, key=lambda s: s.created_at)

    async def get(self, owner: str, workspace_id: str) -> WorkspaceState:
        found = await self._look(owner, workspace_id)
        if not found:
            raise workspace_not_found(workspace_id)
        _, record, seen = found[0]
        return self._state(record, seen)

    async def create(
        self, owner: str, workspace_id: str, spec: WorkspaceSpec, start: bool
    ) -> WorkspaceState:
        record = Record.new(owner, workspace_id, spec, start)
        await self._change(
            owner, workspace_id, "being created", "create the workspace", self._create, record
        )
        if start:
            self.publish(owner, workspace_id, "creating", "Created; waiting for a node.")
            self._follow(owner, workspace_id)
        # As made, without reading it back: nothing of it has happened yet.
        return self._state(record, observe(record, [], {}, "", WORKSPACE_PORT, _never, 1.0))

    async def update(self, owner: str, workspace_id: str, spec: WorkspaceSpec) -> WorkspaceState:
        # A new task template makes the swarm start a task: a workspace that failed (its
        # restarts used up) would run again without the quotas a start is checked against.
        # It is left stopped instead, to be started by its user.
        failed = (await self.get(owner, workspace_id)).status is WorkspaceStatus.FAILED

        def change(record: Record) -> Record:
            self._check_fits(spec)
            if failed and record.desired == "running":
                return record.changed(spec=spec, desired="stopped", reason=AFTER_FAILING)
            return record.changed(spec=spec)

        await self._change(
            owner,
            workspace_id,
            "being changed",
            "change the workspace",
            self._rewrite,
            change,
            False,
        )
        self._follow(owner, workspace_id)
        return await self.get(owner, workspace_id)

    async def start(self, owner: str, workspace_id: str) -> WorkspaceState:
        def change(record: Record) -> Record:
            if record.desired == "running":
                return record
            return record.changed(desired="running", reason="")

        await self._change(
            owner, workspace_id, "being started", "start the workspace", self._start, change
        )
        self._follow(owner, workspace_id)
        return await self.get(owner, workspace_id)

    async def restart(self, owner: str, workspace_id: str) -> WorkspaceState:
        def change(record: Record) -> Record:
            return record.changed(desired="running", reason="")

        await self._change(
            owner,
            workspace_id,
            "being restarted",
            "restart the workspace",
            self._rewrite,
            change,
            True,
        )
        self._follow(owner, workspace_id)
        return await self.get(owner, workspace_id)

    async def stop(self, owner: str, workspace_id: str, reason: str = BY_USER) -> WorkspaceState:
        def change(record: Record) -> Record:
            if record.desired == "stopped" and record.reason == reason:
                return record
            return record.changed(desired="stopped", reason=reason)

        await self._change(
            owner,
            workspace_id,
            "being stopped",
            "stop the workspace",
            self._stop,
            change,
            managers=reason != BY_USER,
        )
        state = await self.get(owner, workspace_id)
        self.publish(owner, workspace_id, "stopped", state.status_message)
        return state

    async def delete(self, owner: str, workspace_id: str, delete_volume: bool) -> None:
        with suppress(NotFound):
            await self._change(
                owner,
                workspace_id,
                "being deleted",
                "delete the workspace",
                self._delete,
                delete_volume,
            )
            self.publish(owner, workspace_id, "deleted", "Deleted.")

    async def logs(self, owner: str, workspace_id: str, tail: int) -> str:
        def read() -> str:
            found = self._read(owner, workspace_id)
            if not found:
                raise workspace_not_found(workspace_id)
            chunks = self.client.api.service_logs(
                found[0][0]["ID"], stdout=True, stderr=True, tail=tail, follow=False
            )
            kept = bytearray()
            for chunk in chunks:
                kept += chunk
                if len(kept) > 2 * MAX_LOG_BYTES:
                    del kept[: len(kept) - MAX_LOG_BYTES]
            return bytes(kept[-MAX_LOG_BYTES:]).decode(errors="replace")

        return await in_thread(self.pools.logs, "read the workspace's logs", read)

    async def check_health(self) -> None:
        await in_thread(self.pools.reads, "reach the swarm", self._check_swarm)

    def _check_swarm(self) -> None:
        swarm = self.client.api.info().get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            raise ManagerError(
                "DOCKER_HOST is not the engine of a manager node of an active swarm "
                f"(its swarm state: {swarm.get('LocalNodeState', 'unknown')}). Point it at a "
                "manager node, or use WORKSPACE_BACKEND=docker."
            )

    async def open(self) -> None:
        try:
            await in_thread(self.pools.background, "join the user networks", self._join_all)
        except ManagerError as exc:
            log.warning("the swarm is not reachable yet: %s", exc.message)
        await self._restrict_egress()

    async def _restrict_egress(self) -> None:
        """The egress rules on every node (again on nodes that came back or joined: at
        start and with every reconcile)."""
        if not egress.wanted(self.settings):
            return
        try:
            self.egress_blocked = await in_thread(
                self.pools.background, "restrict the workspaces' egress", self._install_egress
            )
        except ManagerError as exc:
            log.warning("workspaces' egress is not restricted yet: %s", exc.message)

    def _install_egress(self) -> list[str]:
        """Install the rules through each node's engine, for the bridge every task's traffic
        leaves its node by; "host" covers every node's address. What is blocked on all nodes
        (none if any node lacks the rules: /config says what holds everywhere)."""
        wanted = egress.wanted(self.settings)
        if not self.nodes.configured:
            log.warning(
                "WORKSPACE_EGRESS_BLOCK=%s is not enforced: the manager installs the rules "
                "through each node's engine, and SWARM_NODE_DOCKER_HOST is not set",
                ",".join(wanted),
            )
            return []
        nodes = list(self._nodes().values())
        hosts = sorted({n.address for n in nodes if n.address})
        image = egress.helper_image(self.client, self.settings)
        everywhere = True
        for node in nodes:
            if node.state != "ready":
                everywhere = False
                egress.forget(node.id)  # its rules may be gone when it is back
                continue
            try:
                client = self.nodes.client(node)
            except Conflict as exc:
                log.warning("egress rules not installed on node %s: %s", node.hostname, exc)
                everywhere = False
                continue
            installed = egress.install(
                client,
                self.settings,
                engine=node.id,
                image=image,
                bridges=[GATEWAY_BRIDGE],
                hosts=hosts,
            )
            everywhere = everywhere and installed == wanted
        return wanted if everywhere else []

    async def locate(self, workspace_id: str) -> tuple[str, str] | None:
        """The proxy's access check asks this for every workspace it has not seen lately:
        answered from one look at every running workspace, shared by all lookups and taken
        again at most every LOCATE_SECONDS for an id it lacks (a flood of made-up ids costs
        no more), after LOCATED_MAX_AGE for any (the swarm moves tasks by itself), and at
        once after a change made here."""
        seen = self._located
        if not self._fresh_enough(seen, workspace_id):
            async with self._locating:  # one look at a time
                seen = self._located
                if not self._fresh_enough(seen, workspace_id):
                    began = time.monotonic()
                    found = await in_thread(
                        self.pools.access, "find the workspace", self._running_addresses
                    )
                    seen = (began, found)
                    if self._located is None or self._located[0] <= began:
                        self._located = seen
        assert seen is not None
        return seen[1].get(workspace_id)

    @staticmethod
    def _fresh_enough(
        seen: tuple[float, dict[str, tuple[str, str]]] | None, workspace_id: str
    ) -> bool:
        if seen is None:
            return False
        age = time.monotonic() - seen[0]
        return age < LOCATED_MAX_AGE and (workspace_id in seen[1] or age < LOCATE_SECONDS)

    def _running_addresses(self) -> dict[str, tuple[str, str]]:
        """workspace id -> (owner, host:port) of every running task of this instance."""
        records = {}
        for service in self._services(None):
            with suppress(KeyError, ValueError):  # (unreadable: logged by the reads)
                records[service["ID"]] = Record.from_labels(service["Spec"].get("Labels") or {})
        located = {}
        # Only the tasks wanted running (not every service's history of ended ones).
        for task in self.client.api.tasks(filters={"desired-state": "running"}):
            record = records.get(task.get("ServiceID", ""))
            if record is None or task["Status"]["State"] != "running":
                continue
            network = naming.network_name(self.settings.instance_id, record.owner)
            address = address_on(task, network, WORKSPACE_PORT)
            if address:
                self._join_network_of(task, record.owner)
                located[record.workspace_id] = (record.owner, address)
        return located

    def _join_network_of(self, task: Json, owner: str) -> None:
        """Join the owner's network that a running task is on (by the id the swarm gave the
        task: not a same-named network a node may still hold)."""
        network = naming.network_name(self.settings.instance_id, owner)
        network_id = network_id_on(task, network)
        if network_id:
            self.attachments.join_soon(network, network_id)

    def changed_elsewhere(self, workspace_id: str) -> None:
        """Forget where that workspace was seen (not the others': each user's changes would
        otherwise make every lookup look at the whole swarm again)."""
        seen = self._located
        if seen is not None and workspace_id in seen[1]:
            self._located = (seen[0], {k: v for k, v in seen[1].items() if k != workspace_id})

    async def reconcile(self) -> list[str]:
        """Pin workspaces whose first task was placed while no manager followed them; remove
        user networks no workspace has used since the last reconcile; egress rules on nodes
        that (re)joined."""
        await self._restrict_egress()
        done: list[str] = []
        for _, record, seen in await self._look(None):
            if not record.node_id and seen.node_id:
                with suppress(ManagerError):
                    await self._change(
                        record.owner,
                        record.workspace_id,
                        "being tidied up",
                        "pin the workspace",
                        self._pin,
                        seen.node_id,
                        managers=True,
                    )
        done += await in_thread(self.pools.background, "tidy up the swarm", self._collect_networks)
        return done

    async def kept_volumes(self, owner: str | None) -> list[KeptVolumeState]:
        return await in_thread(self.pools.reads, "list the kept data", self._kept, owner)

    async def delete_kept_volume(self, owner: str, workspace_id: str) -> None:
        def remove() -> None:
            if self._read(owner, workspace_id):
                raise Conflict(KEPT_BUT_IN_USE.format(workspace_id=workspace_id))
            # (Kept data on a node the manager cannot reach is not listed, nor found here.)
            for node, volume in self._volumes(owner):
                if (volume.get("Labels") or {}).get(L.WORKSPACE) == workspace_id:
                    self.nodes.client(node).api.remove_volume(volume["Name"])
                    return
            raise NotFound(f"There is no kept data of a workspace '{workspace_id}' of yours.")

        await in_thread(self.pools.changes, "delete the kept data", remove)

    async def measure(self, disk: bool) -> dict[str, Measurement]:
        """On each node whose engine the manager reaches; a workspace on any other node is
        "not measured", saying why (never measured as nothing)."""
        what = "measure disk use" if disk else "measure CPU and memory"
        return await in_thread(self.pools.background, what, self._measure, disk)

    def _measure(self, disk: bool) -> dict[str, Measurement]:
        nodes = self._nodes()
        measured: dict[str, Measurement] = {}
        unreached: dict[str, str] = {}
        for node in nodes.values():
            try:
                meter = self._meters.get(node.id)
                if meter is None:
                    meter = UsageMeter(self.nodes.client(node), self.settings.instance_id)
                    self._meters[node.id] = meter
                measured.update(meter.disk() if disk else meter.compute())
            except ManagerError as exc:
                self._meters.pop(node.id, None)
                unreached[node.id] = exc.message
            except (docker.errors.DockerException, OSError) as exc:
                self._meters.pop(node.id, None)
                log.info("node %s not measured: %s", node.hostname, exc)
                unreached[node.id] = "its engine did not answer."
        for _, record, tasks in self._read(None):
            task = current_task(tasks)
            node_id = record.node_id or (task or {}).get("NodeID", "")
            if record.workspace_id in measured or node_id not in unreached:
                continue
            name = nodes[node_id].hostname
            measured[record.workspace_id] = Measurement(
                not_measured=f"Not measured on node {name}: {unreached[node_id]}"
            )
        return measured

    async def close(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
        for pin in list(self._pins):
            pin.cancel()
        await self.readiness.close()
        self.nodes.close()
        self.client.close()
        if self._own_shared:
            self.shared.close()

    # --- changes (in worker threads) ----------------------------------------------------------
    async def _change(
        self,
        owner: str,
        workspace_id: str,
        what: str,
        action: str,
        function: Callable[..., T],
        *args: Any,
        managers: bool = False,
    ) -> T:
        pool = self.pools.background if managers else self.pools.changes
        try:
            async with self.operations.run(owner, workspace_id, what, managers=managers):
                try:
                    return await in_thread(pool, action, function, owner, workspace_id, *args)
                finally:
                    self._located = None  # where workspaces run is looked at again
        except Busy:
            # Another request for an id the owner has no workspace of (being answered 404
            # meanwhile) makes this one a 404 too, not "busy".
            if not await in_thread(
                self.pools.reads, "read the workspace", self._read, owner, workspace_id
            ):
                raise workspace_not_found(workspace_id) from None
            raise

    def _check_fits(self, spec: WorkspaceSpec) -> None:
        """Refuse what no node of the cluster could ever run (what fits but finds no room now
        waits, pending, and says so)."""
        c = spec.compute
        nodes = [n for n in self._nodes().values() if n.state == "ready"]
        if not nodes:
            return
        largest_cpus = max(n.cpus for n in nodes)
        largest_memory = max(n.memory for n in nodes)
        if any(n.cpus >= c.cpus and n.memory >= c.memory for n in nodes):
            return
        raise InvalidInput(
            f"No node of this cluster has {c.cpus:g} CPUs and {c.memory} MB of memory (the "
            f"largest have {largest_cpus:g} CPUs and {largest_memory} MB): ask for less."
        )

    @contextmanager
    def _owner_held(self, owner: str) -> Iterator[None]:
        with self._owner_locks_guard:
            lock = self._owner_locks.setdefault(owner, threading.Lock())
        with lock, self.shared.holding("network", owner):
            yield

    def _create(self, owner: str, workspace_id: str, record: Record) -> None:
        self._check_fits(record.spec)
        with self._owner_held(owner):
            self._ensure_network(owner)
            try:
                self.client.api.create_service(**build.service_config(self.settings, record))
            except docker.errors.APIError as exc:
                if exc.status_code == 409:
                    raise Conflict(f"Workspace id '{workspace_id}' is already in use.") from exc
                raise

    def _service(self, owner: str, workspace_id: str) -> tuple[Json, Record]:
        found = self._read(owner, workspace_id)
        if not found:
            raise workspace_not_found(workspace_id)
        service, record, _ = found[0]
        return service, record

    def _write(self, service: Json, record: Record, force: bool = False) -> None:
        """Store `record` in the service (labels, task, replicas); refused if the service
        changed since it was read."""
        config = build.service_config(self.settings, record)
        template = config["task_template"]
        previous = service["Spec"].get("TaskTemplate") or {}
        template["ForceUpdate"] = previous.get("ForceUpdate", 0) + (1 if force else 0)
        try:
            self.client.api.update_service(
                service["ID"],
                service["Version"]["Index"],
                task_template=template,
                name=config["name"],
                labels=config["labels"],
                mode=config["mode"],
                endpoint_spec=config["endpoint_spec"],
            )
        except docker.errors.APIError as exc:
            if "update out of sequence" in str(exc.explanation):
                raise Conflict(
                    "The workspace was changed by another request at the same time; reload it "
                    "and try again."
                ) from exc
            raise

    def _rewrite(
        self, owner: str, workspace_id: str, change: Callable[[Record], Record], force: bool
    ) -> None:
        service, record = self._service(owner, workspace_id)
        changed = change(record)
        if changed != record or force:
            self._write(service, changed, force)

    def _stop(self, owner: str, workspace_id: str, change: Callable[[Record], Record]) -> None:
        service, record = self._service(owner, workspace_id)
        tasks = self.client.api.tasks(filters={"service": service["ID"]})
        was_up = any(t["Status"]["State"] == "running" for t in tasks)
        changed = change(record)
        if changed != record:
            self._write(service, changed)
        self._wait_stopped(service["ID"])
        if was_up and record.node_id and clears_on_stop(record.spec, self.settings):
            self._clear(owner, workspace_id, record)

    def _clear(self, owner: str, workspace_id: str, record: Record) -> None:
        """Empty /workspace on its node, as clear-on-stop asks (the Docker backend's
        cleaner, run by that node's engine); what could not be done is told, not raised:
        the workspace has stopped all the same."""
        node = self._nodes().get(record.node_id)
        try:
            if node is None:
                raise Conflict(f"node {record.node_name} has left the cluster.")
            client = self.nodes.client(node)
            emptied = cleaner.clear_volume(
                client, self.settings, owner, workspace_id, record.spec.container_image
            )
            told = "" if emptied else cleaner.STILL_CLEARING
        except ManagerError as exc:
            told = f"/workspace could not be emptied: {exc.message}"
        except docker.errors.DockerException as exc:
            log.warning("emptying workspace %s failed: %s", workspace_id, exc)
            told = "/workspace could not be emptied: its node's engine did not answer."
        if told:
            self.publish(owner, workspace_id, "stopped", told)

    def _start(self, owner: str, workspace_id: str, change: Callable[[Record], Record]) -> None:
        """Not while its /workspace is still being emptied on its node."""
        _, record = self._service(owner, workspace_id)
        node = self._nodes().get(record.node_id) if record.node_id else None
        if node is not None and self.nodes.configured and node.state == "ready":
            wanted = L.selector(self.settings.instance_id, L.KIND_CLEANER, owner, workspace_id)
            cleaning = []
            with suppress(ManagerError):  # (its engine unreachable: nothing is cleaning)
                cleaning = self.nodes.client(node).api.containers(filters={"label": wanted})
            if cleaning:
                raise Busy(cleaner.STILL_CLEARING)
        self._rewrite(owner, workspace_id, change, False)

    def _wait_stopped(self, service_id: str) -> None:
        """Until no task of the service runs (its container is stopped, the volume free)."""
        deadline = time.monotonic() + STOP_WAIT
        while time.monotonic() < deadline:
            tasks = self.client.api.tasks(filters={"service": service_id})
            if not any(
                t["Status"]["State"] in ("running", "starting", "preparing", "assigned", "accepted")
                for t in tasks
            ):
                return
            time.sleep(0.2)

    def _pin(self, owner: str, workspace_id: str, node_id: str) -> None:
        service, record = self._service(owner, workspace_id)
        if record.node_id:
            return
        nodes = self._nodes()
        node = nodes.get(node_id)
        self._write(service, record.pinned(node_id, node.hostname if node else ""))

    def _delete(self, owner: str, workspace_id: str, delete_volume: bool) -> None:
        service, record = self._service(owner, workspace_id)
        volume_at = None
        if delete_volume and record.node_id:
            node = self._nodes().get(record.node_id)
            if node is None:
                raise Conflict(
                    f"The workspace's data is on node {record.node_name}, which has left the "
                    "cluster: delete the workspace keeping its data."
                )
            try:  # refused before anything is removed
                volume_at = self.nodes.client(node)
            except Conflict as exc:
                raise Conflict(
                    f"The workspace's data is on node {node.hostname}, and {exc.message} Delete "
                    "it keeping its data, or try again later."
                ) from exc
        self.client.api.remove_service(service["ID"])
        if volume_at is not None:
            self._remove_volume(
                volume_at, naming.volume_name(self.settings.instance_id, owner, workspace_id)
            )
        # The owner's network stays: `reconcile` removes it once unused for a while. (A
        # network made again just after one of its name was removed is refused to the
        # manager's container for a while: "Could not attach to network ...: not found".)

    def _remove_volume(self, client: docker.DockerClient, name: str) -> None:
        """Once the task's container is gone (the node removes it a moment after the
        service): a volume in use cannot be removed."""
        deadline = time.monotonic() + VOLUME_WAIT
        while True:
            try:
                client.api.remove_volume(name)
                return
            except docker.errors.NotFound:
                return
            except docker.errors.APIError as exc:
                if exc.status_code != 409 or time.monotonic() > deadline:
                    raise
            time.sleep(0.2)

    # --- networks -----------------------------------------------------------------------------
    def _ensure_network(self, owner: str) -> None:
        config = build.network_config(self.settings, owner)
        try:
            # The swarm's own record (a node may still hold a removed one of the same name).
            found = self.client.api.inspect_network(config["name"], scope="swarm")
        except docker.errors.NotFound:
            found = self.client.api.create_network(**config)
        else:
            labels = found.get("Labels") or {}
            if labels.get(L.INSTANCE) != self.settings.instance_id or labels.get(L.OWNER) != owner:
                raise Conflict(
                    f"The network {config['name']} is not this user's (its labels say "
                    "otherwise), so no workspace joins it. An administrator must remove it."
                )
        self.attachments.join(config["name"], found["Id"])

    def _join_all(self) -> None:
        self._check_swarm()
        mine = L.selector(self.settings.instance_id, L.KIND_NETWORK)
        for network in self.client.api.networks(filters={"label": mine}):
            self.attachments.join(network["Name"], network["Id"])

    def _collect_network(self, owner: str) -> bool:
        """Remove the owner's network once no workspace of theirs is left."""
        with self._owner_held(owner):
            return self._remove_unused_network(owner)

    def _remove_unused_network(self, owner: str) -> bool:
        if self._services(owner):
            return False
        name = naming.network_name(self.settings.instance_id, owner)
        self.attachments.leave(name)
        try:
            self.client.api.remove_network(name)
        except docker.errors.APIError as exc:
            # Other managers are still attached: each leaves at its own reconcile, and the
            # last to leave removes it.
            if exc.status_code != 404:
                log.info("network %s not removed yet: %s", name, exc.explanation)
            return False
        return True

    def _collect_networks(self) -> list[str]:
        """Remove the user networks that no workspace has used since the last time."""
        mine = L.selector(self.settings.instance_id, L.KIND_NETWORK)
        removed = []
        unused = set()
        for network in self.client.api.networks(filters={"label": mine}):
            owner = (network.get("Labels") or {}).get(L.OWNER)
            if not owner or self._services(owner):
                continue
            if network["Id"] in self._unused_networks and self._collect_network(owner):
                removed.append(network["Name"])
            else:
                unused.add(network["Id"])
        self._unused_networks = unused
        return removed

    # --- kept data ----------------------------------------------------------------------------
    def _volumes(self, owner: str | None) -> list[tuple[Node, Json]]:
        found: list[tuple[Node, Json]] = []
        if not self.nodes.configured:
            return found
        wanted = L.selector(self.settings.instance_id, L.KIND_VOLUME, owner)
        for node in self._nodes().values():
            if node.state != "ready":
                continue
            try:
                client = self.nodes.client(node)
                volumes = client.api.volumes(filters={"label": wanted}).get("Volumes") or []
            except (ManagerError, docker.errors.DockerException) as exc:
                log.info("volumes of node %s not listed: %s", node.hostname, exc)
                continue
            found += [(node, volume) for volume in volumes]
        return found

    def _kept(self, owner: str | None) -> list[KeptVolumeState]:
        workspaces = {record.workspace_id for _, record, _ in self._read(owner)}
        kept = []
        for _, volume in self._volumes(owner):
            labels = volume.get("Labels") or {}
            workspace_id = labels.get(L.WORKSPACE, "")
            if not workspace_id or workspace_id in workspaces:
                continue
            kept.append(kept_volume(volume))
        return kept

    # --- following changes until they settle ---------------------------------------------------
    def _follow(self, owner: str, workspace_id: str) -> None:
        """Tell the progress of a change as events until the workspace runs, stops or fails
        (and pin it to its node as soon as its first task is placed)."""
        self._followed[workspace_id] = _Followed(owner, time.monotonic())
        if self._follower is None or self._follower.done():
            self._follower = asyncio.create_task(self._follow_all())

    async def _follow_all(self) -> None:
        """One look for all the workspaces followed at a time (three engine calls), however
        many there are: a burst of creates does not multiply the polling."""
        while self._followed:
            ids = list(self._followed)
            present: set[str] | None = None  # (not known when the look failed)
            try:
                found, nodes = await in_thread(
                    self.pools.background, "follow the workspaces", self._read_followed, ids
                )
                present = {record.workspace_id for _, record, _ in found}
                for _, record, tasks in found:
                    await self._tell(record, self._seen(record, tasks, nodes))
            except ManagerError as exc:
                log.info("following workspaces: %s", exc.message)
            except Exception:
                log.exception("following workspaces failed")
            now = time.monotonic()
            for workspace_id in ids:
                followed = self._followed.get(workspace_id)
                # Followed until it settles (or is gone), however long it waits for a node:
                # until placed and pinned, a restart could move it away from its data.
                if followed is not None and present is not None and workspace_id not in present:
                    del self._followed[workspace_id]
            fast = any(now - f.began < FOLLOW_FAST_SECONDS for f in self._followed.values())
            await asyncio.sleep(FOLLOW_FAST if fast else FOLLOW_SLOW)

    def _read_followed(
        self, ids: list[str]
    ) -> tuple[list[tuple[Json, Record, list[Json]]], dict[str, Node]]:
        names = [
            build.service_name(self.settings, f.owner, workspace_id)
            for workspace_id, f in list(self._followed.items())
            if workspace_id in ids
        ]
        wanted = L.selector(self.settings.instance_id, L.KIND_WORKSPACE)
        # (Names filter by prefix: what is not followed is dropped below.)
        services = self.client.api.services(filters={"label": wanted, "name": names})
        found = [f for f in self._records(services) if f[1].workspace_id in ids]
        return found, self._nodes()

    async def _pin_soon(self, owner: str, workspace_id: str, node_id: str) -> None:
        try:
            await self._change(
                owner,
                workspace_id,
                "being placed",
                "pin the workspace",
                self._pin,
                node_id,
                managers=True,
            )
        except ManagerError as exc:
            log.info("workspace %s not pinned yet: %s", workspace_id, exc.message)
        finally:
            self._pinning.discard(workspace_id)

    async def _tell(self, record: Record, seen: Seen) -> None:
        followed = self._followed.get(record.workspace_id)
        if followed is None:
            return
        owner, workspace_id = record.owner, record.workspace_id
        if not record.node_id and seen.node_id and workspace_id not in self._pinning:
            # Apart from this loop: a pin waits its turn behind a change of the workspace
            # under way (a stop takes up to STOP_WAIT), and the loop serves every user.
            self._pinning.add(workspace_id)
            pin = asyncio.create_task(self._pin_soon(owner, workspace_id, seen.node_id))
            self._pins.add(pin)
            pin.add_done_callback(self._pins.discard)
        if seen.message != followed.told:
            followed.told = seen.message
            self.publish(owner, workspace_id, _phase(seen), seen.message)
        if seen.status in SETTLED:
            self._followed.pop(workspace_id, None)


@dataclass
class _Followed:
    owner: str
    began: float
    told: str = ""


def _never(task: Json, address: str) -> tuple[bool, float]:
    return False, 0.0


def _phase(seen: Seen) -> str:
    if seen.status is WorkspaceStatus.RUNNING:
        return "ready"
    if seen.status is WorkspaceStatus.FAILED:
        return "failed"
    if seen.message.startswith("Preparing"):
        return "pulling"
    if seen.message.startswith("Started"):
        return "waiting"
    return "starting"
