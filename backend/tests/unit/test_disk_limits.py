"""Finding out an engine's hard disk limits, on a fake of the few engine calls it makes.
The real engines (with and without quotas) are in tests/docker/test_disk_hard.py."""

from __future__ import annotations

from typing import Any

import docker.errors
import pytest

from lab_workspace_manager.backends.base import DiskLimits
from lab_workspace_manager.backends.docker import disk_limits, resizing
from lab_workspace_manager.errors import Conflict
from lab_workspace_manager.models import WorkspaceStats
from lab_workspace_manager.policies.usage import with_warnings
from tests.support.settings import make_settings

REFUSED_CONTAINER = (
    "--storage-opt is supported only for overlay over xfs with 'pquota' mount option"
)
REFUSED_VOLUME = "create x: quota size requested but no quota support"


class FakeApi:
    """Answers like an engine that has (or has not) each kind of quota."""

    def __init__(self, container: bool, volume: bool, driver: str = "overlay2") -> None:
        self.container, self.volume, self.driver = container, volume, driver
        self.calls: list[str] = []
        self.volume_options: dict[str, str] | None = None

    def _refuse(self, status: int, message: str) -> None:
        response = type("Response", (), {"status_code": status, "reason": "", "url": "fake"})()
        raise docker.errors.APIError(message, response=response, explanation=message)  # type: ignore[arg-type]

    def create_host_config(self, **kwargs: Any) -> dict[str, Any]:
        return kwargs

    def create_container(self, image: str, **kwargs: Any) -> None:
        self.calls.append(f"create container {kwargs['host_config']['storage_opt']}")
        if not self.container:
            self._refuse(500, REFUSED_CONTAINER)

    def create_volume(self, name: str, **kwargs: Any) -> None:
        self.calls.append(f"create volume {kwargs['driver_opts']}")
        if not self.volume:
            self._refuse(400, REFUSED_VOLUME)

    def remove_container(self, name: str, force: bool) -> None:
        self.calls.append("remove container")

    def remove_volume(self, name: str, force: bool) -> None:
        self.calls.append("remove volume")

    def containers(self, **kwargs: Any) -> list[dict[str, Any]]:
        return []

    def volumes(self, **kwargs: Any) -> dict[str, Any]:
        return {"Volumes": []}

    def inspect_volume(self, name: str) -> dict[str, Any]:
        if self.volume_options is None:
            raise docker.errors.NotFound("no such volume")
        return {"Options": self.volume_options}


class FakeClient:
    def __init__(self, api: FakeApi) -> None:
        self.api = api

    def info(self) -> dict[str, Any]:
        return {"Driver": self.api.driver}


@pytest.mark.parametrize(
    ("container", "volume", "driver", "expected", "counts_image"),
    [
        (False, False, "overlay2", DiskLimits(), False),  # overlay2 on ext4: this machine
        (True, True, "overlay2", DiskLimits(True, True), False),  # overlay2 on XFS, pquota
        (True, False, "btrfs", DiskLimits(hard_container_size=True), True),
    ],
)
def test_each_limit_is_probed_and_every_probe_removed(
    container: bool, volume: bool, driver: str, expected: DiskLimits, counts_image: bool
) -> None:
    api = FakeApi(container, volume, driver)
    found = disk_limits.detect(FakeClient(api), make_settings())  # type: ignore[arg-type]
    assert found == (expected, counts_image)
    assert api.calls == [
        "create container {'size': '16M'}",
        *(["remove container"] if container else []),
        "create volume {'size': '16M'}",
        *(["remove volume"] if volume else []),
    ]


def test_other_engine_errors_are_not_taken_for_missing_quotas() -> None:
    api = FakeApi(container=True, volume=True)

    def missing_image(image: str, **kwargs: Any) -> None:
        api._refuse(404, "No such image: lwm-record:1")

    api.create_container = missing_image  # type: ignore[method-assign]
    with pytest.raises(docker.errors.APIError, match="No such image"):
        disk_limits.detect(FakeClient(api), make_settings())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "size"),
    [
        ({"size": "100M"}, 100),
        ({"size": "100m"}, 100),
        ({"size": "2G"}, 2048),
        ({"size": "1.5GiB"}, 1536),
        ({"size": "104857600"}, 100),
        ({"size": "10MB"}, 10),
        ({"type": "nfs"}, None),
        ({}, None),
        (None, None),
        ({"size": "lots"}, None),
    ],
)
def test_a_volumes_hard_size_is_read_from_its_options(
    options: dict[str, str] | None, size: int | None
) -> None:
    assert disk_limits.volume_size(options) == size


@pytest.mark.parametrize(
    ("options", "wanted", "allowed"),
    [
        ({"size": "100M"}, 150, False),  # the engine cannot grow it: refused, not promised
        ({"size": "100M"}, 100, True),
        ({"size": "100M"}, 80, True),  # smaller: the measured (soft) limit holds it there
        ({}, 5000, True),  # no hard limit on this volume: measured only
        (None, 5000, True),  # no volume yet
    ],
)
def test_a_hard_limited_volume_cannot_grow(
    options: dict[str, str] | None, wanted: int, allowed: bool
) -> None:
    api = FakeApi(container=False, volume=True)
    api.volume_options = options
    client, settings = FakeClient(api), make_settings()
    if allowed:
        resizing.check_volume_growth(client, settings, "alice", "abcdefghij", wanted)  # type: ignore[arg-type]
    else:
        with pytest.raises(Conflict, match="hard limit of 100 MB"):
            resizing.check_volume_growth(client, settings, "alice", "abcdefghij", wanted)  # type: ignore[arg-type]


def test_the_warning_near_a_hard_limit_says_that_writes_will_fail() -> None:
    stats = WorkspaceStats(
        cpu_limit_percent=100,
        memory_limit=1000,
        volume_used=95,
        volume_limit=100,
        volume_hard_limit=100,
        container_used=190,
        container_limit=200,
    )
    assert with_warnings(stats).warnings == [
        "/workspace uses 95 of 100 MB. Writes beyond 100 MB fail.",
        "The container's own files uses 190 of 200 MB.",  # measured only: no such promise
    ]
