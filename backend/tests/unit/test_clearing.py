"""A stop of the disk limit says what happened to /workspace (policies/clearing.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lab_workspace_manager.backends import WorkspaceState
from lab_workspace_manager.backends.measurement import Measurement
from lab_workspace_manager.models import ComputeSpec, WorkspaceSpec, WorkspaceStatus
from lab_workspace_manager.policies.usage import Sample, UsageMonitor
from tests.support.settings import make_settings


def over_the_limit(clear: bool, always: bool) -> str | None:
    monitor = UsageMonitor(
        make_settings(always_clear_volume_on_stop=always), backend=None, stop=None
    )  # type: ignore[arg-type]
    now = datetime.now(UTC)
    state = WorkspaceState(
        id="full000001",
        owner="alice",
        spec=WorkspaceSpec(
            display_name="full",
            container_image="x:1",
            compute=ComputeSpec(cpus=1, memory=100, volume_size=100),
            clear_volume_on_stop=clear,
        ),
        status=WorkspaceStatus.RUNNING,
        status_message="Running.",
        is_stopped=False,
        created_at=now - timedelta(hours=1),
        started_at=now - timedelta(hours=1),
    )
    monitor._samples[state.id] = Sample(disk=Measurement(volume_used=150), disk_measured_at=now)
    return monitor._over_limit(state, now)


@pytest.mark.parametrize(("clear", "always"), [(True, False), (False, True)])
def test_a_disk_stop_that_empties_workspace_says_so(clear: bool, always: bool) -> None:
    """Regression (issue 13): it said "nothing was deleted" while it emptied the volume."""
    reason = over_the_limit(clear, always)
    assert reason and "/workspace was emptied on stopping" in reason
    assert "nothing was deleted" not in reason


def test_a_disk_stop_that_keeps_the_data_says_so() -> None:
    reason = over_the_limit(False, False)
    assert reason and "held 150 MB, more than its 100 MB limit (nothing was deleted)" in reason
