"""A workspace's status, read from its service's tasks and the nodes: pure functions.

A task goes new → pending (waiting for a node with room) → assigned → accepted → preparing
(the node pulls the image) → starting → running, or ends failed / rejected / shutdown. The
swarm says `running` as soon as the container runs; the workspace is `running` only once it
answers HTTP (the manager probes it, as for the Docker backend).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...models import WorkspaceStatus
from ...settings import MIB
from ..docker.exits import parse_time
from .spec import MAX_RESTARTS, Record

WAITING = {"new", "pending", "allocated"}
PREPARING = {"assigned", "accepted", "preparing", "ready"}
# A task, node or service as the Docker API describes it.
Json = dict[str, Any]

ENDED = {"complete", "shutdown", "failed", "rejected", "orphaned", "remove"}


@dataclass(frozen=True)
class Node:
    id: str
    hostname: str
    address: str
    state: str  # ready, down, unknown, disconnected
    availability: str  # active, pause, drain
    cpus: float
    memory: int  # MB

    @property
    def usable(self) -> bool:
        return self.state == "ready" and self.availability == "active"

    def why_not(self) -> str:
        """Why no workspace starts here now ("down", "drained")."""
        if self.state != "ready":
            return "down" if self.state in ("down", "disconnected") else f"{self.state}"
        return {"drain": "drained", "pause": "paused"}.get(self.availability, self.availability)

    @classmethod
    def from_api(cls, node: Json) -> Node:
        description = node.get("Description") or {}
        resources = description.get("Resources") or {}
        status = node.get("Status") or {}
        return cls(
            id=node["ID"],
            hostname=description.get("Hostname", node["ID"][:12]),
            address=status.get("Addr", ""),
            state=status.get("State", "unknown"),
            availability=(node.get("Spec") or {}).get("Availability", "active"),
            cpus=resources.get("NanoCPUs", 0) / 1e9,
            memory=resources.get("MemoryBytes", 0) // MIB,
        )


@dataclass(frozen=True)
class Seen:
    status: WorkspaceStatus
    message: str
    node_id: str = ""  # where its current task is placed
    started_at: datetime | None = None
    address: str | None = None  # host:port on the user's network, while it runs
    task_id: str = ""


def current_task(tasks: list[Json]) -> Json | None:
    """The task the swarm wants running now (the newest), if any."""
    wanted = [t for t in tasks if t.get("DesiredState") in ("running", "ready", "accepted")]
    if not wanted:
        return None
    return max(wanted, key=lambda t: t["Version"]["Index"])


def newest_ended(tasks: list[Json]) -> Json | None:
    ended = [t for t in tasks if t["Status"]["State"] in ENDED]
    return max(ended, key=lambda t: t["Version"]["Index"]) if ended else None


def network_id_on(task: Json, network: str) -> str | None:
    """The id of the network named `network` that the task is attached to."""
    for attachment in task.get("NetworksAttachments") or []:
        found = attachment.get("Network") or {}
        if found.get("Spec", {}).get("Name") == network and found.get("ID"):
            return str(found["ID"])
    return None


def address_on(task: Json, network: str, port: int) -> str | None:
    for attachment in task.get("NetworksAttachments") or []:
        if (attachment.get("Network") or {}).get("Spec", {}).get("Name") == network:
            for address in attachment.get("Addresses") or []:
                return f"{address.split('/')[0]}:{port}"
    return None


def failures_since(tasks: list[Json], since: datetime) -> int:
    """Tasks that failed since the workspace was last (re)started (to the second: the
    times read are)."""
    since = since.replace(microsecond=0)
    count = 0
    for task in tasks:
        created = parse_time(task.get("CreatedAt"))
        if task["Status"]["State"] in ("failed", "rejected") and created and created >= since:
            count += 1
    return count


def why_ended(task: Json) -> str:
    status = task["Status"]
    code = (status.get("ContainerStatus") or {}).get("ExitCode")
    error = status.get("Err") or status.get("Message") or "it ended"
    if code == 137:
        return "It was killed (exit code 137), most likely for using more memory than its limit."
    if code:
        return f"It exited with code {code} ({error})."
    return f"The swarm reports: {error}."


def observe(
    record: Record,
    tasks: list[Json],
    nodes: dict[str, Node],
    network: str,
    port: int,
    answers: Callable[[Json, str], tuple[bool, float]],
    ready_timeout: float,
) -> Seen:
    """The workspace's status. `answers(task, address)` says whether the running task answers
    HTTP yet and for how many seconds it has been probed."""
    if record.desired == "stopped":
        return Seen(WorkspaceStatus.STOPPED, f"Stopped {record.reason or 'by its user'}.")
    home = nodes.get(record.node_id) if record.node_id else None
    task = current_task(tasks)
    if task is None:
        ended = newest_ended(tasks)
        if ended is not None and failures_since(tasks, record.changed_at) > MAX_RESTARTS:
            return Seen(WorkspaceStatus.FAILED, why_ended(ended) + " It was not started again.")
        if ended is not None and ended["Status"]["State"] in ("failed", "rejected"):
            return Seen(WorkspaceStatus.PENDING, "Starting again: " + why_ended(ended))
        return Seen(WorkspaceStatus.PENDING, _waiting(record, home, None))
    state = task["Status"]["State"]
    node = nodes.get(task.get("NodeID", ""))
    where = f" on node {node.hostname}" if node else ""
    if state in WAITING:
        return Seen(WorkspaceStatus.PENDING, _waiting(record, home, task))
    if state in PREPARING:
        message = f"Preparing{where} (pulling {record.spec.container_image} if it is not there)."
        return Seen(WorkspaceStatus.PENDING, message, task.get("NodeID", ""))
    if state == "starting":
        return Seen(WorkspaceStatus.PENDING, f"Starting{where}.", task.get("NodeID", ""))
    if state == "running":
        started = parse_time(task["Status"].get("Timestamp"))
        address = address_on(task, network, port)
        if address is None:
            return Seen(WorkspaceStatus.PENDING, f"Started{where}; joining its network.")
        ready, waited = answers(task, address)
        if ready:
            return Seen(
                WorkspaceStatus.RUNNING,
                f"Running{where}.",
                task["NodeID"],
                started,
                address,
                task["ID"],
            )
        if waited > ready_timeout:
            # Still pending, not failed: its task runs and holds what it reserved, so it
            # counts toward quotas and is stopped when idle like any other.
            return Seen(
                WorkspaceStatus.PENDING,
                f"It started{where} but has not answered HTTP on port {port} within "
                f"{ready_timeout:g} s. Check its logs; stop it if it is stuck.",
                task["NodeID"],
                task_id=task["ID"],
            )
        return Seen(
            WorkspaceStatus.PENDING,
            f"Started{where}; waiting for it to answer.",
            task["NodeID"],
            task_id=task["ID"],
        )
    return Seen(WorkspaceStatus.PENDING, "Starting again: " + why_ended(task))


def _waiting(record: Record, home: Node | None, task: Json | None) -> str:
    """Why a task waits for a node, in the user's words."""
    c = record.spec.compute
    needs = f"{c.cpus:g} CPUs and {c.memory} MB of memory"
    if home is not None and not home.usable:
        return (
            f"Its data is on node {home.hostname}, which is {home.why_not()}: it starts there "
            "once the node is back (an administrator can bring it back)."
        )
    if record.node_id and home is None:
        return (
            f"Its data is on node {record.node_name or record.node_id}, which has left the "
            "cluster: an administrator must bring it back, or delete the workspace."
        )
    error = ((task or {}).get("Status") or {}).get("Err") or ""
    if "insufficient resources" in error or "no suitable node" in error:
        if home is not None:
            return (
                f"Node {home.hostname}, where its data is, has not got {needs} free now: it "
                "starts once it has (when other workspaces there stop)."
            )
        return (
            f"No node has {needs} free now: it starts once one has (when other workspaces "
            "stop). Ask for less, or stop another workspace."
        )
    return "Waiting for the swarm to place it on a node."
