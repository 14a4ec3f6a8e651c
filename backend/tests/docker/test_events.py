"""The progress of a workspace as server-sent events, on the real engine."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.support.apiclient import Api

pytestmark = pytest.mark.anyio


def phases(text: str) -> list[dict]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


async def test_a_workspace_s_phases_arrive_in_order_until_ready(api: Api) -> None:
    created = await api.create(display_name="watched")
    response = await api.client.get(api.path(created["id"]) + "/events", params={"timeout": 60})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = phases(response.text)
    assert [e["phase"] for e in events] == ["volume", "creating", "starting", "waiting", "ready"]
    assert all(e["workspace_id"] == created["id"] for e in events)
    assert (await api.get(created["id"])).json()["status"] == "running"
    # Nothing going on: one event with the state it is in, and the stream ends.
    again = phases((await api.client.get(api.path(created["id"]) + "/events")).text)
    assert [e["phase"] for e in again][-1] == "ready"


async def test_following_a_user_shows_a_create_as_it_happens(api: Api) -> None:
    follow = asyncio.create_task(api.client.get(api.user_path("events"), params={"timeout": 15}))
    await asyncio.sleep(0.3)
    created = await api.create(display_name="live")
    # (A workspace stopped while it starts may take the full 10 s stop timeout.)
    stopped = await api.client.post(api.path(created["id"]) + ":stop")
    assert stopped.status_code == 200
    events = phases((await follow).text)
    seen = [e["phase"] for e in events if e["workspace_id"] == created["id"]]
    assert seen[:4] == ["volume", "creating", "starting", "waiting"]
    assert seen[-1] == "stopped"


async def test_a_failed_create_says_why(open_api: object) -> None:
    missing = "lwm-test-missing:latest"
    async with open_api(workspace_image_options=[missing]) as api:  # type: ignore[operator]
        follow = asyncio.create_task(api.client.get(api.user_path("events"), params={"timeout": 3}))
        await asyncio.sleep(0.3)
        await api.create(expect=400, display_name="x", container_image=missing)
        events = phases((await follow).text)
        assert events[-1]["phase"] == "failed"
        assert f"Image {missing} is not available on this host" in events[-1]["message"]


async def test_a_user_may_follow_with_a_bounded_number_of_streams(api: Api) -> None:
    from lab_workspace_manager.events import STREAMS_PER_USER

    following = [
        asyncio.create_task(api.client.get(api.user_path("events"), params={"timeout": 3}))
        for _ in range(STREAMS_PER_USER)
    ]
    await asyncio.sleep(1)
    refused = await api.client.get(api.user_path("events"), params={"timeout": 1})
    assert refused.status_code == 429, refused.text
    assert "Close other tabs" in refused.json()["detail"]
    assert refused.headers["Retry-After"]
    # Another user is not affected.
    other = api.as_user()
    assert (await other.client.get(other.user_path("events"), params={"timeout": 1})).is_success
    assert all(r.status_code == 200 for r in await asyncio.gather(*following))
    again = await api.client.get(api.user_path("events"), params={"timeout": 1})
    assert again.status_code == 200
