"""How engine facts become a status and a sentence."""

from datetime import UTC, datetime

import pytest

from lab_workspace_manager.backends.docker.records import Record
from lab_workspace_manager.backends.docker.status import ExitInfo, describe
from lab_workspace_manager.models import ComputeSpec, WorkspaceSpec, WorkspaceStatus

T = datetime(2026, 11, 23, 14, 2, tzinfo=UTC)
SPEC = WorkspaceSpec(
    display_name="w",
    container_image="img:1",
    compute=ComputeSpec(cpus=1, memory=1000, volume_size=500),
)


def record(desired: str = "running", reason: str = "") -> Record:
    return Record("alice", "abcdefghij", 1, SPEC, desired, reason, T, T)  # type: ignore[arg-type]


def test_record_labels_round_trip() -> None:
    original = record("stopped", "by its user")
    assert Record.from_labels(original.to_labels("lwm")) == original


def test_running_means_answering() -> None:
    assert describe(record(), "running", ready=True) == (WorkspaceStatus.RUNNING, "Running.")
    status, message = describe(record(), "running", ready=False, waiting_since=2)
    assert status is WorkspaceStatus.PENDING
    assert "waiting for the workspace to answer" in message
    _, slow = describe(record(), "running", ready=False, waiting_since=120)
    assert "has not answered for 120 s" in slow


def test_out_of_memory_is_named() -> None:
    info = ExitInfo(exit_code=137, oom_killed=True, finished_at=T)
    assert describe(record(), "exited", info) == (
        WorkspaceStatus.STOPPED,
        "Stopped: the workspace used more than its 1000 MB memory limit (out of memory) "
        "at 2026-11-23 14:02 UTC. Start it again, or give it more memory.",
    )


def test_a_crash_shows_the_code_and_last_lines() -> None:
    info = ExitInfo(exit_code=3, oom_killed=False, finished_at=T, log_tail="boom\n")
    status, message = describe(record(), "exited", info)
    assert status is WorkspaceStatus.FAILED
    assert message == (
        "Failed: the workspace exited with code 3 at 2026-11-23 14:02 UTC. Last log lines:\nboom"
    )


def test_a_stop_the_user_asked_for_says_so() -> None:
    status, message = describe(record("stopped", "by its user"), "exited")
    assert (status, message) == (
        WorkspaceStatus.STOPPED,
        "Stopped by its user at 2026-11-23 14:02 UTC.",
    )


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (None, WorkspaceStatus.STOPPED),
        ("created", WorkspaceStatus.PENDING),
        ("restarting", WorkspaceStatus.PENDING),
        ("paused", WorkspaceStatus.UNKNOWN),
        ("removing", WorkspaceStatus.TERMINATING),
        ("dead", WorkspaceStatus.FAILED),
        ("weird", WorkspaceStatus.UNKNOWN),
    ],
)
def test_every_engine_state_maps_to_a_status(state: str | None, expected: WorkspaceStatus) -> None:
    status, message = describe(record(), state)
    assert status is expected
    assert message
