"""Usage accounting on the in-memory backend, kept in both stores: SQLite in DATA_DIR and a real
PostgreSQL. Moments are given to `count` (the managers' clocks), so the sums are exact: two
managers count each second once, a restarted manager loses nothing of a workspace that kept
running, a stop loses at most the time since the last count, days split at midnight (UTC),
and the reports (by day, user and workspace; CSV) say it in hours and GB.

With real containers and measured CPU: tests/docker/test_accounting.py."""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from lab_workspace_manager import accounting as accounting_module
from lab_workspace_manager.accounting import split_by_day
from lab_workspace_manager.app import create_app
from lab_workspace_manager.backends.measurement import Measurement
from lab_workspace_manager.backends.memory import InMemoryBackend
from lab_workspace_manager.policies.usage import Sample
from tests.api.test_workspace_origins import bearer
from tests.support.apiclient import app_client
from tests.support.settings import ADMIN_TOKEN, make_settings

pytestmark = pytest.mark.anyio

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class Managers:
    """Managers of one installation over one engine (the same in-memory backend)."""

    def __init__(self, records: dict[str, Any], stack: AsyncExitStack) -> None:
        self.backend = InMemoryBackend()
        self._records = records
        self._stack = stack

    async def start(self) -> httpx.AsyncClient:
        app = create_app(make_settings(**self._records), self.backend)
        client = await self._stack.enter_async_context(app_client(app))
        # Accounting waits for the disks' first measurement (the started job's own, soon).
        await app.state.runtime.usage.sample_disk()
        return client


@pytest.fixture
async def managers(records: dict[str, Any]) -> AsyncIterator[Managers]:
    async with AsyncExitStack() as stack:
        yield Managers(records, stack)


def accounting(client: httpx.AsyncClient) -> Any:
    return client.app.state.runtime.accounting  # type: ignore[attr-defined]


async def running_workspace(client: httpx.AsyncClient, user: str, **compute: Any) -> str:
    made = await client.post(
        f"/users/{user}/workspace",
        json={"display_name": "ws-" + secrets.token_hex(3), "compute": compute},
        headers=bearer(client, user),
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def started_at(managers: Managers, workspace_id: str) -> float:
    state = next(s for s in await managers.backend.list_workspaces(None) if s.id == workspace_id)
    assert state.started_at is not None
    return state.started_at.timestamp()


async def workspace_usage(client: httpx.AsyncClient, **params: str) -> dict[str, dict]:
    got = await client.get("/usage", params={"group": "workspace", **params}, headers=ADMIN)
    assert got.status_code == 200, got.text
    return {row["workspace_id"]: row for row in got.json()["rows"]}


async def test_two_managers_count_each_second_once(managers: Managers) -> None:
    first, second = await managers.start(), await managers.start()
    workspace_id = await running_workspace(first, "alice", cpus=1.5, memory=512)
    t0 = await started_at(managers, workspace_id)

    # Both count the same minute at the same moment, then again one after the other.
    await asyncio.gather(accounting(first).count(t0 + 60), accounting(second).count(t0 + 60))
    await accounting(second).count(t0 + 120)
    await accounting(first).count(t0 + 120)

    row = (await workspace_usage(first))[workspace_id]
    assert row["owner"] == "alice"
    assert row["running_hours"] * 3600 == pytest.approx(120, abs=0.01)
    assert row["cpu_hours_reserved"] * 3600 == pytest.approx(1.5 * 120, abs=0.01)
    assert row["memory_gb_hours_reserved"] * 3600 == pytest.approx(0.5 * 120, abs=0.01)
    assert row["gpu_hours"] == 0


async def test_a_restart_loses_nothing_of_a_running_workspace(managers: Managers) -> None:
    first = await managers.start()
    workspace_id = await running_workspace(first, "alice")
    t0 = await started_at(managers, workspace_id)
    await accounting(first).count(t0 + 60)
    await first.app.state.runtime.close()  # type: ignore[attr-defined]  (its jobs and store end)

    # A new manager, ten minutes later: the workspace kept running all that time.
    restarted = await managers.start()
    await accounting(restarted).count(t0 + 660)
    row = (await workspace_usage(restarted))[workspace_id]
    assert row["running_hours"] * 3600 == pytest.approx(660, abs=0.01)


async def test_a_short_run_between_two_counts_is_counted_at_its_stop(
    managers: Managers,
) -> None:
    client = await managers.start()
    workspace_id = await running_workspace(client, "alice", cpus=1)
    t0 = await started_at(managers, workspace_id)
    await asyncio.sleep(1.5)  # (no count runs: the next is a minute away)
    stopped = await client.post(
        f"/users/alice/workspace/{workspace_id}:stop", headers=bearer(client, "alice")
    )
    assert stopped.status_code == 200
    stopped_at = time.time()
    await asyncio.gather(*accounting(client)._writing)  # (written in the background)
    await accounting(client).count(stopped_at + 60)  # stopped now: no running time added
    row = (await workspace_usage(client))[workspace_id]
    assert 1.5 <= row["running_hours"] * 3600 <= stopped_at - t0, row


async def test_measured_cpu_and_disk_are_counted_running_or_not(managers: Managers) -> None:
    client = await managers.start()
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    workspace_id = await running_workspace(client, "alice", cpus=2)
    t0 = await started_at(managers, workspace_id)
    await accounting(client).count(t0)
    # What the usage monitor measured: 150 % of a CPU, 2048 MB in /workspace.
    runtime.usage._samples[workspace_id] = Sample(
        compute=Measurement(cpu_percent=150.0, memory_used=100),
        disk=Measurement(volume_used=2048),
    )
    await accounting(client).count(t0 + 3600)
    await client.post(
        f"/users/alice/workspace/{workspace_id}:stop", headers=bearer(client, "alice")
    )
    await accounting(client).count(t0 + 3600 + 86400)  # a day stopped: disk only
    row = (
        await workspace_usage(
            client,
            since=str(date.today() - timedelta(days=1)),
            until=str(date.today() + timedelta(days=2)),
        )
    )[workspace_id]
    assert row["running_hours"] == pytest.approx(1, abs=1e-4)
    assert row["cpu_hours_used"] == pytest.approx(1.5, abs=1e-4)
    assert row["cpu_hours_reserved"] == pytest.approx(2, abs=1e-4)
    assert row["disk_gb_days"] == pytest.approx(2 * (3600 + 86400) / 86400, abs=1e-4)


async def test_days_split_at_midnight_utc_and_reports_group_and_export(
    managers: Managers, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await managers.start()
    alice_ws = await running_workspace(client, "alice")
    bob_ws = await running_workspace(client, "bob")
    t0 = max(await started_at(managers, alice_ws), await started_at(managers, bob_ws))
    await accounting(client).count(t0)
    # The next midnight, and 30 s after it.
    first_day = datetime.fromtimestamp(t0, UTC).date()
    midnight = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC) + timedelta(
        days=1
    )
    await accounting(client).count(midnight.timestamp() + 30)
    days = {"since": str(first_day), "until": str(first_day + timedelta(days=1))}

    by_day = await client.get("/usage", params={**days, "group": "day"}, headers=ADMIN)
    rows = {row["day"]: row for row in by_day.json()["rows"]}
    second = str(first_day + timedelta(days=1))
    assert rows[second]["running_hours"] * 3600 == pytest.approx(2 * 30, abs=0.01)  # two users
    total = by_day.json()["total"]["running_hours"] * 3600
    assert total == pytest.approx(2 * (midnight.timestamp() + 30 - t0), abs=0.1)

    by_user = await client.get("/usage", params={**days, "group": "user"}, headers=ADMIN)
    assert [row["owner"] for row in by_user.json()["rows"]] == ["alice", "bob"]

    # A user reads their own, not another's; administrators may narrow to one user.
    alice = bearer(client, "alice")
    own = await client.get(
        "/users/alice/usage", params={**days, "group": "workspace"}, headers=alice
    )
    assert [row["workspace_id"] for row in own.json()["rows"]] == [alice_ws]
    assert (await client.get("/users/bob/usage", headers=alice)).status_code == 403
    assert (await client.get("/usage", headers=alice)).status_code == 403
    only_bob = await client.get(
        "/usage", params={**days, "group": "workspace", "user_id": "bob"}, headers=ADMIN
    )
    assert [row["workspace_id"] for row in only_bob.json()["rows"]] == [bob_ws]

    monkeypatch.setattr(accounting_module, "CSV_BATCH", 1)  # (read a row at a time)
    exported = await client.get("/usage.csv", params=days, headers=ADMIN)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(exported.text)))
    assert {(r["day"], r["owner"]) for r in lines} == {
        (str(first_day), "alice"),
        (second, "alice"),
        (str(first_day), "bob"),
        (second, "bob"),
    }
    assert float(next(r for r in lines if r["day"] == second)["running_hours"]) == pytest.approx(
        30 / 3600, abs=1e-4
    )
    own_csv = await client.get("/users/alice/usage.csv", params=days, headers=alice)
    assert {r["owner"] for r in csv.DictReader(io.StringIO(own_csv.text))} == {"alice"}


async def test_a_bad_period_is_refused_with_what_to_do(managers: Managers) -> None:
    client = await managers.start()
    swapped = await client.get(
        "/usage", params={"since": "2026-05-02", "until": "2026-05-01"}, headers=ADMIN
    )
    assert swapped.status_code == 422 and "swap them" in swapped.json()["detail"]
    long = await client.get(
        "/usage", params={"since": "2020-01-01", "until": "2026-01-01"}, headers=ADMIN
    )
    assert long.status_code == 422 and "a year at a time" in long.json()["detail"]
    default = await client.get("/usage", headers=ADMIN)
    assert default.status_code == 200
    report = default.json()
    assert date.fromisoformat(report["until"]) - date.fromisoformat(report["since"]) == timedelta(
        days=29
    )


def test_split_by_day() -> None:
    midnight = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    assert list(split_by_day(midnight - 10, midnight + 86400 + 5)) == [
        (date(2026, 2, 28), 10.0),
        (date(2026, 3, 1), 86400.0),
        (date(2026, 3, 2), 5.0),
    ]
    assert list(split_by_day(midnight, midnight)) == []
