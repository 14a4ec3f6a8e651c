"""Usage accounting with real containers: the CPU a busy workspace was measured to use and the
disk it holds are counted by the managers' own periodic jobs, and a manager that is stopped
and started again (the workspace running all the while) loses none of its time."""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import docker
import pytest

from lab_workspace_manager.app import create_app
from lab_workspace_manager.backends.docker.backend import DockerBackend
from tests.support.apiclient import Api, running
from tests.support.settings import ADMIN_TOKEN, make_settings

from .test_engine import container_of, run_in

pytestmark = pytest.mark.anyio

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
INTERVALS = {"accounting_interval": 1, "usage_interval": 1, "disk_usage_interval": 1}


async def usage_of(client: object, workspace_id: str) -> dict:
    today = datetime.now(UTC).date()
    got = await client.get(  # type: ignore[attr-defined]
        "/usage",
        params={"group": "workspace", "since": str(today - timedelta(days=1)), "until": str(today)},
        headers=ADMIN,
    )
    assert got.status_code == 200, got.text
    rows = {row["workspace_id"]: row for row in got.json()["rows"]}
    return dict(rows[workspace_id])


async def test_measured_cpu_and_disk_are_counted_and_a_restart_loses_nothing(
    engine: docker.DockerClient, tmp_path: Path
) -> None:
    settings = make_settings(workspace_backend="docker", data_dir=tmp_path, **INTERVALS)
    user = "acct-" + secrets.token_hex(3)
    backend = DockerBackend(settings)
    async with running(create_app(settings, backend)) as app:
        first = Api(app, backend, settings, user=user)
        workspace = await first.create_running(
            display_name="busy", compute={"cpus": 0.5, "memory": 256}
        )
        workspace_id = workspace["id"]
        container = container_of(engine, first, workspace_id)
        container.exec_run(["python3", "-c", "while True: pass"], detach=True)
        assert run_in(container, "dd if=/dev/zero of=/workspace/d bs=1M count=40")[0] == 0
        await asyncio.sleep(6)  # measured and counted, every second
        await first.aclose()
    await backend.close()
    started = datetime.fromisoformat(
        container.attrs["State"]["StartedAt"][:26].rstrip("Z") + "+00:00"
    ).timestamp()

    await asyncio.sleep(4)  # no manager runs; the workspace does
    backend = DockerBackend(settings)
    async with running(create_app(settings, backend)) as app:
        second = Api(app, backend, settings, user=user)
        try:
            await asyncio.sleep(3)
            counted_until = time.time()
            row = await usage_of(second.client, workspace_id)
            # All its time since it started, across the 4 s without a manager (within the 1 s
            # of counting, and the second between the engine's start and the manager's).
            running_s = row["running_hours"] * 3600
            assert counted_until - started - 2.5 <= running_s <= counted_until - started + 1.5, row
            assert row["cpu_hours_reserved"] == pytest.approx(row["running_hours"] * 0.5, rel=1e-6)
            assert row["memory_gb_hours_reserved"] == pytest.approx(
                row["running_hours"] * 0.25, rel=1e-6
            )
            # Held to half a CPU while it was measured (it was not measured without a manager
            # and in its first seconds).
            used = row["cpu_hours_used"] / row["running_hours"]
            assert 0.2 <= used <= 0.55, row
            # 40 MB, from its first disk measurement on (`docker system df`, which takes the
            # engine seconds, one at a time), in GB-days: never more than its whole life's.
            disk_gb_s = row["disk_gb_days"] * 86400
            assert 0 < disk_gb_s <= 41 / 1024 * running_s, row
        finally:  # (its user's network goes too: later tests join every user network)
            gone = await second.client.delete(
                second.path(workspace_id), params={"delete_volumes": "true"}
            )
            assert gone.status_code == 204, gone.text
            await backend.reconcile()
            await second.aclose()
            await backend.close()
