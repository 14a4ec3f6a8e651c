"""Downloads and uploads of /workspace through the image's nginx: streamed both ways (an
archive far larger than the API's 10 MB body limit goes up), the files unchanged."""

from __future__ import annotations

import docker

from tests.docker.test_snapshots import LIST_FILES, container_of, run
from tests.support.manager_image import Manager


def test_a_download_uploaded_again_through_nginx_keeps_every_file(
    manager: Manager, engine: docker.DockerClient
) -> None:
    user = "sam"
    token = manager.token_for(user)
    base = f"/api/users/{user}/workspace"
    with manager.client(token) as client:
        made = client.post(base, params={"wait": "true"}, json={"display_name": "original"})
        assert made.status_code == 201, made.text
        original = made.json()["id"]
        container = container_of(engine, original, manager.instance)
        run(container, "head -c 30000000 /dev/urandom > /workspace/random.bin && "
                       "mkdir /workspace/sub && echo hello > /workspace/sub/notes.txt")  # fmt: skip
        files = run(container, LIST_FILES)

        downloaded = client.get(f"{base}/{original}/archive")
        assert downloaded.status_code == 200, downloaded.text
        assert downloaded.headers["content-type"] == "application/gzip"
        assert len(downloaded.content) > 30_000_000  # (random bytes do not compress)

        uploaded = client.post(
            f"{base}:upload",
            params={"workspace": '{"display_name": "uploaded"}'},
            content=downloaded.content,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert uploaded.status_code == 201, uploaded.text
        copy = uploaded.json()["id"]
        assert run(container_of(engine, copy, manager.instance), LIST_FILES) == files

        refused = client.post(
            f"{base}:upload", params={"workspace": '{"display_name": "bad"}'},
            content=b"no archive at all",
        )  # fmt: skip
        assert refused.status_code == 422, refused.text
        for workspace_id in (original, copy):
            client.delete(f"{base}/{workspace_id}", params={"delete_volumes": "true"})
