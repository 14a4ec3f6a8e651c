"""Per-user quotas: how many workspaces, how many running, and how much CPU, memory and disk.

CPU and memory count for workspaces that run (or are starting); disk counts for all, since a
stopped workspace keeps its volume, and for the data kept from deleted workspaces. A check
looks at the owner's other workspaces plus the one being created, started or changed, and
names the quota and what is in use.
"""

from __future__ import annotations

from .backends import WorkspaceState
from .errors import QuotaExceeded
from .models import WorkspaceSpec, WorkspaceStatus
from .settings import Settings

CONSUMING = {WorkspaceStatus.RUNNING, WorkspaceStatus.PENDING}


def quotas_apply(settings: Settings, is_admin: bool) -> bool:
    limits = (
        settings.quota_workspaces,
        settings.quota_running,
        settings.quota_cpus,
        settings.quota_memory,
        settings.quota_disk,
    )
    if is_admin and settings.quota_admins_exempt:
        return False
    return any(limit is not None for limit in limits)


def check_quotas(
    settings: Settings,
    others: list[WorkspaceState],
    candidate: WorkspaceSpec,
    candidate_runs: bool,
    kept: int = 0,
) -> None:
    """Raise `QuotaExceeded` (409) if `candidate` (running or not) next to `others` breaks a
    quota.
    `kept`: MB of data kept from deleted workspaces, which takes disk like a workspace."""
    running = [w for w in others if w.status in CONSUMING]
    if settings.quota_workspaces is not None and len(others) + 1 > settings.quota_workspaces:
        raise QuotaExceeded(
            f"Quota reached: you may have at most {settings.quota_workspaces} workspaces and "
            f"have {len(others)} ({_names(others)}). Delete one first."
        )
    if not candidate_runs:
        _check_disk(settings, others, candidate, kept)
        return
    if settings.quota_running is not None and len(running) + 1 > settings.quota_running:
        raise QuotaExceeded(
            f"Quota reached: you may run at most {settings.quota_running} workspaces at once "
            f"and {len(running)} run ({_names(running)}). Stop one first."
        )
    cpus = sum(w.spec.compute.cpus for w in running)
    if settings.quota_cpus is not None and cpus + candidate.compute.cpus > settings.quota_cpus:
        raise QuotaExceeded(
            f"Quota reached: your running workspaces may use {settings.quota_cpus:g} CPUs in "
            f"all; {cpus:g} are in use and this needs {candidate.compute.cpus:g}. Stop a "
            "workspace or ask for fewer CPUs."
        )
    memory = sum(w.spec.compute.memory for w in running)
    if (
        settings.quota_memory is not None
        and memory + candidate.compute.memory > settings.quota_memory
    ):
        raise QuotaExceeded(
            f"Quota reached: your running workspaces may use {settings.quota_memory} MB of "
            f"memory in all; {memory} MB are in use and this needs {candidate.compute.memory} "
            "MB. Stop a workspace or ask for less memory."
        )
    _check_disk(settings, others, candidate, kept)


def _names(workspaces: list[WorkspaceState]) -> str:
    return ", ".join(f"'{w.spec.display_name}'" for w in workspaces)


def _check_disk(
    settings: Settings, others: list[WorkspaceState], candidate: WorkspaceSpec, kept: int
) -> None:
    disk = sum(w.spec.compute.volume_size for w in others) + kept
    needed = candidate.compute.volume_size
    if settings.quota_disk is not None and disk + needed > settings.quota_disk:
        of_kept = (
            f" ({kept} MB of them by data kept from deleted workspaces: see Kept data)"
            if kept
            else ""
        )
        raise QuotaExceeded(
            f"Quota reached: your workspaces may use {settings.quota_disk} MB of disk in all; "
            f"{disk} MB are taken{of_kept} and this needs {needed} MB. Delete a workspace (with "
            "its data) or kept data, or ask for a smaller disk."
        )
