"""Copies of a workspace's /workspace on the engine: downloads, snapshots, restores, clones.

Nothing of a copy passes through the manager but a download's stream:
  - a download is the engine's tar of the volume (`GET /containers/{id}/archive`), read from an
    *archiver*: a container of the empty record image that is never started, with the volume
    mounted read-only. No process of the workspace's (nor any other) runs in it; the engine
    makes the tar chrooted into it, so links in the volume cannot lead out of it;
  - a copy between volumes runs in a *copier*: a short-lived container of the workspace's
    image (as the cleaner), with the source mounted read-only, no network, no socket, every
    capability dropped but those copying as root needs, a read-only root, and little memory,
    CPU and processes. It reports the size, the files and how many of them changed while it
    copied (their ctime is later than its start: a running workspace wrote them).

A snapshot is a volume (kind `snapshot-data`) and, written last, its record: a never-started
container (kind `snapshot`) whose labels say whose it is, of which workspace, its name, size
and when. Only a snapshot with its record exists; a volume without one is half-made (a copy
cut short by a manager's end) and is removed by `sweep` once no copier works on it. A
workspace filled from a seed (restore, clone) is complete once its container exists: one with
a seeded volume, its first record and no container, and no copier at work, is undone by
`sweep` (through the backend, while no other change of it runs).
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import docker
import docker.errors
import requests
import requests.exceptions
from docker.types import Mount

from ... import naming
from ...archives import Body, Counted, Pipe, ReaderGone, check_and_copy
from ...errors import Conflict, ManagerError, NotFound
from ...models import WorkspaceSpec
from ...settings import MIB, Settings
from ..base import Seed, SnapshotState
from . import labels as L
from . import spec as build
from .copier import Copier
from .engine import remove_container
from .facts import KnownFacts
from .images import Images, Publish
from .observer import Observer
from .snapshot_records import (
    KIND_ARCHIVER,
    KIND_COPIER,
    KIND_SNAPSHOT,
    KIND_SNAPSHOT_DATA,
    PROCESS,
    SEEDED,
    SNAPSHOT,
    TARGET,
    UPLOAD,
    snapshot_labels,
    snapshot_of,
    snapshot_volume_name,
)

log = logging.getLogger(__name__)


# An archiver of no download of this process is left alone this long (another manager may be
# reading it), then removed: a manager that ended mid-download left it.
ARCHIVER_MAX_AGE = timedelta(hours=6)
# A snapshot volume with no record is left alone this long (its copier may have just ended,
# and its record be about to be written, by another manager), then removed as half-made.
RECORD_GRACE = timedelta(minutes=10)
READ_CHUNK = 1024 * 1024  # bytes of a download read at a time
# A copier is started right after it is made: one never started after this long is left over.
COPIER_START = timedelta(minutes=2)


@dataclass(frozen=True)
class Reading:
    """A download under way: its archiver, and the engine's response streaming the tar."""

    helper: str
    response: requests.Response
    chunks: Iterator[bytes]


class Copies:
    def __init__(
        self,
        client: docker.DockerClient,
        settings: Settings,
        observer: Observer,
        images: Images,
        facts: KnownFacts,
        publish: Publish,
    ) -> None:
        self.client = client
        self.settings = settings
        self.observer = observer
        self.images = images
        self.facts = facts
        self.publish = publish
        self.process = secrets.token_hex(6)
        self.copier = Copier(client, settings, publish)
        # Archivers and snapshot volumes this process is working with: never swept.
        self.active: set[str] = set()

    def _labels(self, kind: str, owner: str, **more: str) -> dict[str, str]:
        return {**build.owner_labels(self.settings, kind, owner), **more}

    # --- downloads ------------------------------------------------------------------------------
    def open_archive(self, owner: str, workspace_id: str) -> Reading:
        """The tar stream of the workspace's /workspace, from a new archiver. Close it with
        `close_archive`."""
        self.observer.current(owner, workspace_id)  # NotFound if it is not theirs
        volume = self._existing_volume(owner, workspace_id)
        self.images.ensure_record_image()
        helper = self.client.api.create_container(
            build.RECORD_IMAGE,
            command=["archive"],
            labels=self._labels(KIND_ARCHIVER, owner, **{PROCESS: self.process}),
            network_disabled=True,
            host_config=self.client.api.create_host_config(
                mounts=[Mount("/workspace", volume, type="volume", read_only=True)],
                network_mode="none",
            ),
        )
        self.active.add(helper["Id"])
        try:
            # (The SDK's `get_archive` hides its response, which must be closed to end a
            # download early: until then the engine, blocked writing it, holds the archiver's
            # lock, and removing it or listing containers waits.)
            api = self.client.api
            response = api.get(
                api._url("/containers/{0}/archive", helper["Id"]),
                params={"path": "/workspace/."},
                stream=True,
            )
            api._raise_for_status(response)
        except BaseException:
            self._remove_archiver(helper["Id"])
            raise
        return Reading(helper["Id"], response, response.iter_content(READ_CHUNK))

    def close_archive(self, reading: Reading) -> None:
        reading.response.close()
        self._remove_archiver(reading.helper)

    def _remove_archiver(self, helper: str) -> None:
        try:
            remove_container(self.client, helper)
        finally:
            self.active.discard(helper)

    def _existing_volume(self, owner: str, workspace_id: str) -> str:
        """The workspace's volume (mounting a missing one would make it, unlabelled)."""
        volume = naming.volume_name(self.settings.instance_id, owner, workspace_id)
        try:
            self.client.api.inspect_volume(volume)
        except docker.errors.NotFound:
            raise Conflict(
                "The workspace has no /workspace yet (it is still being created): try again "
                "once it has started."
            ) from None
        return volume

    # --- snapshots ------------------------------------------------------------------------------
    def snapshots(self, owner: str | None) -> list[SnapshotState]:
        """The complete ones: those with a record."""
        wanted = L.selector(self.settings.instance_id, KIND_SNAPSHOT, owner)
        found = [
            snapshot_of(summary["Labels"])
            for summary in self.client.api.containers(all=True, filters={"label": wanted})
        ]
        return sorted(found, key=lambda s: s.created_at)

    def _snapshot_record(self, owner: str, snapshot_id: str) -> dict[str, Any]:
        wanted = [
            *L.selector(self.settings.instance_id, KIND_SNAPSHOT, owner),
            f"{SNAPSHOT}={snapshot_id}",
        ]
        found = self.client.api.containers(all=True, filters={"label": wanted})
        if not found:
            raise NotFound(f"You have no snapshot '{snapshot_id}'.")
        summary: dict[str, Any] = found[0]
        return summary

    def take(
        self, owner: str, workspace_id: str, snapshot_id: str, name: str, max_bytes: int
    ) -> SnapshotState:
        record = self.observer.current(owner, workspace_id).record()
        source = self._existing_volume(owner, workspace_id)
        target = snapshot_volume_name(self.settings.instance_id, owner, snapshot_id)
        self.active.add(target)
        try:
            self.client.volumes.create(
                name=target,
                driver="local",
                labels=self._labels(KIND_SNAPSHOT_DATA, owner, **{SNAPSHOT: snapshot_id}),
            )
            try:
                message = f"Taking snapshot '{name}'."
                self.publish(owner, workspace_id, "copying", message)
                copied = self.copier.copy(
                    owner, source, target, record.spec.container_image, max_bytes, snapshot_id,
                    progress=(owner, workspace_id, message),
                )  # fmt: skip
                state = SnapshotState(
                    id=snapshot_id,
                    owner=owner,
                    workspace_id=workspace_id,
                    name=name,
                    workspace_name=record.spec.display_name,
                    size=copied.size,
                    files=copied.files,
                    changed_during_copy=copied.changed,
                    created_at=datetime.now(UTC),
                )
                # Last: from here on it exists.
                self.client.api.create_container(
                    build.RECORD_IMAGE,
                    command=["snapshot"],
                    name=target,
                    labels=self._labels(KIND_SNAPSHOT, owner, **snapshot_labels(state)),
                    network_disabled=True,
                    host_config=self.client.api.create_host_config(network_mode="none"),
                )
            except BaseException:
                with suppress(docker.errors.APIError):
                    self.client.api.remove_volume(target, force=True)
                raise
        finally:
            self.active.discard(target)
        self.publish(owner, workspace_id, "copied", f"Snapshot '{name}' taken.")
        return state

    def delete(self, owner: str, snapshot_id: str) -> None:
        """The record first (then it is gone for its user), then its volume (which `sweep`
        removes if that fails, say while a restore still copies from it)."""
        record = self._snapshot_record(owner, snapshot_id)
        remove_container(self.client, record["Id"])
        volume = snapshot_volume_name(self.settings.instance_id, owner, snapshot_id)
        try:
            self.client.api.remove_volume(volume, force=True)
        except docker.errors.APIError as exc:
            log.info("snapshot volume %s is removed later: %s", volume, exc)

    # --- seeds ----------------------------------------------------------------------------------
    def seed_volume(self, seed: Seed) -> str:
        """The volume a seed's files are in; `NotFound` if it is not the seed owner's."""
        if seed.snapshot_id is not None:
            self._snapshot_record(seed.owner, seed.snapshot_id)
            return snapshot_volume_name(self.settings.instance_id, seed.owner, seed.snapshot_id)
        workspace_id = str(seed.workspace_id)
        self.observer.current(seed.owner, workspace_id)
        return self._existing_volume(seed.owner, workspace_id)

    def fill(
        self,
        owner: str,
        workspace_id: str,
        spec: WorkspaceSpec,
        seed: Seed,
        undo: list[Callable[[], object]],
    ) -> None:
        """Make the new workspace's volume and copy the seed's files into it (before its
        container exists: see `sweep`)."""
        self.images.ensure(spec.container_image, (owner, workspace_id))
        config = build.volume_config(self.settings, owner, workspace_id, spec, self.facts.get())
        config["labels"][SEEDED] = seed.snapshot_id or seed.workspace_id or UPLOAD
        volume = self.client.volumes.create(**config)
        undo.append(lambda: volume.remove(force=True))
        if seed.upload is not None:
            self._unpack(owner, workspace_id, spec, seed, str(volume.name))
            return
        source = self.seed_volume(seed)
        message = "Copying the files into /workspace."
        self.publish(owner, workspace_id, "copying", message)
        copied = self.copier.copy(
            owner, source, str(volume.name), spec.container_image, self.max_bytes(spec),
            progress=(owner, workspace_id, message),
        )  # fmt: skip
        changed = f" ({copied.changed} changed while they were copied)" if copied.changed else ""
        self.publish(
            owner, workspace_id, "copied", f"Copied {copied.files} files{changed} into /workspace."
        )

    def _unpack(
        self, owner: str, workspace_id: str, spec: WorkspaceSpec, seed: Seed, volume: str
    ) -> None:
        """Check the uploaded archive member by member and write what passed into the volume
        as it passes (`archives.py`), through an archiver (`PUT /containers/{id}/archive`,
        which the engine unpacks chrooted into it)."""
        assert seed.upload is not None and seed.upload_limits is not None
        limits = replace(
            seed.upload_limits,
            max_bytes=min(seed.upload_limits.max_bytes, spec.compute.volume_size * MIB),
        )
        self.images.ensure_record_image()
        helper = self.client.api.create_container(
            build.RECORD_IMAGE,
            command=["upload"],
            labels=self._labels(KIND_ARCHIVER, owner, **{PROCESS: self.process, TARGET: volume}),
            network_disabled=True,
            host_config=self.client.api.create_host_config(
                mounts=[Mount("/workspace", volume, type="volume")], network_mode="none"
            ),
        )
        self.active.add(helper["Id"])
        pipe = Pipe()
        failed: list[BaseException] = []

        def send() -> None:
            try:
                self.client.api.put_archive(helper["Id"], "/workspace", pipe.chunks())
            except BaseException as exc:
                failed.append(exc)

        sender = threading.Thread(target=send, name=f"upload-{workspace_id}", daemon=True)
        counted: Counted | None = None
        if isinstance(seed.upload, Body):
            seed.upload.progress = lambda read: self.publish(
                owner, workspace_id, "copying", "Unpacking the uploaded archive.",
                current=read, total=seed.upload_size,
            )  # fmt: skip
        try:
            self.publish(owner, workspace_id, "copying", "Unpacking the uploaded archive.")
            sender.start()
            try:
                counted = check_and_copy(seed.upload, pipe, limits)
                pipe.close()
            except ReaderGone:
                pass  # (the engine's error, in `failed`, says why)
            except BaseException as exc:
                with suppress(ReaderGone):
                    pipe.fail(exc)
                raise
            finally:
                sender.join()
            if failed or counted is None:
                raise ManagerError(
                    f"The checked files could not be written into /workspace "
                    f"({failed[0] if failed else 'the engine stopped reading'}). "
                    "Nothing was created; try again."
                )
        finally:
            self._remove_archiver(helper["Id"])
        self.publish(
            owner, workspace_id, "copied", f"Unpacked {counted.files} files into /workspace."
        )

    def max_bytes(self, spec: WorkspaceSpec) -> int:
        return min(self.settings.snapshot_max_size, spec.compute.volume_size) * MIB

    # --- tidying up -----------------------------------------------------------------------------
    def sweep(self) -> tuple[list[str], list[tuple[str, str]]]:
        """Remove what copies cut short left: finished copiers, old archivers of no download
        here, snapshot volumes without a record. Returns the names removed, and the (owner,
        workspace id)s of seeded workspaces whose copy was cut short (for `undo_seeded`)."""
        removed: list[str] = []
        instance = self.settings.instance_id
        copiers = self.client.api.containers(
            all=True, filters={"label": L.selector(instance, KIND_COPIER)}
        )
        copying = set()
        now = datetime.now(UTC)
        for copier in copiers:
            # Made a moment ago and about to start, or made by a manager that ended then.
            starting = copier["State"] == "created" and (
                now - datetime.fromtimestamp(copier["Created"], UTC) < COPIER_START
            )
            if copier["State"] in ("running", "restarting") or starting:
                copying.add(copier["Labels"].get(TARGET, ""))
            else:
                remove_container(self.client, copier["Id"])
                removed.append(copier["Names"][0].lstrip("/"))
        oldest = now - ARCHIVER_MAX_AGE
        archivers = self.client.api.containers(
            all=True, filters={"label": L.selector(instance, KIND_ARCHIVER)}
        )
        for archiver in archivers:
            mine = archiver["Labels"].get(PROCESS) == self.process
            old = datetime.fromtimestamp(archiver["Created"], UTC) < oldest
            if archiver["Id"] not in self.active and (mine or old):
                remove_container(self.client, archiver["Id"])
                removed.append(archiver["Names"][0].lstrip("/"))
            else:  # (an upload under way, here or through another manager)
                copying.add(archiver["Labels"].get(TARGET, ""))
        recorded = {s.id for s in self.snapshots(None)}
        data = self.client.api.volumes(filters={"label": L.selector(instance, KIND_SNAPSHOT_DATA)})
        for volume in data.get("Volumes") or []:
            snapshot_id = (volume.get("Labels") or {}).get(SNAPSHOT, "")
            name = volume["Name"]
            if snapshot_id in recorded or name in self.active or name in copying:
                continue
            if not _older_than(volume.get("CreatedAt", ""), now - RECORD_GRACE):
                continue
            try:
                self.client.api.remove_volume(name, force=True)
                removed.append(name)
            except docker.errors.APIError as exc:  # (in use: a restore copies from it)
                log.info("half-made snapshot volume %s stays for now: %s", name, exc)
        cut_short = []
        for volume in self.observer.volumes(None):
            labels = volume.get("Labels") or {}
            if SEEDED in labels and volume["Name"] not in copying:
                cut_short.append((labels.get(L.OWNER, ""), labels.get(L.WORKSPACE, "")))
        return removed, [(o, w) for o, w in cut_short if self._half_made(o, w)]

    def _half_made(self, owner: str, workspace_id: str) -> bool:
        found = self.observer.scan(owner, workspace_id).get(workspace_id)
        return (
            found is not None
            and bool(found.records)
            and found.revision() == 1
            and found.container is None
        )

    def undo_seeded(self, owner: str, workspace_id: str) -> list[str]:
        """Remove a seeded workspace whose copy was cut short (checked again: the caller
        holds the workspace now)."""
        volume = naming.volume_name(self.settings.instance_id, owner, workspace_id)
        if not self._half_made(owner, workspace_id) or volume in self._copying():
            return []
        found = self.observer.scan(owner, workspace_id).get(workspace_id)
        for summary in found.everything if found else []:
            remove_container(self.client, summary["Id"])
        with suppress(docker.errors.NotFound):
            self.client.api.remove_volume(volume, force=True)
        self.publish(owner, workspace_id, "deleted", "Its files were not all copied: removed.")
        return [workspace_id]

    def _copying(self) -> set[str]:
        wanted = L.selector(self.settings.instance_id, KIND_COPIER)
        return {
            c["Labels"].get(TARGET, "")
            for c in self.client.api.containers(filters={"label": wanted})
        }


def _older_than(created_at: str, moment: datetime) -> bool:
    """Whether the engine's RFC 3339 `CreatedAt` (with nanoseconds) is before `moment`;
    a time that cannot be read counts as old."""
    try:
        created = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", created_at))
    except ValueError:
        return True
    return (created if created.tzinfo else created.replace(tzinfo=UTC)) < moment
