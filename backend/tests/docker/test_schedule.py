"""A schedule starts and stops a workspace on the real engine (the schedules' clock injected:
no waits for the times themselves), and the workspace's files are still there after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import docker
import pytest

from lab_workspace_manager.app import create_app
from lab_workspace_manager.backends.docker.backend import DockerBackend
from lab_workspace_manager.runtime import Runtime
from tests.support.apiclient import Api, eventually, running
from tests.support.settings import make_settings

from .test_engine import container_of, run_in

pytestmark = pytest.mark.anyio

# A Saturday, 06:58 in Tokyo.
SATURDAY = datetime(2026, 12, 4, 21, 58, tzinfo=UTC)
WEEKEND = {"timezone": "Asia/Tokyo", "days": ["sat", "sun"], "start": "07:00", "stop": "19:00"}


async def test_a_schedule_starts_and_stops_a_real_workspace(engine: docker.DockerClient) -> None:
    settings = make_settings(workspace_backend="docker")
    backend = DockerBackend(settings)
    app = create_app(settings, backend)
    runtime: Runtime = app.state.runtime
    now = SATURDAY
    runtime.schedules.clock = lambda: now  # before it opens: its own checks see it too
    try:
        async with running(app):
            api = Api(app, backend, settings)
            try:
                made = await api.create(display_name="weekend", is_stopped=True, schedule=WEEKEND)
                assert made["starts_at"] == "2026-12-04T22:00:00Z"

                now = SATURDAY + timedelta(minutes=3)  # 07:01
                await runtime.check_schedules()
                running_now = await eventually(api, made["id"], lambda w: w["status"] == "running")
                assert running_now["stops_at"] == "2026-12-05T10:00:00Z"  # 19:00 in Tokyo
                container = container_of(engine, api, made["id"])
                assert container.status == "running"
                assert run_in(container, "echo kept > /workspace/notes.txt")[0] == 0

                now = SATURDAY + timedelta(hours=12, minutes=3)  # 19:01
                await runtime.check_schedules()
                stopped = await eventually(api, made["id"], lambda w: w["status"] == "stopped")
                assert "on its schedule at 19:00 (Asia/Tokyo)" in stopped["status_message"]
                container.reload()
                assert container.status == "exited"

                now = SATURDAY + timedelta(days=1, minutes=3)  # Sunday 07:01: again
                await runtime.check_schedules()
                await eventually(api, made["id"], lambda w: w["status"] == "running")
                container = container_of(engine, api, made["id"])
                assert run_in(container, "cat /workspace/notes.txt") == (0, "kept\n")
            finally:
                await api.delete_all()
                await api.aclose()
    finally:
        await backend.close()
