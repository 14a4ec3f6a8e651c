"""What to ask the swarm for, as pure functions: a workspace is one service with one task.

The service is also the workspace's record: its labels hold the settings and the state its
user asked for, as the Docker backend's record containers do (`docker/records.py`), but a
service's labels can be changed in place (each update names the version it changes, so of two
writers one is refused). Stopping scales the service to 0 and starting back to 1: the service,
its settings and the node its data is on stay.

Units as in `docker/spec.py`: memory settings are MB (MiB); the API wants bytes and NanoCPUs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from ... import naming
from ...models import WorkspaceSpec
from ...settings import MIB, Settings
from ..docker import labels as L
from ..docker.spec import DROPPED_CAPABILITIES, owner_labels

# The node a workspace's data is on (its id), once its first task was placed.
NODE = L.PREFIX + "node"
NODE_NAME = L.PREFIX + "node-name"
# A crashed task is started again this many times, then the workspace is left failed.
MAX_RESTARTS = 3
RESTART_DELAY_NS = 1_000_000_000
# The swarm's name for GPUs that nodes advertise (dockerd --node-generic-resource).
GPU_RESOURCE = "NVIDIA-GPU"
# Seconds a task has to stop before it is killed (Jupyter saves and shuts its kernels down).
STOP_GRACE_NS = 10_000_000_000

Desired = Literal["running", "stopped"]


@dataclass(frozen=True)
class Record:
    """A workspace as its service's labels describe it."""

    owner: str
    workspace_id: str
    spec: WorkspaceSpec
    desired: Desired
    reason: str  # completes "Stopped ..."
    changed_at: datetime
    created_at: datetime
    node_id: str = ""  # where its data is; "" until its first task was placed
    node_name: str = ""

    @classmethod
    def new(cls, owner: str, workspace_id: str, spec: WorkspaceSpec, start: bool) -> Record:
        now = datetime.now(UTC)
        desired: Desired = "running" if start else "stopped"
        reason = "" if start else "by its user"
        return cls(owner, workspace_id, spec, desired, reason, now, now)

    def changed(self, **changes: Any) -> Record:
        return replace(self, changed_at=datetime.now(UTC), **changes)

    def pinned(self, node_id: str, node_name: str) -> Record:
        """Where its data is, now that its first task was placed: not a change its user made
        (`changed_at` stays: the crashes since the last start still count)."""
        return replace(self, node_id=node_id, node_name=node_name)

    def to_labels(self, instance: str) -> dict[str, str]:
        labels = {
            **_workspace_labels(instance, self.owner, self.workspace_id),
            L.DISPLAY_NAME: self.spec.display_name,
            L.SPEC: self.spec.model_dump_json(),
            L.DESIRED: self.desired,
            L.REASON: self.reason,
            L.CHANGED_AT: self.changed_at.isoformat(),
            L.CREATED_AT: self.created_at.isoformat(),
        }
        if self.node_id:
            labels[NODE] = self.node_id
            labels[NODE_NAME] = self.node_name
        return labels

    @classmethod
    def from_labels(cls, labels: dict[str, str]) -> Record:
        return cls(
            owner=labels[L.OWNER],
            workspace_id=labels[L.WORKSPACE],
            spec=WorkspaceSpec.model_validate(json.loads(labels[L.SPEC])),
            desired="stopped" if labels.get(L.DESIRED) == "stopped" else "running",
            reason=labels.get(L.REASON, ""),
            changed_at=datetime.fromisoformat(labels[L.CHANGED_AT]),
            created_at=datetime.fromisoformat(labels[L.CREATED_AT]),
            node_id=labels.get(NODE, ""),
            node_name=labels.get(NODE_NAME, ""),
        )


def _workspace_labels(instance: str, owner: str, workspace_id: str) -> dict[str, str]:
    return {
        L.INSTANCE: instance,
        L.KIND: L.KIND_WORKSPACE,
        L.OWNER: owner,
        L.WORKSPACE: workspace_id,
    }


def service_name(settings: Settings, owner: str, workspace_id: str) -> str:
    return naming.container_name(settings.instance_id, owner, workspace_id)


def service_config(settings: Settings, record: Record) -> dict[str, Any]:
    """Keyword arguments for the low-level `create_service` / `update_service`."""
    return {
        "name": service_name(settings, record.owner, record.workspace_id),
        "labels": record.to_labels(settings.instance_id),
        "task_template": task_template(settings, record),
        "mode": {"Replicated": {"Replicas": 1 if record.desired == "running" else 0}},
        # No published ports: the manager's proxy is the only way in (on the user's network),
        # to the task's own address. DNS round robin: no virtual IP, so no IPVS rules for
        # each workspace on every node (and none needed: kernels without IPVS work too).
        "endpoint_spec": {"Mode": "dnsrr", "Ports": []},
    }


def task_template(settings: Settings, record: Record) -> dict[str, Any]:
    spec = record.spec
    c = spec.compute
    owner, workspace_id = record.owner, record.workspace_id
    volume = {
        "Labels": {
            **owner_labels(settings, L.KIND_VOLUME, owner),
            L.WORKSPACE: workspace_id,
            L.DISPLAY_NAME: spec.display_name,
            L.VOLUME_SIZE: str(c.volume_size),
        },
        "DriverConfig": {"Name": "local"},
    }
    resources = {"NanoCPUs": round(c.cpus * 1e9), "MemoryBytes": c.memory * MIB}
    reservations: dict[str, Any] = dict(resources)
    if c.gpus:
        reservations["GenericResources"] = [
            {"DiscreteResourceSpec": {"Kind": GPU_RESOURCE, "Value": c.gpus}}
        ]
    environment = {
        **spec.environment,  # the template's; the manager's own come after, and win
        "WORKSPACE_BASE_URL": naming.workspace_path(settings.workspace_public_prefix, workspace_id),
        "MAX_NUM_THREADS": str(c.threads()),
        "SHARED_LINKS_ENABLED": "false",
    }
    return {
        "ContainerSpec": {
            "Image": spec.container_image,
            "Hostname": workspace_id,
            "Env": [f"{key}={value}" for key, value in environment.items()],
            # The task's container carries the workspace's labels too: the Docker backend's
            # usage meter reads them on the node.
            "Labels": _workspace_labels(settings.instance_id, owner, workspace_id),
            "Mounts": [
                {
                    "Type": "volume",
                    "Source": naming.volume_name(settings.instance_id, owner, workspace_id),
                    "Target": "/workspace",
                    "VolumeOptions": volume,
                },
                # Services have no --shm-size (moby#26714): a tmpfs of that size instead.
                {
                    "Type": "tmpfs",
                    "Target": "/dev/shm",
                    "TmpfsOptions": {"SizeBytes": settings.shm_size * MIB, "Mode": 0o1777},
                },
            ],
            "CapabilityDrop": list(DROPPED_CAPABILITIES),
            "StopGracePeriod": STOP_GRACE_NS,
        },
        # Reserved (so the swarm places it only where it fits) and limited alike.
        "Resources": {
            "Limits": {**resources, "Pids": settings.pids_limit},
            "Reservations": reservations,
        },
        "RestartPolicy": {
            "Condition": "on-failure",
            "MaxAttempts": MAX_RESTARTS,
            "Delay": RESTART_DELAY_NS,
        },
        # Once placed, always there: the data is on that node's disk.
        "Placement": {"Constraints": [f"node.id=={record.node_id}"] if record.node_id else []},
        "Networks": [{"Target": naming.network_name(settings.instance_id, owner)}],
        "LogDriver": {"Name": "json-file", "Options": {"max-size": "10m", "max-file": "3"}},
    }


def network_config(settings: Settings, owner: str) -> dict[str, Any]:
    """One overlay network per user, spanning the nodes: the manager joins it (it is
    attachable), other users' workspaces are never on it."""
    options = {"encrypted": ""} if settings.swarm_encrypt_networks else {}
    return {
        "name": naming.network_name(settings.instance_id, owner),
        "driver": "overlay",
        "attachable": True,
        "options": options,
        "labels": owner_labels(settings, L.KIND_NETWORK, owner),
        "check_duplicate": True,
    }
