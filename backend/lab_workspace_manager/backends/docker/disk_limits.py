"""Which disk limits this Docker engine enforces itself, found out by trying.

A hard limit makes writes beyond it fail inside the workspace (ENOSPC or EDQUOT); the
background measurement (`policies/usage.py`) runs either way. Docker 20.10 offers two:

- the container's writable layer, `HostConfig.StorageOpt {"size": ...}`: overlay2 on XFS
  mounted with `pquota`, btrfs with quotas enabled, zfs. Other set-ups refuse it at create
  ("--storage-opt is supported only for overlay over xfs with 'pquota' mount option");
- a volume, the local driver's `size` option (since 20.10): an XFS project quota on the
  volume's directory, set each time a container mounts it. Where the engine's volume directory
  has no project quotas the create is refused ("quota size requested but no quota support").
  A volume's options cannot be changed afterwards: its size is fixed when it is created.

Reading `docker info` cannot tell whether quotas are on, so each is probed: a throwaway,
labelled container is created (never started) and a volume, and both removed at once.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from contextlib import suppress

import docker
import docker.errors

from ...settings import MIB, Settings
from ..base import DiskLimits
from . import labels as L
from . import spec as build

log = logging.getLogger(__name__)

PROBE_SIZE = "16M"
KIND_PROBE = "probe"


def detect(client: docker.DockerClient, settings: Settings) -> tuple[DiskLimits, bool]:
    """(the hard limits this engine enforces, whether its container limit counts the image).

    btrfs limits a container's qgroup by the bytes it references, the image's files included;
    overlay2 and zfs count only what the container writes."""
    _remove_probes(client, settings)
    name = f"{settings.instance_id}-probe-{secrets.token_hex(4)}"
    labels = {**build.owner_labels(settings, KIND_PROBE, ""), L.WORKSPACE: ""}
    container = _supported(
        "container size",
        lambda: client.api.create_container(
            build.RECORD_IMAGE,
            command=["probe"],
            name=name,
            labels=labels,
            host_config=client.api.create_host_config(
                network_mode="none", storage_opt={"size": PROBE_SIZE}
            ),
        ),
        lambda: client.api.remove_container(name, force=True),
    )
    volume = _supported(
        "volume size",
        lambda: client.api.create_volume(
            name, driver="local", driver_opts={"size": PROBE_SIZE}, labels=labels
        ),
        lambda: client.api.remove_volume(name, force=True),
    )
    counts_image = container and client.info().get("Driver") == "btrfs"
    return DiskLimits(hard_container_size=container, hard_volume_size=volume), counts_image


def _supported(what: str, create: Callable[[], object], remove: Callable[[], object]) -> bool:
    try:
        create()
    except docker.errors.APIError as exc:
        # Only a refusal of the option itself means "unsupported"; anything else (engine
        # down, missing image) is a real error and escapes.
        if exc.status_code not in (400, 500):
            raise
        log.info("no hard %s on this engine: %s", what, exc.explanation)
        return False
    with suppress(docker.errors.NotFound):
        remove()
    return True


def _remove_probes(client: docker.DockerClient, settings: Settings) -> None:
    """Probes a crash left between create and remove (they hold no data)."""
    mine = {"label": L.selector(settings.instance_id, KIND_PROBE)}
    for container in client.api.containers(all=True, filters=mine):
        with suppress(docker.errors.NotFound):
            client.api.remove_container(container["Id"], force=True)
    for volume in client.api.volumes(filters=mine).get("Volumes") or []:
        with suppress(docker.errors.NotFound):
            client.api.remove_volume(volume["Name"], force=True)


def volume_size(options: dict[str, str] | None) -> int | None:
    """The hard size (MB) a volume was created with, from its driver options; None if none.
    Docker reads sizes as binary multiples ("100M" = 100 MiB), with or without "b"/"ib"."""
    value = (options or {}).get("size", "").strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?", value, re.IGNORECASE)
    if not match:
        return None
    power = " kmgtp".index(match.group(2).lower() or " ")
    size = int(float(match.group(1)) * 1024**power) // MIB
    return size or None
