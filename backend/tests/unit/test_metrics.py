"""The metrics' parts that no API test reaches: engine calls timed in `in_thread`, failures
seen on the events, workspaces killed for memory, the reasons of automatic stops."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests.exceptions

from lab_workspace_manager.backends import WorkspaceState
from lab_workspace_manager.backends.docker.engine import Pools, in_thread
from lab_workspace_manager.errors import (
    BackendUnavailable,
    InvalidInput,
    ManagerError,
    NotFound,
    QuotaExceeded,
    ResourceUnavailable,
)
from lab_workspace_manager.events import WorkspaceEvent
from lab_workspace_manager.metrics import Metrics, automatic_stop_reason, failure_reason
from lab_workspace_manager.models import ComputeSpec, WorkspaceSpec, WorkspaceStatus


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    assert found is not None, (name, labels)
    return found


@pytest.mark.anyio
async def test_engine_calls_are_timed_by_kind_and_failures_counted() -> None:
    metrics, pools = Metrics([]), Pools()
    pools.watch(metrics.engine_call)

    def refused() -> None:
        raise requests.exceptions.ConnectionError("no engine")

    def gone() -> None:
        import docker.errors

        raise docker.errors.NotFound("no such container")

    assert await in_thread(pools.reads, "read", lambda: 42) == 42
    with pytest.raises(BackendUnavailable):
        await in_thread(pools.changes, "start the workspace", refused)
    with pytest.raises(NotFound):  # an answer, not an engine failure
        await in_thread(pools.changes, "remove the workspace", gone)
    count = "lab_workspace_manager_engine_call_duration_seconds_count"
    assert sample(metrics, count, kind="reads") == 1
    assert sample(metrics, count, kind="changes") == 2
    assert sample(metrics, count, kind="logs") == 0
    errors = "lab_workspace_manager_engine_errors_total"
    assert sample(metrics, errors, kind="changes") == 1
    assert sample(metrics, errors, kind="reads") == 0


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (QuotaExceeded("Quota reached"), "quota"),
        (ResourceUnavailable("The image x:1 is not on this host"), "image"),
        (ResourceUnavailable("No GPUs here"), "other"),
        (BackendUnavailable("The Docker engine is not reachable"), "engine"),
        (ManagerError("The Docker engine refused to start"), "engine"),
        (InvalidInput("cpus: too many"), None),
        (RuntimeError("a bug"), "other"),
    ],
)
def test_failure_reasons(error: Exception, reason: str | None) -> None:
    assert failure_reason(error) == reason


def event(workspace_id: str, phase: str, message: str = "") -> WorkspaceEvent:
    return WorkspaceEvent(workspace_id=workspace_id, owner="alice", phase=phase, message=message)


def test_failures_without_a_change_under_way_are_counted_from_the_events() -> None:
    metrics = Metrics(["img:1"])
    failures = "lab_workspace_manager_failures_total"
    # A pull in the background that fails: the create had answered already.
    metrics.starting("w1", "img:1")
    with metrics.operation("create", "w1"):
        pass
    metrics.saw(event("w1", "pulling", "Pulling image img:1."), own=True)
    metrics.saw(event("w1", "failed", "Failed: manifest unknown"), own=True)
    assert sample(metrics, failures, reason="image") == 1
    ready = "lab_workspace_manager_time_to_ready_seconds_count"
    assert sample(metrics, ready, image="img:1", outcome="failed") == 1
    # Another manager's failure is that manager's to count.
    metrics.saw(event("w2", "failed", "Failed: the Docker engine refused"), own=False)
    assert sample(metrics, failures, reason="engine") == 0
    # A change that failed was counted as it failed: its "failed" event is not counted again.
    with pytest.raises(BackendUnavailable), metrics.operation("start", "w3"):
        raise BackendUnavailable("The Docker engine is not reachable")
    metrics.saw(event("w3", "failed", "Failed: The Docker engine is not reachable"), own=True)
    assert sample(metrics, failures, reason="engine") == 1
    ops = "lab_workspace_manager_operations_total"
    assert sample(metrics, ops, operation="start", result="failed") == 1
    assert sample(metrics, ops, operation="create", result="ok") == 1


def state(workspace_id: str, owner: str, status: WorkspaceStatus, message: str) -> WorkspaceState:
    return WorkspaceState(
        id=workspace_id,
        owner=owner,
        spec=WorkspaceSpec(
            display_name=workspace_id,
            container_image="img:1",
            compute=ComputeSpec(cpus=1, memory=100, volume_size=100),
        ),
        status=status,
        status_message=message,
        is_stopped=status is WorkspaceStatus.STOPPED,
        created_at=datetime.now(UTC),
    )


def test_listings_set_the_gauges_and_count_each_out_of_memory_episode_once() -> None:
    metrics = Metrics([])
    oom = (
        "Stopped: the workspace used more than its 100 MB memory limit (out of memory) at "
        "2026-12-02 10:00 UTC. Start it again, or give it more memory."
    )
    restarting = (
        "Restarting after a crash: the workspace used more than its 100 MB memory limit "
        "(out of memory)."
    )
    running = state("w2", "alice", WorkspaceStatus.RUNNING, "Running.")
    metrics.listed([state("w1", "alice", WorkspaceStatus.STOPPED, oom)])
    failures = "lab_workspace_manager_failures_total"
    # What was out of memory before the first listing is not counted.
    assert sample(metrics, failures, reason="oom") == 0
    listing = [
        state("w1", "alice", WorkspaceStatus.STOPPED, oom),
        running,
        state("w3", "alice", WorkspaceStatus.RUNNING, "Running."),
        state("w4", "bob", WorkspaceStatus.RUNNING, "Running."),
        state("w5", "carol", WorkspaceStatus.PENDING, "Starting."),
    ]
    metrics.listed(listing)
    gauge = "lab_workspace_manager_workspaces"
    assert sample(metrics, gauge, status="running") == 3
    assert sample(metrics, gauge, status="stopped") == 1
    assert sample(metrics, gauge, status="pending") == 1
    assert sample(metrics, gauge, status="failed") == 0
    assert sample(metrics, "lab_workspace_manager_users_with_running_workspaces") == 2
    # w2 is killed: restarted by the engine, killed again, then stopped: one episode.
    for message in (restarting, restarting, oom):
        listing[1] = state("w2", "alice", WorkspaceStatus.PENDING, message)
        metrics.listed(listing)
    assert sample(metrics, failures, reason="oom") == 1
    # Started again, and killed again: counted again.
    listing[1] = running
    metrics.listed(listing)
    listing[1] = state("w2", "alice", WorkspaceStatus.STOPPED, oom.replace("10:00", "11:00"))
    metrics.listed(listing)
    assert sample(metrics, failures, reason="oom") == 2


@pytest.mark.parametrize(
    ("policy", "reason", "counted_as"),
    [
        ("idle", "after 30 min without activity", "idle"),
        ("idle", "after reaching the maximum running time of 8 h", "lifetime"),
        ("disk", "as /workspace holds more than its 100 MB", "disk"),
        ("schedule", "on its schedule at 20:00 (UTC)", "schedule"),
    ],
)
def test_automatic_stop_reasons(policy: str, reason: str, counted_as: str) -> None:
    assert automatic_stop_reason(policy, reason) == counted_as


def test_without_a_listing_of_everyone_there_are_no_workspace_gauges() -> None:
    """The ML Lab backend cannot list every user's workspaces: none, rather than zeros."""
    text = Metrics([], lists_workspaces=False).render().decode()
    assert "lab_workspace_manager_workspaces" not in text
    assert "lab_workspace_manager_users_with_running_workspaces" not in text
    assert "lab_workspace_manager_operations_total" in text
    assert "lab_workspace_manager_workspaces{" in Metrics([]).render().decode()
