"""The proxy's memory of where workspaces run: a found one for seconds, "not running" only
for a moment (a starting workspace is reached as soon as it runs)."""

from __future__ import annotations

import asyncio

import pytest

from lab_workspace_manager import locations
from lab_workspace_manager.backends.memory import InMemoryBackend
from lab_workspace_manager.locations import Locations

pytestmark = pytest.mark.anyio


class Counting(InMemoryBackend):
    def __init__(self) -> None:
        super().__init__()
        self.asked = 0
        self.where: tuple[str, str] | None = None

    async def locate(self, workspace_id: str) -> tuple[str, str] | None:
        self.asked += 1
        return self.where


async def test_not_running_is_asked_again_soon_and_running_is_remembered() -> None:
    backend = Counting()
    found = Locations(backend)
    assert await found.locate("ws1") is None
    assert await found.locate("ws1") is None
    assert backend.asked == 1  # a flood asks once per moment
    backend.where = ("alice", "10.0.0.5:8080")  # it started
    await asyncio.sleep(locations.NOT_RUNNING_SECONDS + 0.05)
    assert await found.locate("ws1") == ("alice", "10.0.0.5:8080")
    assert backend.asked == 2
    backend.where = None
    await asyncio.sleep(locations.NOT_RUNNING_SECONDS + 0.05)
    # Found: remembered for seconds (the service forgets it when it changes the workspace).
    assert await found.locate("ws1") == ("alice", "10.0.0.5:8080")
    assert backend.asked == 2
