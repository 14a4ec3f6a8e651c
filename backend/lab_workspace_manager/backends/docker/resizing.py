"""Changing a workspace's size: CPU and memory of a running container, and its volume."""

from __future__ import annotations

import re

import docker
import docker.errors

from ... import naming
from ...errors import Conflict
from ...models import WorkspaceSpec
from ...settings import MIB, Settings
from . import disk_limits


def resize_live(client: docker.DockerClient, container_id: str, spec: WorkspaceSpec) -> None:
    """New CPU and memory limits for a running container, without restarting it."""
    memory = spec.compute.memory * MIB
    body = {"NanoCpus": round(spec.compute.cpus * 1e9), "Memory": memory, "MemorySwap": memory}
    api = client.api
    # Not the public `update_container()`: it has no NanoCpus parameter, and its
    # cpu_period/cpu_quota are refused for a container created with NanoCpus ("Conflicting
    # options"). This is the same endpoint, with the field it lacks.
    try:
        response = api._post_json(api._url("/containers/{0}/update", container_id), data=body)
        api._raise_for_status(response)
    except docker.errors.APIError as exc:
        explanation = str(exc.explanation)
        if "unable to set memory limit" in explanation or "busy" in explanation:
            used = re.search(r"current usage: (\d+)", explanation)
            now = f" ({int(used.group(1)) // MIB} MB)" if used else ""
            raise Conflict(
                f"compute.memory: the workspace uses more than {spec.compute.memory} MB "
                f"right now{now}, so its limit cannot be lowered that far while it runs. "
                "Free memory in the workspace (stop kernels), or stop it and resize then."
            ) from exc
        raise


def check_volume_growth(
    client: docker.DockerClient, settings: Settings, owner: str, workspace_id: str, wanted: int
) -> None:
    """A volume's hard size is fixed when it is created (the engine has no call to change a
    volume's options): growing past it is refused rather than promised and not kept.
    Shrinking is fine: the measured limit then stops the workspace at the new size."""
    name = naming.volume_name(settings.instance_id, owner, workspace_id)
    try:
        options = client.api.inspect_volume(name).get("Options")
    except docker.errors.NotFound:
        return
    hard = disk_limits.volume_size(options)
    if hard is not None and wanted > hard:
        raise Conflict(
            f"compute.volume_size: /workspace was created with a hard limit of {hard} MB, "
            "which this Docker engine cannot change afterwards. Choose at most "
            f"{hard} MB, or create a new workspace with a larger disk and copy your data."
        )
