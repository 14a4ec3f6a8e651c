"""The copier: a short-lived container that copies one volume into another.

It runs the workspace's image (as the cleaner does), as root with only what copying every
owner's files and modes needs, the source mounted read-only, no network, no socket, a
read-only root, and little memory, CPU and processes. It reports the size, the files and how
many of them changed while it copied (their ctime is later than its start: a running
workspace wrote them), tells its progress as it goes, and stops a copy that grows past its
limit.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests
import requests.exceptions
from docker.types import LogConfig, Mount

from ...errors import Conflict, ManagerError
from ...settings import MIB, Settings
from . import spec as build
from .engine import remove_container
from .images import Publish
from .snapshot_records import KIND_COPIER, SNAPSHOT, TARGET

log = logging.getLogger(__name__)

COPY_TIMEOUT = 6 * 3600  # seconds a copy may take
TOO_LARGE_EXIT = 3
DISK_FULL_EXIT = 4

# $1: bytes the copy may hold at most, $2: seconds between progress reports. Prints "total
# <bytes>", then "progress <bytes>" at the start, every $2 s and at the end, and "done <bytes>
# <files> <changed>" last. The copy is cut (exit 3, "too-large <bytes>") as soon as it holds
# more than $1 (a running workspace may write while it is copied); exit 4 when the target's
# disk is full.
COPY_SCRIPT = r"""
set -u
touch /tmp/started
size=$(du -sb /source | cut -f1)
if [ "$size" -gt "$1" ]; then echo "too-large $size"; exit 3; fi
echo "total $size"
echo "progress 0"
cp -a /source/. /target/ 2>/tmp/errors &
copying=$!
while kill -0 "$copying" 2>/dev/null; do
  sleep "$2"
  held=$(du -sb /target | cut -f1)
  echo "progress $held"
  if [ "$held" -gt "$1" ]; then kill "$copying"; echo "too-large $held"; exit 3; fi
done
failed=0
wait "$copying" || failed=$(wc -l < /tmp/errors)
head -c 2000 /tmp/errors >&2
if grep -q "No space left" /tmp/errors; then exit 4; fi
changed=$(find /source -cnewer /tmp/started | wc -l)
files=$(find /target -mindepth 1 | wc -l)
size=$(du -sb /target | cut -f1)
echo "progress $size"
echo "done $size $files $((changed + failed))"
"""


@dataclass(frozen=True)
class Copied:
    size: int
    files: int
    changed: int


class Copier:
    def __init__(self, client: docker.DockerClient, settings: Settings, publish: Publish) -> None:
        self.client = client
        self.settings = settings
        self.publish = publish
        # How often a copier says how far it got (its `du` walks what it copied so far).
        self.progress_seconds = 2.0

    def copy(
        self,
        owner: str,
        source: str,
        target: str,
        image: str,
        max_bytes: int,
        snapshot_id: str = "",
        progress: tuple[str, str, str] | None = None,
    ) -> Copied:
        """Copy volume `source` into `target` in a copier; `Conflict` if the source holds
        more than `max_bytes`, `ManagerError` if the copy failed. `progress`: (owner,
        workspace id, message) of the events that tell how far it got."""
        labels = {**build.owner_labels(self.settings, KIND_COPIER, owner), TARGET: target}
        if snapshot_id:
            labels[SNAPSHOT] = snapshot_id
        copier = self.client.containers.run(
            image,
            entrypoint=[
                "/bin/sh",
                "-c",
                COPY_SCRIPT,
                "copy",
                str(max_bytes),
                f"{self.progress_seconds:g}",
            ],
            environment={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"},
            mounts=[
                Mount(target="/source", source=source, type="volume", read_only=True),
                Mount(target="/target", source=target, type="volume"),
            ],
            tmpfs={"/tmp": "size=1m"},
            read_only=True,
            network_mode="none",
            labels=labels,
            # As root whatever the image's user, with only what copying every owner's files
            # and modes needs; one CPU, little memory, processes and log.
            user="0",
            cap_drop=["ALL"],
            # (Not DAC_READ_SEARCH: with it, open_by_handle_at reaches any file of the host's
            # file system that holds the volumes, other users' volumes included.)
            cap_add=["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID"],
            security_opt=["no-new-privileges"],
            nano_cpus=10**9,
            pids_limit=64,
            mem_limit=256 * MIB,
            log_config=LogConfig(type="json-file", config={"max-size": "1m", "max-file": "1"}),
            detach=True,
        )
        try:
            if progress is not None:
                self._follow(copier, *progress)
            result = copier.wait(timeout=COPY_TIMEOUT)
            output = copier.logs(stdout=True, stderr=False).decode(errors="replace").split()
            errors = copier.logs(stdout=False, stderr=True).decode(errors="replace").strip()
        finally:
            # (With the anonymous volumes its image may declare: nothing else would remove them.)
            remove_container(self.client, copier.id, volumes=True)
        code = result.get("StatusCode")
        if code == TOO_LARGE_EXIT:
            held = int(output[-1]) if output and output[-1].isdigit() else 0
            raise Conflict(
                f"/workspace holds {held // MIB} MB, more than the {max_bytes // MIB} MB a copy "
                "may have here (SNAPSHOT_MAX_SIZE, and the new workspace's disk size)."
            )
        if code == DISK_FULL_EXIT:
            raise Conflict(
                "The files do not fit the new workspace's disk: give it a larger disk, or make "
                "room in the files copied."
            )
        if code or len(output) < 4 or output[-4] != "done":
            raise ManagerError(
                f"The files could not be copied (the copier ended with code {code}: "
                f"{errors[-300:] or 'no message'}). Nothing was kept; try again."
            )
        size, files, changed = (int(value) for value in output[-3:])
        return Copied(size=size, files=files, changed=changed)

    def _follow(self, copier: Any, owner: str, workspace_id: str, message: str) -> None:
        """Pass the copier's progress on as events, until it ends (or stops saying); one that
        takes longer than COPY_TIMEOUT is stopped."""
        total = None
        pending = b""
        deadline = time.monotonic() + COPY_TIMEOUT
        try:
            for chunk in copier.logs(stream=True, follow=True, stdout=True, stderr=False):
                if time.monotonic() > deadline:
                    copier.kill()
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    word, _, value = line.decode(errors="replace").partition(" ")
                    if word == "total" and value.isdigit():
                        total = int(value)
                    elif word == "progress" and value.isdigit():
                        self.publish(
                            owner, workspace_id, "copying", message,
                            current=int(value), total=total,
                        )  # fmt: skip
        except (requests.exceptions.RequestException, docker.errors.APIError) as exc:
            log.info("no more progress of copy %s: %s", copier.id, exc)
