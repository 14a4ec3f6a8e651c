"""Turn what the engine says about a workspace's container into a status and a sentence.

Pure functions: the backend gathers the facts (the record, the container's list entry, exit
details for a container that stopped on its own, whether it answers HTTP) and this decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ...models import WorkspaceStatus
from .records import Record


@dataclass(frozen=True)
class ExitInfo:
    """Why a container stopped, from `docker inspect` (gathered only for unexpected exits)."""

    exit_code: int
    oom_killed: bool
    finished_at: datetime | None
    error: str = ""
    log_tail: str = ""


def when(moment: datetime | None) -> str:
    return f" at {moment:%Y-%m-%d %H:%M} UTC" if moment else ""


def describe(
    record: Record,
    state: str | None,
    exit_info: ExitInfo | None = None,
    ready: bool = False,
    waiting_since: float | None = None,
) -> tuple[WorkspaceStatus, str]:
    """`state` is the container's engine state (`running`, `exited`, ...) or None if it has none.

    `waiting_since` is how many seconds a running container has not answered yet, if known.
    """
    memory = record.spec.compute.memory
    if state is None:
        if record.desired == "running":
            return WorkspaceStatus.STOPPED, (
                "Stopped: the workspace's container is missing (removed outside the manager). "
                "Start it to recreate it; the data in /workspace is kept."
            )
        return WorkspaceStatus.STOPPED, f"Stopped {record.reason}{when(record.changed_at)}."
    if state == "running":
        if ready:
            return WorkspaceStatus.RUNNING, "Running."
        message = "Starting: waiting for the workspace to answer on port 8080."
        if waiting_since is not None and waiting_since > 60:
            message = (
                f"Starting: the workspace has not answered for {waiting_since:.0f} s. "
                "Check its logs; large images can take a few minutes."
            )
        return WorkspaceStatus.PENDING, message
    if state == "created":
        if record.desired == "running":
            return WorkspaceStatus.PENDING, "Starting: the container is created."
        return WorkspaceStatus.STOPPED, f"Stopped {record.reason}{when(record.changed_at)}."
    if state == "restarting":
        cause = _exit_cause(exit_info, memory) if exit_info else "the workspace exited."
        return WorkspaceStatus.PENDING, f"Restarting after a crash: {cause}"
    if state == "paused":
        return WorkspaceStatus.UNKNOWN, (
            "Paused on the Docker host by an administrator; it continues when unpaused."
        )
    if state == "removing":
        return WorkspaceStatus.TERMINATING, "Being removed."
    if state == "dead":
        return WorkspaceStatus.FAILED, (
            "Failed: the Docker engine could not stop or remove the container. "
            "Delete the workspace (keeping its data) and create it again."
        )
    if state == "exited":
        if record.desired == "stopped":
            return WorkspaceStatus.STOPPED, f"Stopped {record.reason}{when(record.changed_at)}."
        if exit_info is None:
            return WorkspaceStatus.STOPPED, "Stopped: the workspace exited."
        if exit_info.oom_killed:
            return WorkspaceStatus.STOPPED, (
                f"Stopped: the workspace used more than its {memory} MB memory limit "
                f"(out of memory){when(exit_info.finished_at)}. "
                "Start it again, or give it more memory."
            )
        if exit_info.exit_code == 0:
            return WorkspaceStatus.STOPPED, (
                f"Stopped: the workspace's main process ended{when(exit_info.finished_at)}. "
                "Start it again to continue."
            )
        return WorkspaceStatus.FAILED, f"Failed: {_exit_cause(exit_info, memory)}"
    return WorkspaceStatus.UNKNOWN, f"Unknown: the engine reports the state '{state}'."


def _exit_cause(info: ExitInfo, memory: int) -> str:
    """One or two sentences, ending with the last log lines when there are any."""
    if info.oom_killed:
        return f"the workspace used more than its {memory} MB memory limit (out of memory)."
    cause = f"the workspace exited with code {info.exit_code}{when(info.finished_at)}"
    if info.error:
        cause += f" ({info.error})"
    cause += "."
    if info.log_tail.strip():
        cause += " Last log lines:\n" + info.log_tail.rstrip()
    return cause
