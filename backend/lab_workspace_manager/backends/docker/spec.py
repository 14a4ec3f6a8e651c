"""What to create on the engine, as pure functions of (owner, workspace, settings).

The backend only executes these; tests compare their output with exact dictionaries. Units:
memory settings are MB (MiB), Docker wants bytes; `NanoCpus = cpus × 1e9`.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from docker.types import DeviceRequest, LogConfig, Mount

from ... import naming
from ...models import WorkspaceSpec
from ...settings import MIB, Settings
from . import labels as L

if TYPE_CHECKING:
    from .facts import EngineFacts

WORKSPACE_PORT = 8080
RECORD_IMAGE = "lwm-record:1"
# A container that crashes is restarted this many times, then left stopped with its reason.
# (`on-failure` also brings running workspaces back after the engine restarts; a stopped
# workspace gets the policy "no" so an engine restart does not start it.)
RESTART_ON_FAILURE = {"Name": "on-failure", "MaximumRetryCount": 3}
RESTART_NEVER = {"Name": "no", "MaximumRetryCount": 0}

# Of Docker's default capabilities, those a workspace has no use for: raw sockets (spoofed
# packets, ARP tricks against the user's network) and device nodes. Kept: what package
# managers, sudo and ml-workspace's SSH server need (chown, setuid/setgid, chroot, ...).
# Without NET_RAW, `ping` does not work inside a workspace.
DROPPED_CAPABILITIES = ("NET_RAW", "MKNOD")


def owner_labels(settings: Settings, kind: str, owner: str) -> dict[str, str]:
    return {L.INSTANCE: settings.instance_id, L.KIND: kind, L.OWNER: owner}


def build_fingerprint(spec: WorkspaceSpec) -> str:
    """Changes whenever the container must be recreated to match the spec."""
    c = spec.compute
    key = f"{spec.container_image}|{c.cpus:g}|{c.memory}|{c.gpus}"
    if spec.environment:  # (only then: the fingerprints of containers made before stay)
        key += "|" + json.dumps(spec.environment, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def container_config(
    settings: Settings,
    owner: str,
    workspace_id: str,
    spec: WorkspaceSpec,
    start: bool,
    facts: EngineFacts,
    image_size: int = 0,
) -> dict[str, Any]:
    """Keyword arguments for `client.containers.create` for one workspace.

    Where the engine holds the writable layer to a size (see `disk_limits.py`), it is
    limited to the setting, plus the image's `image_size` (MB) where the limit counts the
    image's files too; its label tells the measurement that this limit is hard.
    """
    c = spec.compute
    memory = c.memory * MIB
    config: dict[str, Any] = {
        "name": naming.container_name(settings.instance_id, owner, workspace_id),
        "image": spec.container_image,
        "hostname": workspace_id,
        "detach": True,
        "environment": {
            **spec.environment,  # the template's; the manager's own come after, and win
            # The proxy forwards the full path, so the workspace serves under exactly it.
            "WORKSPACE_BASE_URL": naming.workspace_path(
                settings.workspace_public_prefix, workspace_id
            ),
            "MAX_NUM_THREADS": str(c.threads()),
            # Token links would bypass the manager's access checks and never expire.
            "SHARED_LINKS_ENABLED": "false",
        },
        "labels": {
            **owner_labels(settings, L.KIND_WORKSPACE, owner),
            L.WORKSPACE: workspace_id,
            L.DISPLAY_NAME: spec.display_name,
            L.SPEC: spec.model_dump_json(),
            L.BUILD: build_fingerprint(spec),
        },
        "nano_cpus": round(c.cpus * 1e9),
        "mem_limit": memory,
        # Equal to the memory limit: no swap to escape into.
        "memswap_limit": memory,
        "shm_size": settings.shm_size * MIB,
        "pids_limit": settings.pids_limit,
        "privileged": False,
        "security_opt": ["no-new-privileges:true"],
        "cap_drop": list(DROPPED_CAPABILITIES),
        "mounts": [
            Mount(
                target="/workspace",
                source=naming.volume_name(settings.instance_id, owner, workspace_id),
                type="volume",
            )
        ],
        "network": naming.network_name(settings.instance_id, owner),
        "restart_policy": RESTART_ON_FAILURE if start else RESTART_NEVER,
        # Bounded logs: a chatty workspace must not fill the host's disk.
        "log_config": LogConfig(type="json-file", config={"max-size": "10m", "max-file": "3"}),
    }
    if facts.disk_limits.hard_container_size:
        storage_size = settings.container_size
        if facts.limit_counts_image:  # the workspace still gets its full size
            storage_size += image_size
        config["storage_opt"] = {"size": f"{storage_size}M"}
        config["labels"][L.CONTAINER_SIZE] = str(settings.container_size)
    if c.gpus:
        config["device_requests"] = [DeviceRequest(count=c.gpus, capabilities=[["gpu"]])]
    return config


def volume_config(
    settings: Settings, owner: str, workspace_id: str, spec: WorkspaceSpec, facts: EngineFacts
) -> dict[str, Any]:
    """Where the engine holds volumes to a size, the workspace's volume size is a hard limit.
    It is fixed at creation: creating a volume that exists returns it unchanged, options and
    all. The labels say what it was made for, so that data kept at delete can be told apart
    and counted."""
    config: dict[str, Any] = {
        "name": naming.volume_name(settings.instance_id, owner, workspace_id),
        "driver": "local",
        "labels": {
            **owner_labels(settings, L.KIND_VOLUME, owner),
            L.WORKSPACE: workspace_id,
            L.DISPLAY_NAME: spec.display_name,
            L.VOLUME_SIZE: str(spec.compute.volume_size),
        },
    }
    if facts.disk_limits.hard_volume_size:
        # Docker reads "M" as MiB, the unit of every size setting here.
        config["driver_opts"] = {"size": f"{spec.compute.volume_size}M"}
    return config


def network_config(settings: Settings, owner: str) -> dict[str, Any]:
    """One bridge network per user: workspaces of different users cannot reach each other."""
    return {
        "name": naming.network_name(settings.instance_id, owner),
        "driver": "bridge",
        "labels": owner_labels(settings, L.KIND_NETWORK, owner),
        "check_duplicate": True,
        "options": {
            "com.docker.network.bridge.name": naming.bridge_name(settings.instance_id, owner)
        },
    }


def record_config(settings: Settings, record_labels: dict[str, str]) -> dict[str, Any]:
    """A record is a container that is never started: no network, no command that runs."""
    owner, workspace_id = record_labels[L.OWNER], record_labels[L.WORKSPACE]
    revision = int(record_labels[L.REVISION])
    return {
        "name": naming.record_name(settings.instance_id, owner, workspace_id, revision),
        "image": RECORD_IMAGE,
        "command": ["record"],
        "network_mode": "none",
        "labels": record_labels,
    }
