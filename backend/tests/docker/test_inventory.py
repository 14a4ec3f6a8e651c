"""Reads use the engine's container list as last listed; a thread lists again when the engine
reports a change (real engine)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from lab_workspace_manager.backends.docker.backend import DockerBackend
from tests.support.settings import make_settings

pytestmark = pytest.mark.anyio


class CountingLists:
    """Counts the engine's container list calls the backend makes."""

    def __init__(self, backend: DockerBackend) -> None:
        self.calls = 0
        original = backend.client.api.containers

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return original(*args, **kwargs)

        backend.client.api.containers = counted  # type: ignore[method-assign]


@pytest.fixture
async def backend(engine: docker.DockerClient) -> Iterator[DockerBackend]:
    opened = DockerBackend(make_settings(workspace_backend="docker"))
    await opened.open()
    yield opened  # type: ignore[misc]
    await opened.close()


async def wait_listening(backend: DockerBackend) -> None:
    deadline = time.monotonic() + 10
    while not backend.inventory._listening:
        assert time.monotonic() < deadline, "never subscribed to the engine's events"
        await asyncio.sleep(0.05)


async def test_reads_without_changes_ask_the_engine_once(backend: DockerBackend) -> None:
    from lab_workspace_manager.models import ComputeSpec, WorkspaceSpec

    await wait_listening(backend)
    spec = WorkspaceSpec(
        display_name="remembered",
        container_image="lwm-test-workspace:latest",
        compute=ComputeSpec(cpus=0.5, memory=256, volume_size=100),
    )
    await backend.create("inv-user", "invws1", spec, start=False)
    # The create's caller reads its own write at once, events or not.
    assert [w.id for w in await backend.list_workspaces("inv-user")] == ["invws1"]
    await asyncio.sleep(0.5)  # the create's own events arrive, and are listed once
    counter = CountingLists(backend)
    for _ in range(20):
        listed = await backend.list_workspaces("inv-user")
        assert [w.id for w in listed] == ["invws1"]
    # No read listed; at most the background thread did, as a list grows old.
    assert counter.calls <= 1

    # A change made outside the manager is seen by the next read (its event arrives).
    engine = backend.client
    name = next(
        c.name
        for c in engine.containers.list(all=True, filters={"label": "lwm.workspace=invws1"})
        if c.labels["lwm.kind"] == "workspace"
    )
    engine.containers.get(name).remove(force=True)
    deadline = time.monotonic() + 5
    while backend.observer.observe("inv-user", "invws1")[0].container is not None:
        assert time.monotonic() < deadline, "the removal was never seen"
        await asyncio.sleep(0.05)
    await backend.delete("inv-user", "invws1", delete_volume=True)
    assert await backend.list_workspaces("inv-user") == []


async def test_without_the_event_stream_every_read_asks_the_engine(
    backend: DockerBackend,
) -> None:
    await wait_listening(backend)
    backend.inventory.close()
    deadline = time.monotonic() + 10
    while backend.inventory._listening:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    counter = CountingLists(backend)
    for _ in range(3):
        await backend.list_workspaces("inv-nobody")
    assert counter.calls == 3


async def test_reads_do_not_wait_for_a_slow_listing(backend: DockerBackend) -> None:
    """While the engine takes long to list (1,000s of containers, others creating and
    deleting), reads answer from the last list and see the change once it is listed."""
    from lab_workspace_manager.models import ComputeSpec, WorkspaceSpec

    await wait_listening(backend)
    spec = WorkspaceSpec(
        display_name="slow",
        container_image="lwm-test-workspace:latest",
        compute=ComputeSpec(cpus=0.5, memory=256, volume_size=100),
    )
    await backend.create("inv-slow", "invslow1", spec, start=False)
    original = backend.client.api.containers

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1.5)
        return original(*args, **kwargs)

    backend.client.api.containers = slow  # type: ignore[method-assign]
    try:
        # Another user's change, made outside this manager: the engine reports it.
        engine = backend.client
        record = next(
            c
            for c in engine.containers.list(all=True, filters={"label": "lwm.workspace=invslow1"})
            if c.labels["lwm.kind"] == "record"
        )
        record.remove(force=True)
        await asyncio.sleep(0.3)  # its event has arrived; the list is under way
        slowest = 0.0
        for _ in range(10):
            began = time.monotonic()
            listed = await backend.list_workspaces("inv-slow")
            slowest = max(slowest, time.monotonic() - began)
            await asyncio.sleep(0.05)
        assert slowest < 0.5, f"a read waited {slowest:.2f} s for the engine's list"
        deadline = time.monotonic() + 10
        while listed:
            assert time.monotonic() < deadline, "the change was never listed"
            await asyncio.sleep(0.1)
            listed = await backend.list_workspaces("inv-slow")
    finally:
        backend.client.api.containers = original  # type: ignore[method-assign]
        await backend.delete("inv-slow", "invslow1", delete_volume=True)
