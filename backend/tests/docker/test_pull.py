"""Creating a workspace from an image the host does not have: a real pull from a real registry.

Debian's `docker-registry` (the CNCF distribution registry) serves on a loopback port; the Docker
engine treats 127.0.0.0/8 registries as insecure-allowed, so no TLS is needed. The image pushed
there is small (Debian slim plus a 20 MB layer of random bytes, so the download has progress).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import httpx
import pytest

from tests.support.docker_api import docker_api
from tests.support.settings import SESSION_INSTANCE

pytestmark = pytest.mark.anyio

# Answers HTTP on 8080 with perl-base (in Debian slim), so it becomes ready like a workspace.
SMALL_IMAGE = b"""FROM debian:bookworm-slim
RUN head -c 20000000 /dev/urandom > /blob
CMD ["perl", "-MIO::Socket::INET", "-e", "$s = IO::Socket::INET->new(LocalPort => 8080, \
Listen => 5, ReuseAddr => 1); while ($c = $s->accept) { <$c>; \
print $c qq(HTTP/1.0 200 OK\\r\\n\\r\\nok); close $c }"]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def registry() -> Iterator[str]:
    """A registry on a free loopback port; its address."""
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("These tests need Debian's docker-registry package (.ci/run installs it).")
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="lwm-registry-"))
    config = folder / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {folder / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        "log:\n  level: warn\n"
    )
    log = folder / "registry.log"
    with log.open("wb") as output:
        process = subprocess.Popen([binary, "serve", str(config)], stdout=output, stderr=output)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://{address}/v2/", trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the registry did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield address
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def remote_image(engine: docker.DockerClient, registry: str) -> Iterator[str]:
    """An image that is in the registry and not on the host."""
    name = f"{registry}/lwm-pull-test:{SESSION_INSTANCE}"
    image, _ = engine.images.build(
        fileobj=io.BytesIO(SMALL_IMAGE), tag=name, rm=True, labels={"lwm.test": "pull"}
    )
    for line in engine.api.push(name, stream=True, decode=True):
        assert "error" not in line, line
    engine.images.remove(image.id, force=True)
    yield name
    with contextlib.suppress(docker.errors.ImageNotFound):
        engine.images.remove(name, force=True)


def phases(text: str) -> list[dict]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


async def test_a_create_answers_at_once_and_streams_the_pull(remote_image: str) -> None:
    async with docker_api(workspace_image_pull=True, workspace_image_options=[remote_image]) as api:
        created = await api.create(display_name="pulled", container_image=remote_image)
        # The request did not wait for the pull: the workspace exists and says what it does.
        assert created["status"] == "pending"
        assert created["status_message"].startswith(f"Pulling image {remote_image}")
        listed = (await api.client.get(api.user_path("workspace"))).json()
        assert [w["id"] for w in listed] == [created["id"]]

        response = await api.client.get(
            api.path(created["id"]) + "/events", params={"timeout": 120}
        )
        events = phases(response.text)
        names = [e["phase"] for e in events]
        first_other = next(i for i, n in enumerate(names) if n != "pulling")
        assert names[0] == "pulling" and set(names[:first_other]) == {"pulling"}
        assert names[first_other:] == ["volume", "creating", "starting", "waiting", "ready"]
        # Per-layer progress of the 20 MB layer: bytes done of bytes in all, growing.
        progress = [e for e in events if e["layer"] and e["total"]]
        assert progress, names
        assert all(0 <= e["current"] <= e["total"] for e in progress)
        assert any(e["total"] > 5_000_000 for e in progress)
        assert any(e["message"].startswith("Pull complete") for e in events)

        engine = docker.from_env()
        engine.images.get(remote_image)  # it is on the host now
        assert (await api.get(created["id"])).json()["status"] == "running"
        deleted = await api.client.delete(
            api.path(created["id"]), params={"delete_volumes": "true"}
        )
        assert deleted.status_code == 204, deleted.text
        engine.close()


async def test_a_failed_pull_leaves_a_failed_workspace_to_retry_or_delete(
    registry: str, engine: docker.DockerClient
) -> None:
    missing = f"{registry}/lwm-pull-test:missing-{secrets.token_hex(3)}"
    async with docker_api(workspace_image_pull=True, workspace_image_options=[missing]) as api:
        created = await api.create(display_name="never", container_image=missing)
        assert created["status"] == "pending"
        events = phases(
            (await api.client.get(api.path(created["id"]) + "/events", params={"timeout": 60})).text
        )
        assert events[-1]["phase"] == "failed"
        assert f"Image {missing} is not available" in events[-1]["message"]
        workspace = (await api.get(created["id"])).json()
        assert workspace["status"] == "failed"
        assert "could not be pulled" in workspace["status_message"]
        assert workspace["status_message"].endswith("Start it to try again, or delete it.")
        # Nothing but the record was made: no container, no volume.
        labels = [f"lwm.workspace={created['id']}"]
        kinds = {
            c.labels["lwm.kind"]
            for c in engine.containers.list(all=True, filters={"label": labels})
        }
        assert kinds == {"record"}
        assert engine.volumes.list(filters={"label": labels}) == []
        # Retrying pulls again (synchronously) and says why it still cannot.
        retry = await api.client.post(api.path(created["id"]) + ":start")
        assert retry.status_code in (400, 503), retry.text
        assert missing in retry.json()["detail"]
        deleted = await api.client.delete(
            api.path(created["id"]), params={"delete_volumes": "true"}
        )
        assert deleted.status_code == 204, deleted.text
        assert (await api.get(created["id"])).status_code == 404


async def test_deleting_while_it_pulls_leaves_nothing(
    remote_image: str, engine: docker.DockerClient
) -> None:
    with contextlib.suppress(docker.errors.ImageNotFound):
        engine.images.remove(remote_image, force=True)
    async with docker_api(workspace_image_pull=True, workspace_image_options=[remote_image]) as api:
        created = await api.create(display_name="gone", container_image=remote_image)
        deleted = await api.client.delete(
            api.path(created["id"]), params={"delete_volumes": "true"}
        )
        assert deleted.status_code == 204, deleted.text
        # The pull goes on; once the image is here, nothing is built for the deleted workspace.
        deadline = time.monotonic() + 60
        while not engine.images.list(name=remote_image.rsplit(":", 1)[0]):
            assert time.monotonic() < deadline, "the pull never finished"
            await asyncio.sleep(0.2)
        await asyncio.sleep(1)
        labels = [f"lwm.workspace={created['id']}"]
        assert engine.containers.list(all=True, filters={"label": labels}) == []
        assert engine.volumes.list(filters={"label": labels}) == []
