"""Emptying a workspace's /workspace on stop, as its user chose (clear on stop)."""

from __future__ import annotations

import logging

import docker
import docker.errors
import requests.exceptions
from docker.types import LogConfig, Mount

from ... import naming
from ...errors import ManagerError
from ...settings import MIB, Settings
from . import labels as L
from . import spec as build

log = logging.getLogger(__name__)

WAIT_SECONDS = 120  # a stop waits this long for /workspace to be emptied, at most
STILL_CLEARING = (
    "/workspace is still being emptied (as chosen: cleared on stop); it can be started again "
    "once that has finished."
)


def clear_volume(
    client: docker.DockerClient, settings: Settings, owner: str, workspace_id: str, image: str
) -> bool:
    """Empty /workspace in a short-lived container of the workspace's own image, once the
    workspace itself has stopped writing. Waits WAIT_SECONDS at most (millions of files take
    longer): False if it still runs; the workspace cannot be started until it has finished."""
    volume = naming.volume_name(settings.instance_id, owner, workspace_id)
    cleaner = client.containers.run(
        image,
        entrypoint=["/bin/sh", "-c", "find /workspace -mindepth 1 -delete"],
        environment={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        mounts=[Mount(target="/workspace", source=volume, type="volume")],
        network_mode="none",
        labels={
            **build.owner_labels(settings, L.KIND_CLEANER, owner),
            L.WORKSPACE: workspace_id,
        },
        # As root, whatever the image's user, with only the powers deleting needs; no
        # more of the machine than one CPU, and little memory, processes and log.
        user="0",
        cap_drop=["ALL"],
        cap_add=["DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER"],
        security_opt=["no-new-privileges"],
        nano_cpus=10**9,
        pids_limit=64,
        mem_limit=256 * MIB,
        log_config=LogConfig(type="json-file", config={"max-size": "1m", "max-file": "1"}),
        detach=True,
        auto_remove=True,
    )
    try:
        result = cleaner.wait(timeout=WAIT_SECONDS)
    except docker.errors.NotFound:
        return True  # done and removed before we asked
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
        log.info("workspace %s: /workspace is still being emptied", workspace_id)
        return False
    if result.get("StatusCode"):
        raise ManagerError(
            f"/workspace could not be emptied (the cleaner ended with code "
            f"{result['StatusCode']}); its files are still there. Start and stop it again "
            "to retry, or delete it with its data."
        )
    return True
