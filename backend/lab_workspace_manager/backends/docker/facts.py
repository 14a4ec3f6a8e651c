"""What the manager needs to know about its engine to say what to create, found out once.

The spec builders (`spec.py`) take these as a value and ask the engine nothing themselves.
They are found out at open; if the engine was away then, at the first use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import docker

from ...settings import Settings
from ..base import DiskLimits
from . import disk_limits

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineFacts:
    disk_limits: DiskLimits = field(default_factory=DiskLimits)
    # btrfs counts the image's files into a container's size limit (see disk_limits.detect).
    limit_counts_image: bool = False
    # Whether the engine has NVIDIA's runtime, which GPUs need.
    gpu_runtime: bool = False


def detect(client: docker.DockerClient, settings: Settings) -> EngineFacts:
    """Probes the engine (the record image must be there: the probe is made from it)."""
    limits, counts_image = disk_limits.detect(client, settings)
    runtimes = client.info().get("Runtimes") or {}
    facts = EngineFacts(limits, counts_image, "nvidia" in runtimes)
    hard = "hard (the engine refuses writes beyond it)"
    log.info(
        "disk limits on this engine: container writable layer %s; /workspace volumes %s",
        hard if limits.hard_container_size else "measured (soft)",
        hard if limits.hard_volume_size else "measured (soft)",
    )
    return facts


class KnownFacts:
    """The engine's facts, found out at the first `get` (`open` asks early)."""

    def __init__(
        self, client: docker.DockerClient, settings: Settings, prepare: Callable[[], None]
    ) -> None:
        self._client = client
        self._settings = settings
        self._prepare = prepare  # makes what the probes need (the record image)
        self._facts: EngineFacts | None = None
        self._lock = threading.Lock()

    @property
    def known(self) -> EngineFacts | None:
        return self._facts

    def get(self) -> EngineFacts:
        with self._lock:
            if self._facts is None:
                self._prepare()
                self._facts = detect(self._client, self._settings)
            return self._facts
