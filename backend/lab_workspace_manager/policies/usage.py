"""What workspaces use (CPU, memory, disk), measured in the background, and the disk limit.

No request waits on a measurement: `/stats` answers with the latest sample. CPU and memory
are sampled every USAGE_INTERVAL s (cheap), disk every DISK_USAGE_INTERVAL s (the engine
walks the files). Where the engine cannot hold a volume, or a container's own files (its
writable layer), to a size, this is the limit (a soft one): a running workspace over either
size is stopped with a message that says so; nothing is deleted. Once per overrun, the first
start after that stop has DISK_GRACE_SECONDS to make room; a workspace still over its size
after that is stopped at the next check and cannot be started again until it fits (a larger
disk) or an administrator starts it (which gives it the time once more). A measurement that
finds it within its sizes ends the overrun. Where the engine does hold a size
(`backends/docker/disk_limits.py`), writes beyond it fail, and this still measures, warns, and
enforces a size lowered below the hard one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ..backends import WorkspaceBackend, WorkspaceState
from ..backends.measurement import Measurement
from ..errors import ManagerError
from ..models import WorkspaceStats, WorkspaceStatus
from ..settings import Settings
from . import Stop
from .clearing import EMPTIED, clears_on_stop

log = logging.getLogger(__name__)

TO_FIT = (
    "Give it a larger disk in its settings if /workspace is what is over, or ask an "
    "administrator to start it for you once more to make room"
)

# Usage above this share of a limit earns a warning.
WARN_AT = 0.9


@dataclass
class _Overrun:
    """A workspace over a disk size, from its first stop for it until it is measured within."""

    stopped_at: datetime
    grace_from: datetime | None = None  # the first start after that stop


@dataclass
class Sample:
    compute: Measurement = field(default_factory=Measurement)
    measured_at: datetime | None = None
    disk: Measurement = field(default_factory=Measurement)
    disk_measured_at: datetime | None = None


class UsageMonitor:
    def __init__(self, settings: Settings, backend: WorkspaceBackend, stop: Stop) -> None:
        self._settings = settings
        self._backend = backend  # for measuring and reading; changes go through `stop`
        self._stop = stop
        self._samples: dict[str, Sample] = {}
        self._overruns: dict[str, _Overrun] = {}
        # Whether disks were measured (or tried) once since start: usage accounting waits
        # for it, rather than count a restarted manager's first minutes with no disk.
        self.disks_measured = False

    async def sample_compute(self) -> None:
        now = datetime.now(UTC)
        for workspace_id, measured in (await self._backend.measure(disk=False)).items():
            sample = self._samples.setdefault(workspace_id, Sample())
            sample.compute, sample.measured_at = measured, now

    async def sample_disk(self) -> list[str]:
        """Measure disks, then stop what is over its size; the ids of the workspaces stopped."""
        now = datetime.now(UTC)
        try:
            measured_disks = await self._backend.measure(disk=True)
        finally:
            self.disks_measured = True
        for workspace_id, measured in measured_disks.items():
            sample = self._samples.setdefault(workspace_id, Sample())
            sample.disk, sample.disk_measured_at = measured, now
        stopped = []
        for state in await self._backend.list_workspaces(None):
            reason = self._over_limit(state, now)
            if not reason:
                continue
            try:
                await self._stop(state.owner, state.id, reason)
                stopped.append(state.id)
                self._overruns.setdefault(state.id, _Overrun(stopped_at=now))
            except ManagerError as exc:  # (busy: its user is changing it) next round
                log.warning("workspace %s is over its disk limit: %s", state.id, exc.message)
        return stopped

    def _over_limit(self, state: WorkspaceState, now: datetime) -> str | None:
        """Why the workspace is to be stopped for its disk use now; None if it is not."""
        sample = self._samples.get(state.id)
        if sample is None or sample.disk_measured_at is None:
            return None
        over = self._overuse(state, sample.disk)
        if over is None:
            self._overruns.pop(state.id, None)  # within its sizes: the overrun is over
            return None
        if state.status not in (WorkspaceStatus.RUNNING, WorkspaceStatus.PENDING):
            return None
        overrun = self._overruns.get(state.id)
        if overrun is None:
            if clears_on_stop(state.spec, self._settings):
                return f"because {over}; {EMPTIED},"
            return (
                f"because {over} (nothing was deleted). Start it again and make room within "
                f"{self._settings.disk_grace_seconds // 60} min, or ask for a larger disk,"
            )
        started = state.started_at
        if overrun.grace_from is None and started is not None and started > overrun.stopped_at:
            overrun.grace_from = started
        if self._in_grace(overrun, now):
            return None
        return (
            f"because {over}, and the time to make room has passed (nothing was deleted). {TO_FIT},"
        )

    def refusal_to_start(self, state: WorkspaceState) -> str | None:
        """Why the workspace may not start: still over a size after its time to make room."""
        overrun = self._overruns.get(state.id)
        sample = self._samples.get(state.id)
        if overrun is None or overrun.grace_from is None or sample is None:
            return None
        if self._in_grace(overrun, datetime.now(UTC)):
            return None
        over = self._overuse(state, sample.disk)
        if over is None:
            return None
        return (
            f"This workspace cannot be started: {over} when last measured, and its time to "
            f"make room has passed (nothing was deleted). {TO_FIT}."
        )

    def _in_grace(self, overrun: _Overrun, now: datetime) -> bool:
        """Whether its time to make room (from the first start after its stop) still runs."""
        grace = timedelta(seconds=self._settings.disk_grace_seconds)
        return overrun.grace_from is not None and now - overrun.grace_from < grace

    def grant_grace(self, workspace_id: str) -> None:
        """An administrator starts it: the time to make room begins again with this start."""
        overrun = self._overruns.get(workspace_id)
        if overrun is not None:
            overrun.stopped_at, overrun.grace_from = datetime.now(UTC), None

    def _overuse(self, state: WorkspaceState, disk: Measurement) -> str | None:
        """What is over its size, if anything: /workspace, or the container's own files
        (where the engine does not hold them to their size itself)."""
        limit = state.spec.compute.volume_size
        if disk.volume_used is not None and disk.volume_used > limit:
            return f"/workspace held {disk.volume_used} MB, more than its {limit} MB limit"
        size = self._settings.container_size
        hard = disk.container_hard_limit is not None
        if not hard and disk.container_used is not None and disk.container_used > size:
            return (
                f"the files outside /workspace held {disk.container_used} MB, more than "
                f"their {size} MB limit"
            )
        return None

    def sample(self, workspace_id: str) -> Sample | None:
        """The latest measurements of a workspace (None: never measured)."""
        return self._samples.get(workspace_id)

    def volume_used(self, workspace_id: str) -> int | None:
        """MB the workspace's volume held when last measured (kept data too)."""
        sample = self._samples.get(workspace_id)
        return sample.disk.volume_used if sample else None

    def forget(self, workspace_id: str, keep_disk: bool = False) -> None:
        """Forget a deleted workspace; with `keep_disk`, its volume's last measurement stays
        (its data was kept, and counts toward the disk quota at what it holds)."""
        self._overruns.pop(workspace_id, None)
        sample = self._samples.pop(workspace_id, None)
        if keep_disk and sample is not None:
            self._samples[workspace_id] = Sample(
                disk=sample.disk, disk_measured_at=sample.disk_measured_at
            )

    def stats(self, state: WorkspaceState) -> WorkspaceStats:
        sample = self._samples.get(state.id, Sample())
        running = state.status in (WorkspaceStatus.RUNNING, WorkspaceStatus.PENDING)
        compute = sample.compute if running else Measurement()
        stats = WorkspaceStats(
            cpu_percent=compute.cpu_percent,
            cpu_limit_percent=state.spec.compute.cpus * 100,
            memory_used=compute.memory_used,
            memory_limit=state.spec.compute.memory,
            measured_at=sample.measured_at if running else None,
            volume_used=sample.disk.volume_used,
            volume_limit=state.spec.compute.volume_size,
            container_used=sample.disk.container_used,
            container_limit=self._settings.container_size,
            disk_measured_at=sample.disk_measured_at,
            volume_hard_limit=sample.disk.volume_hard_limit,
            container_hard_limit=sample.disk.container_hard_limit,
            not_measured=compute.not_measured or sample.disk.not_measured or None,
        )
        return with_warnings(stats)


def with_warnings(stats: WorkspaceStats) -> WorkspaceStats:
    warnings = []
    for what, used, limit, hard in (
        ("Memory", stats.memory_used, stats.memory_limit, None),
        ("/workspace", stats.volume_used, stats.volume_limit, stats.volume_hard_limit),
        (
            "The container's own files",
            stats.container_used,
            stats.container_limit,
            stats.container_hard_limit,
        ),
    ):
        if used is not None and used >= WARN_AT * limit:
            # At a hard limit writes fail, which a user should know before it happens.
            then = f" Writes beyond {hard} MB fail." if hard is not None else ""
            warnings.append(f"{what} uses {used} of {limit} MB.{then}")
    return stats.model_copy(update={"warnings": warnings})
