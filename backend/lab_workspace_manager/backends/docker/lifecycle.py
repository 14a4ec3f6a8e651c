"""Changing workspaces on the engine: each verb one blocking function, which the backend runs
in a worker thread while no other change of the same workspace runs (`operations.py`).

Every workspace container is made by one chain of steps, `build`: the image (pulled if
missing) → the volume → the container → started. A create writes the workspace's record first
and then builds: at once when the image is here, after a background pull when it is not. A
start or a change of settings builds again when the container is missing or outdated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime

import docker
import docker.errors

from ... import naming
from ...errors import Busy, Conflict, ManagerError, NotFound, ResourceUnavailable
from ...models import WorkspaceSpec
from ...policies.clearing import clears_on_stop
from ...settings import MIB, Settings
from ..base import BY_USER, KEPT_BUT_IN_USE
from . import cleaner, resizing
from . import spec as build
from .engine import remove_container
from .exits import read_logs
from .facts import KnownFacts
from .found import Found, Summary, built_from, cleaning, is_up
from .images import Images, Publish
from .networks import UserNetworks
from .observer import Observer
from .pending import PendingCreates
from .readiness import ReadinessTracker
from .records import Record, RecordStore

log = logging.getLogger(__name__)

STOP_TIMEOUT = 10  # seconds a workspace gets to shut down before it is killed


class Lifecycle:
    def __init__(
        self,
        client: docker.DockerClient,
        settings: Settings,
        observer: Observer,
        images: Images,
        networks: UserNetworks,
        facts: KnownFacts,
        readiness: ReadinessTracker,
        pending: PendingCreates,
        publish: Publish,
    ) -> None:
        self.client = client
        self.settings = settings
        self.observer = observer
        self.records = RecordStore(client, settings, images.ensure_record_image)
        self.images = images
        self.networks = networks
        self.facts = facts
        self.readiness = readiness
        self.pending = pending
        self.publish = publish

    # --- create -------------------------------------------------------------------------------
    def create(
        self,
        owner: str,
        workspace_id: str,
        spec: WorkspaceSpec,
        start: bool,
        fill: Callable[[list[Callable[[], object]]], None] | None = None,
    ) -> None:
        """Record and build, with its image here: a complete workspace, or nothing left.
        `fill`: makes the volume and fills it before the container is made (a restore, a
        clone), telling the undo list how to take that back."""
        undo: list[Callable[[], object]] = []
        try:
            # Undo first: the engine may have made the record even if its answer was lost.
            undo.append(lambda: self.remove_containers(owner, workspace_id))
            self.create_record(owner, workspace_id, spec, start)
            if fill is not None:
                fill(undo)
            self.build(owner, workspace_id, spec, None, start, undo=undo, image_here=True)
        except BaseException as exc:
            self.publish(owner, workspace_id, "failed", failure(exc))
            log.info("creating workspace %s of %s failed; rolling back", workspace_id, owner)
            for step in reversed(undo):
                try:
                    step()
                except Exception:
                    log.exception("rollback step failed for workspace %s", workspace_id)
                    self.pending.rollback_due(owner, workspace_id)
            try:
                self.networks.collect(owner)
            except Exception:
                log.exception("could not clean up the network of %s", owner)
            raise

    def create_record(
        self, owner: str, workspace_id: str, spec: WorkspaceSpec, start: bool
    ) -> None:
        """The workspace's first record (and its owner's network): from here on it exists."""
        self._ensure_gpus(spec.compute.gpus)
        now = datetime.now(UTC)
        record = Record(
            owner=owner,
            workspace_id=workspace_id,
            revision=0,
            spec=spec,
            desired="running" if start else "stopped",
            reason="" if start else BY_USER,
            changed_at=now,
            created_at=now,
        )
        self.networks.ensure_for(owner, lambda: self.records.write(record, []))

    def build_missing(self, owner: str, workspace_id: str) -> None:
        """Build a workspace whose record was made before its image was here; nothing if it
        was deleted, started or given a container meanwhile."""
        try:
            found = self.observer.current(owner, workspace_id)
        except ManagerError:
            return
        if found.container is None:
            record = found.record()
            self.build(owner, workspace_id, record.spec, None, record.desired == "running")

    def build(
        self,
        owner: str,
        workspace_id: str,
        spec: WorkspaceSpec,
        old: Summary | None,
        start: bool,
        undo: list[Callable[[], object]] | None = None,
        image_here: bool = False,
    ) -> None:
        """The one way a workspace container is made: image, volume, container, start.
        An `old` container is replaced only once the new one exists, so a failure leaves it
        untouched; the volume (and the data in it) is kept. `undo` is told how to take back
        what this made; `image_here`: the image was just found on the host."""
        if not image_here:
            self.images.ensure(spec.container_image, (owner, workspace_id))
        self._ensure_gpus(spec.compute.gpus)
        facts = self.facts.get()
        if old is None:  # (a first container: its volume may be new too)
            self.publish(owner, workspace_id, "volume", "Creating the volume for /workspace.")
        # (Creating a volume that exists returns it: for a create interrupted before its
        # volume was made, it is made now, labelled, rather than unlabelled by the mount.)
        volume = self.client.volumes.create(
            **build.volume_config(self.settings, owner, workspace_id, spec, facts)
        )
        if undo is not None:
            undo.append(lambda: volume.remove(force=True))
        image_size = 0
        if facts.limit_counts_image:
            image_bytes = self.client.images.get(spec.container_image).attrs.get("Size", 0)
            image_size = -(-int(image_bytes) // MIB)
        config = build.container_config(
            self.settings, owner, workspace_id, spec, start, facts, image_size
        )
        self.publish(owner, workspace_id, "creating", "Creating the container.")
        if old is None:
            container = self.client.containers.create(**config)
        else:
            final_name = config["name"]
            config["name"] = final_name + "-next"
            remove_container(self.client, config["name"])
            container = self.client.containers.create(**config)
            try:
                self.readiness.forget(old["Id"])
                self.client.api.stop(old["Id"], timeout=STOP_TIMEOUT)
                self.client.api.remove_container(old["Id"], force=True)
                container.rename(final_name)
            except BaseException:
                remove_container(self.client, container.id)
                raise
        if start:
            self._announce_start(owner, workspace_id)
            container.start()
        else:
            self.publish(owner, workspace_id, "stopped", "Created; not started.")

    # --- change -------------------------------------------------------------------------------
    def update(self, owner: str, workspace_id: str, spec: WorkspaceSpec) -> None:
        found = self.observer.current(owner, workspace_id)
        record = found.record()
        if spec == record.spec:
            return
        if spec.compute.volume_size > record.spec.compute.volume_size:
            resizing.check_volume_growth(
                self.client, self.settings, owner, workspace_id, spec.compute.volume_size
            )
        container = found.container
        if container is not None and built_from(container) != build.build_fingerprint(spec):
            same_build = (spec.container_image, spec.compute.gpus, spec.environment) == (
                record.spec.container_image,
                record.spec.compute.gpus,
                record.spec.environment,
            )
            if is_up(container) and same_build:
                resizing.resize_live(self.client, container["Id"], spec)
            else:
                self.build(owner, workspace_id, spec, container, start=is_up(container))
        self.records.write(replace(record, spec=spec), found.records)

    def start(self, owner: str, workspace_id: str, restart: bool) -> None:
        self.pending.forget(workspace_id)
        found = self.observer.current(owner, workspace_id)
        if cleaning(found):
            raise Busy(
                f"The workspace is stopped, but {cleaner.STILL_CLEARING} Try again in a minute."
            )
        record, container = found.record(), found.container
        running = is_up(container)
        outdated = container is None or (
            built_from(container) != build.build_fingerprint(record.spec)
            and (restart or not running)
        )
        if outdated:
            # Missing, or built from older settings (a live resize leaves MAX_NUM_THREADS
            # behind): a fresh container, with the same volume, is the cheapest fix.
            self.build(owner, workspace_id, record.spec, container, start=True)
        else:
            assert container is not None
            self._announce_start(owner, workspace_id)
            api = self.client.api
            api.update_container(container["Id"], restart_policy=build.RESTART_ON_FAILURE)
            if restart and running:
                self.readiness.forget(container["Id"])
                api.restart(container["Id"], timeout=STOP_TIMEOUT)
            elif container["State"] == "paused":
                api.unpause(container["Id"])
            elif not running:
                api.start(container["Id"])
        self.records.set_desired(record, found.records, "running", "")

    def stop(self, owner: str, workspace_id: str, reason: str) -> None:
        found = self.observer.current(owner, workspace_id)
        record, container = found.record(), found.container
        was_up = container is not None and container["State"] not in (
            "exited",
            "created",
            "dead",
        )
        # The intent first: whoever looks while the container stops sees why it stopped,
        # not "its main process ended" (Jupyter exits with 0 on SIGTERM).
        self.records.set_desired(record, found.records, "stopped", reason)
        if container is not None and was_up:
            api = self.client.api
            # First the policy, so neither a crash nor an engine restart revives it.
            api.update_container(container["Id"], restart_policy=build.RESTART_NEVER)
            api.stop(container["Id"], timeout=STOP_TIMEOUT)
            self.readiness.forget(container["Id"])
        message = f"Stopped {reason}."
        if was_up and clears_on_stop(record.spec, self.settings):
            emptied = cleaner.clear_volume(
                self.client, self.settings, owner, workspace_id, record.spec.container_image
            )
            message += "" if emptied else f" {cleaner.STILL_CLEARING}"
        self.publish(owner, workspace_id, "stopped", message)

    # --- delete -------------------------------------------------------------------------------
    def delete(self, owner: str, workspace_id: str, delete_volume: bool) -> None:
        found = self.observer.scan(owner, workspace_id).get(workspace_id)
        volumes = self.observer.volumes(owner, workspace_id) if delete_volume else []
        if found is None and not volumes:
            # Nothing of theirs (the id may well be another user's): nothing to do or tell.
            return
        if found is not None and found.records:  # (kept by id: only the owner's own goes)
            self.pending.forget(workspace_id)
        self._remove_found(found)
        self._remove_volumes(volumes)
        self.publish(owner, workspace_id, "deleted", "Deleted.")
        self.networks.collect(owner)

    def delete_kept(self, owner: str, workspace_id: str) -> None:
        found = self.observer.scan(owner, workspace_id).get(workspace_id)
        if found is not None and found.records:
            raise Conflict(KEPT_BUT_IN_USE.format(workspace_id=workspace_id))
        volumes = self.observer.volumes(owner, workspace_id)
        if not volumes:
            raise NotFound(f"There is no kept data of a workspace '{workspace_id}' of yours.")
        self._remove_volumes(volumes)
        self.publish(owner, workspace_id, "deleted", "The kept data was deleted.")

    def remove_containers(self, owner: str, workspace_id: str) -> None:
        self._remove_found(self.observer.scan(owner, workspace_id).get(workspace_id))

    def _remove_found(self, found: Found | None) -> None:
        """Every container of a workspace id."""
        for summary in found.everything if found else []:
            self.readiness.forget(summary["Id"])
            remove_container(self.client, summary["Id"])

    def remove_volume(self, owner: str, workspace_id: str) -> None:
        """Only for a volume that never held the user's data (an undone create)."""
        volume = naming.volume_name(self.settings.instance_id, owner, workspace_id)
        with suppress(docker.errors.NotFound):
            self.client.api.remove_volume(volume, force=True)

    def _remove_volumes(self, volumes: list[dict[str, object]]) -> None:
        for volume in volumes:
            with suppress(docker.errors.NotFound):
                self.client.api.remove_volume(volume["Name"], force=True)

    # --- read ---------------------------------------------------------------------------------
    def logs(self, owner: str, workspace_id: str, tail: int) -> str:
        container = self.observer.current(owner, workspace_id).container
        return read_logs(self.client, container["Id"], tail) if container else ""

    # --- steps --------------------------------------------------------------------------------
    def _announce_start(self, owner: str, workspace_id: str) -> None:
        self.publish(owner, workspace_id, "starting", "Starting the container.")
        self.publish(
            owner, workspace_id, "waiting", "Waiting for the workspace to answer on port 8080."
        )

    def _ensure_gpus(self, gpus: int) -> None:
        if gpus and not self.facts.get().gpu_runtime:
            raise ResourceUnavailable(
                f"{gpus} GPU(s) requested, but this Docker host has no NVIDIA runtime. "
                "Create the workspace without GPUs, or ask an administrator for a GPU host."
            )


def failure(exc: BaseException) -> str:
    detail = exc.message if isinstance(exc, ManagerError) else str(exc)
    return f"Failed: {detail}"
