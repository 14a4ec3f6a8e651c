"""How the Swarm backend answers the proxy's "where does this workspace run?": from one
shared look at the swarm, so that a flood of made-up ids cannot make it ask the swarm for
each (an engine double stands in for the swarm here; tests/swarm has the real one)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from lab_workspace_manager import naming
from lab_workspace_manager.backends.swarm import backend as swarm
from lab_workspace_manager.backends.swarm.backend import SwarmBackend
from lab_workspace_manager.backends.swarm.spec import Record
from lab_workspace_manager.models import WorkspaceSpec
from tests.support.settings import make_settings

pytestmark = pytest.mark.anyio

SETTINGS = make_settings(workspace_backend="swarm")
SPEC = WorkspaceSpec.model_validate(
    {
        "display_name": "w",
        "container_image": "img:1",
        "compute": {"cpus": 1, "memory": 256, "volume_size": 500},
    }
)


class SwarmDouble:
    """The two calls `locate` makes, counted."""

    def __init__(self) -> None:
        self.looks = 0
        record = Record.new("alice", "wsalice01", SPEC, True)
        self.service = {"ID": "svc1", "Spec": {"Labels": record.to_labels(SETTINGS.instance_id)}}
        network = naming.network_name(SETTINGS.instance_id, "alice")
        self.task = {
            "ServiceID": "svc1",
            "DesiredState": "running",
            "Status": {"State": "running"},
            "NetworksAttachments": [
                {"Network": {"Spec": {"Name": network}}, "Addresses": ["10.232.1.7/24"]}
            ],
        }

    def services(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        self.looks += 1
        return [self.service]

    def tasks(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        assert filters == {"desired-state": "running"}
        return [self.task]


async def test_one_look_answers_every_lookup_for_a_moment() -> None:
    double = SwarmDouble()
    backend = SwarmBackend(SETTINGS, client=SimpleNamespace(api=double, close=lambda: None))
    try:
        found = await asyncio.gather(*(backend.locate(f"made{i:05d}up") for i in range(50)))
        assert found == [None] * 50
        assert double.looks == 1  # fifty made-up ids at once: one look
        assert await backend.locate("wsalice01") == ("alice", "10.232.1.7:8080")
        assert double.looks == 1
        await asyncio.sleep(swarm.LOCATE_SECONDS + 0.05)
        assert await backend.locate("wsalice01") == ("alice", "10.232.1.7:8080")
        assert double.looks == 1  # a running one is known: not looked for again yet
        assert await backend.locate("madeup0001") is None
        assert double.looks == 2  # an unknown one, after a moment: looked for again
    finally:
        await backend.readiness.close()
