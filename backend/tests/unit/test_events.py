"""The event bus keeps what waits for one reader bounded (issue 13: an unbounded queue per
stream let one slow or stalled reader hold every event in memory)."""

from __future__ import annotations

import asyncio

import pytest

from lab_workspace_manager import events
from lab_workspace_manager.events import EventBus, WorkspaceEvent

pytestmark = pytest.mark.anyio


async def test_a_reader_that_does_not_keep_up_misses_the_oldest_not_the_newest() -> None:
    bus = EventBus()
    bus.bind(asyncio.get_running_loop())
    stalled = bus.subscribe("owner:alice")
    for number in range(events.QUEUE + 100):
        bus.publish(
            WorkspaceEvent(workspace_id="w1", owner="alice", phase="waiting", message=str(number))
        )
    await asyncio.sleep(0.05)  # deliveries go through the loop
    assert stalled.qsize() == events.QUEUE
    assert stalled.get_nowait().message == "100"
    assert list(stalled._queue)[-1].message == str(events.QUEUE + 99)  # type: ignore[attr-defined]
    bus.unsubscribe("owner:alice", stalled)
    assert "owner:alice" not in bus._subscribers
