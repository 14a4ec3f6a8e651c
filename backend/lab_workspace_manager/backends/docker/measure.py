"""How much CPU, memory and disk this instance's workspaces use, as the engine reports it."""

from __future__ import annotations

import docker
import docker.errors

from ...settings import MIB
from ..measurement import Measurement
from . import disk_limits
from . import labels as L


class UsageMeter:
    def __init__(self, client: docker.DockerClient, instance_id: str) -> None:
        self.client = client
        self.instance_id = instance_id
        # container id -> (its CPU time, the host's CPU time) at the last measurement
        self._cpu_readings: dict[str, tuple[int, int]] = {}

    def compute(self) -> dict[str, Measurement]:
        """One quick stats call per running workspace (one_shot: no 1 s sampling wait); CPU
        % from the difference to the previous call, as `docker stats` computes it."""
        wanted = L.selector(self.instance_id, L.KIND_WORKSPACE)
        measured = {}
        seen = set()
        for summary in self.client.api.containers(filters={"label": wanted, "status": "running"}):
            container_id = summary["Id"]
            try:
                stats = self.client.api.stats(container_id, stream=False, one_shot=True)
            except docker.errors.NotFound:
                continue
            seen.add(container_id)
            cpu = stats.get("cpu_stats") or {}
            total = (cpu.get("cpu_usage") or {}).get("total_usage")
            system = cpu.get("system_cpu_usage")
            percent = None
            previous = self._cpu_readings.get(container_id)
            if previous and total is not None and system and system > previous[1]:
                cpus = cpu.get("online_cpus") or 1
                percent = round((total - previous[0]) / (system - previous[1]) * cpus * 100, 1)
            if total is not None and system:
                self._cpu_readings[container_id] = (total, system)
            memory = stats.get("memory_stats") or {}
            # Page cache is reclaimable: count it out, as `docker stats` does.
            used = memory.get("usage")
            if used is not None:
                used -= (memory.get("stats") or {}).get("cache", 0)
            measured[summary["Labels"][L.WORKSPACE]] = Measurement(
                cpu_percent=percent, memory_used=used // MIB if used is not None else None
            )
        self._cpu_readings = {k: v for k, v in self._cpu_readings.items() if k in seen}
        return measured

    def disk(self) -> dict[str, Measurement]:
        """Every workspace's volume and writable layer: one `docker system df` (the engine
        walks the files, so this runs seldom, in the background)."""
        usage = self.client.api.df()
        volumes: dict[str, int] = {}
        volume_limits: dict[str, int | None] = {}
        for volume in usage.get("Volumes") or []:
            labels = volume.get("Labels") or {}
            if labels.get(L.INSTANCE) == self.instance_id and labels.get(L.WORKSPACE):
                size = (volume.get("UsageData") or {}).get("Size", -1)
                if size >= 0:
                    volumes[labels[L.WORKSPACE]] = size // MIB
                volume_limits[labels[L.WORKSPACE]] = disk_limits.volume_size(volume.get("Options"))
        layers: dict[str, int] = {}
        layer_limits: dict[str, int | None] = {}
        for container in usage.get("Containers") or []:
            labels = container.get("Labels") or {}
            if (
                labels.get(L.INSTANCE) == self.instance_id
                and labels.get(L.KIND) == L.KIND_WORKSPACE
            ):
                layers[labels[L.WORKSPACE]] = (container.get("SizeRw") or 0) // MIB
                hard = labels.get(L.CONTAINER_SIZE, "")
                layer_limits[labels[L.WORKSPACE]] = int(hard) if hard.isdigit() else None
        return {
            workspace_id: Measurement(
                volume_used=volumes.get(workspace_id),
                container_used=layers.get(workspace_id),
                volume_hard_limit=volume_limits.get(workspace_id),
                container_hard_limit=layer_limits.get(workspace_id),
            )
            for workspace_id in volumes.keys() | layers.keys()
        }
