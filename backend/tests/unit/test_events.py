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


def test_a_user_has_a_bounded_number_of_streams_given_back_when_they_end() -> None:
    bus = EventBus()
    slots = [bus.open_stream("alice") for _ in range(events.STREAMS_PER_USER)]
    with pytest.raises(events.TooManyRequests, match="event streams of yours are open"):
        bus.open_stream("alice")
    bus.open_stream("bob").release()  # another user's are their own
    slots.pop().release()
    slots.append(bus.open_stream("alice"))
    # A stream whose response was never sent is dropped without being closed: its slot
    # comes back all the same.
    slots.pop()
    slots.append(bus.open_stream("alice"))
    for slot in slots:
        slot.release()
        slot.release()  # twice is once
    assert bus._streams == {}


def test_histories_of_many_workspaces_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "HISTORIES", 3)
    bus = EventBus()
    for n in range(5):
        bus._deliver(WorkspaceEvent(workspace_id=f"w{n}", owner="a", phase="failed", message=""))
    assert [bus.history(f"w{n}") != [] for n in range(5)] == [False, False, True, True, True]
