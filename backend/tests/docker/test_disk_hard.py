"""Hard disk limits: held by an engine that can (a private engine on btrfs with quotas, the
kind this machine's kernel supports), and not promised by one that cannot (the main engine,
overlay2 on ext4). The soft limit is tested in test_usage.py.

XFS with `pquota` (overlay2's container limit and the local driver's volume `size`) cannot be
mounted here: the test machines' kernel has no CONFIG_XFS_QUOTA, so the volume limit is not
exercised on a real engine; detection, the options and the resize rule are.
"""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from lab_workspace_manager import naming
from lab_workspace_manager.backends.base import DiskLimits
from lab_workspace_manager.backends.docker import labels as L
from lab_workspace_manager.settings import MIB
from tests.support import private_engine
from tests.support.apiclient import Api
from tests.support.docker_api import docker_api
from tests.support.engine import owned
from tests.support.images import TEST_IMAGE
from tests.support.settings import SESSION_INSTANCE

from .test_engine import container_of, run_in

pytestmark = pytest.mark.anyio

CONTAINER_SIZE = 200  # MB a workspace may write outside /workspace
QUOTA_ERRORS = ("Disk quota exceeded", "No space left on device")


@pytest.fixture(scope="module")
def btrfs_engine(
    engine: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[private_engine.PrivateEngine]:
    directory = tmp_path_factory.mktemp("btrfs")
    with private_engine.for_tests(directory, engine, (TEST_IMAGE,), "btrfs") as private:
        yield private
    # Nothing of it may outlive the tests: no mount, no loop device, no files.
    with open("/proc/self/mountinfo") as mountinfo:
        assert str(private.directory) not in mountinfo.read()
    assert str(private.directory) not in private_engine.loop_files()
    assert not private.directory.exists() and not private.socket.exists()


def inspect(client: docker.DockerClient, api: Api, workspace_id: str) -> tuple[dict, dict]:
    """(the workspace container's attributes, its volume's)"""
    container = client.api.inspect_container(
        naming.container_name(SESSION_INSTANCE, api.user, workspace_id)
    )
    volume = client.api.inspect_volume(naming.volume_name(SESSION_INSTANCE, api.user, workspace_id))
    return container, volume


async def test_an_engine_without_quotas_gets_no_hard_limits(
    api: Api, engine: docker.DockerClient
) -> None:
    assert api.backend.disk_limits == DiskLimits()
    config = (await api.client.get("/config")).json()
    assert (config["container_size_hard"], config["volume_size_hard"]) == (False, False)
    workspace = await api.create(display_name="plain", is_stopped=True)
    container, volume = inspect(engine, api, workspace["id"])
    assert not container["HostConfig"].get("StorageOpt")
    assert L.CONTAINER_SIZE not in container["Config"]["Labels"]
    assert not volume.get("Options")
    assert owned(engine, kind="probe") == {"containers": [], "volumes": [], "networks": []}


async def test_the_engine_holds_the_container_to_its_size_and_keeps_the_data(
    btrfs_engine: private_engine.PrivateEngine,
) -> None:
    client = btrfs_engine.client
    async with docker_api(docker_host=btrfs_engine.url, container_size=CONTAINER_SIZE) as api:
        assert api.backend.disk_limits == DiskLimits(hard_container_size=True)
        config = (await api.client.get("/config")).json()
        assert (config["container_size_hard"], config["volume_size_hard"]) == (True, False)

        workspace = await api.create_running(display_name="held", compute={"volume_size": 100})
        attrs, volume = inspect(client, api, workspace["id"])
        # btrfs counts the image's files in the limit: the manager adds the image's size.
        image_mb = -(-client.images.get(TEST_IMAGE).attrs["Size"] // MIB)
        assert attrs["HostConfig"]["StorageOpt"] == {"size": f"{CONTAINER_SIZE + image_mb}M"}
        assert attrs["Config"]["Labels"][L.CONTAINER_SIZE] == str(CONTAINER_SIZE)
        assert not volume.get("Options")  # no volume quotas on btrfs: measured (soft)

        container = container_of(client, api, workspace["id"])
        keep = "dd if=/dev/urandom of=/workspace/keep bs=1M count=20 status=none && "
        keep += "md5sum /workspace/keep"
        code, before = run_in(container, keep)
        assert code == 0, before
        code, output = run_in(container, "dd if=/dev/zero of=/big bs=1M count=400 status=none")
        assert code != 0 and any(e in output for e in QUOTA_ERRORS), (code, output)
        # What failed stays put (the user decides what goes); room comes back once it is gone.
        assert int(run_in(container, "du -m /big")[1].split()[0]) < CONTAINER_SIZE + 10
        assert run_in(container, "rm /big && dd if=/dev/zero of=/ok bs=1M count=50")[0] == 0

        assert run_in(container, "md5sum /workspace/keep") == (0, before)
        assert (await api.get(workspace["id"])).json()["status"] == "running"
        await api.app.state.runtime.usage.sample_disk()
        stats = (await api.client.get(api.path(workspace["id"]) + "/stats")).json()
        assert stats["container_hard_limit"] == CONTAINER_SIZE
        assert stats["volume_hard_limit"] is None
        assert 18 <= stats["volume_used"] <= 22, stats
        assert owned(client, kind="probe") == {"containers": [], "volumes": [], "networks": []}
