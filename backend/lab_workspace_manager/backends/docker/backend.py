"""Workspaces as containers on one Docker engine, owned by labels.

A workspace is four things, all labelled with the instance, the owner and the workspace id:
  - its record: a never-started container whose labels hold the settings and the state its
    user asked for (see `labels.py`); a new revision replaces it on every change;
  - its container, created from `spec.container_config`;
  - its volume, mounted at /workspace: the only thing a user's data lives in;
  - its owner's network, shared by that owner's workspaces and no one else's.

Each verb runs as one blocking function in a worker thread of the engine's pools
(`engine.in_thread`). One change of a workspace runs at a time (`operations.py`: a second is
answered with 409 at once); creating and removing a user's network is serialised by a per-owner
lock. Reads use the inventory's remembered list. The readiness tracker decides `pending`
versus `running` from the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import docker
import docker.errors
import requests.exceptions
from docker.types import LogConfig, Mount

from ... import naming
from ...errors import (
    BackendUnavailable,
    Busy,
    Conflict,
    ManagerError,
    NotFound,
    ResourceUnavailable,
    TooManyRequests,
    workspace_not_found,
)
from ...models import WorkspaceSpec, WorkspaceStatus
from ...operations import Operations
from ...policies.clearing import clears_on_stop
from ...policies.measurement import Measurement
from ...settings import MIB, Settings
from ..base import BY_USER, KEPT_BUT_IN_USE, KeptVolumeState, WorkspaceBackend, WorkspaceState
from . import disk_limits, egress
from . import labels as L
from . import spec as build
from .engine import Pools, in_thread, make_client
from .exits import ExitReader, parse_time, read_logs
from .images import Images
from .inventory import Inventory
from .measure import UsageMeter
from .networks import UserNetworks
from .readiness import ReadinessTracker
from .records import Desired, Record
from .status import ExitInfo, describe

log = logging.getLogger(__name__)

T = TypeVar("T")

CREATING = "being created"
STOP_TIMEOUT = 10  # seconds a workspace gets to shut down before it is killed
CLEAR_WAIT_SECONDS = 120  # a stop waits this long for /workspace to be emptied, at most
STILL_CLEARING = (
    "/workspace is still being emptied (as chosen: cleared on stop); it can be started again "
    "once that has finished."
)


@dataclass
class _Found:
    """Every container the engine has for one workspace id."""

    records: list[dict[str, Any]] = field(default_factory=list)
    container: dict[str, Any] | None = None
    everything: list[dict[str, Any]] = field(default_factory=list)

    def record(self) -> Record:
        newest = max(self.records, key=lambda c: int(c["Labels"][L.REVISION]))
        return Record.from_labels(newest["Labels"])


@dataclass(frozen=True)
class _Observed:
    record: Record
    container: dict[str, Any] | None
    exit_info: ExitInfo | None


class DockerBackend(WorkspaceBackend):
    name = "docker"

    def __init__(self, settings: Settings, client: docker.DockerClient | None = None) -> None:
        self.settings = settings
        self.client = client or make_client(settings.docker_host)
        self.readiness = ReadinessTracker(settings.workspace_ready_timeout)
        self.inventory = Inventory(self.client, settings.instance_id)
        self.images = Images(self.client, settings, self.publish)
        self.networks = UserNetworks(self.client, settings, self._lock)
        self.meter = UsageMeter(self.client, settings.instance_id)
        self.exits = ExitReader(self.client, self.inventory)
        self.pools = Pools()
        self.operations = Operations()
        self._reading_logs: set[str] = set()  # owners whose logs are being read
        # Per owner: creating and removing its network. (One change of a workspace at a time
        # is `operations`' business, decided on the event loop before a thread is taken.)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._disk_limits_known = False
        self._limit_counts_image = False  # see disk_limits.detect
        # Creates whose image pull failed (while one runs: `images.pulling`): workspace id ->
        # why. Only until the next start or delete (after a manager restart such a workspace
        # reads "container missing", and starting it pulls again).
        self._pull_failed: dict[str, str] = {}
        self._background: set[asyncio.Task[None]] = set()
        # Creates that failed and could not be undone (the engine went away half way): workspace
        # id -> owner. Their callers were told they failed; the reconciler undoes them.
        self._rollbacks_due: dict[str, str] = {}

    # --- the contract -------------------------------------------------------------------------
    async def list_workspaces(self, owner: str | None) -> list[WorkspaceState]:
        observed = await in_thread(self.pools.reads, "list the workspaces", self._observe, owner)
        states = [self._state(o) for o in observed]
        return sorted(states, key=lambda s: s.created_at)

    async def get(self, owner: str, workspace_id: str) -> WorkspaceState:
        observed = await in_thread(
            self.pools.reads, "read the workspace", self._observe, owner, workspace_id
        )
        if not observed:
            raise workspace_not_found(workspace_id)
        return self._state(observed[0])

    async def create(
        self, owner: str, workspace_id: str, spec: WorkspaceSpec, start: bool
    ) -> WorkspaceState:
        image = spec.container_image
        try:
            present = await in_thread(
                self.pools.reads, "look for the image", self.images.present, image
            )
        except ManagerError as exc:
            self.publish(owner, workspace_id, "failed", _failure(exc))
            raise
        change = self._create if present else self._create_record
        await self._change(
            owner, workspace_id, CREATING, "create the workspace", change, spec, start
        )
        if not present:
            # A pull can take minutes: the workspace exists (pending, with the pull's
            # progress) as soon as its record does, and is built once the image is here.
            self.images.pulling[workspace_id] = f"Pulling image {image}."
            task = asyncio.create_task(self._build_after_pull(owner, workspace_id, image))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return await self.get(owner, workspace_id)

    async def _build_after_pull(self, owner: str, workspace_id: str, image: str) -> None:
        try:
            await in_thread(
                self.pools.background,
                "pull the image",
                self.images.ensure,
                image,
                (owner, workspace_id),
            )
            await self._change(
                owner,
                workspace_id,
                CREATING,
                "create the workspace",
                self._build_missing,
                managers=True,
            )
            self.images.pulling.pop(workspace_id, None)
            with suppress(ManagerError):  # (deleted meanwhile)
                await self.get(owner, workspace_id)  # starts watching for it to answer
        except ManagerError as exc:
            if workspace_id in self.images.pulling:  # not deleted meanwhile
                self._pull_failed[workspace_id] = exc.message
                self.publish(owner, workspace_id, "failed", _failure(exc))
            log.info("creating workspace %s after a pull failed: %s", workspace_id, exc.message)
        except Exception:
            log.exception("creating workspace %s after a pull failed", workspace_id)
            self._pull_failed[workspace_id] = "The workspace could not be created."
        finally:
            self.images.pulling.pop(workspace_id, None)

    async def update(self, owner: str, workspace_id: str, spec: WorkspaceSpec) -> WorkspaceState:
        await self._change(
            owner, workspace_id, "being changed", "change the workspace", self._update, spec
        )
        return await self.get(owner, workspace_id)

    async def start(self, owner: str, workspace_id: str) -> WorkspaceState:
        await self._change(
            owner, workspace_id, "being started", "start the workspace", self._start, False
        )
        return await self.get(owner, workspace_id)

    async def restart(self, owner: str, workspace_id: str) -> WorkspaceState:
        await self._change(
            owner, workspace_id, "being restarted", "restart the workspace", self._start, True
        )
        return await self.get(owner, workspace_id)

    async def stop(self, owner: str, workspace_id: str, reason: str = BY_USER) -> WorkspaceState:
        # Stops for any other reason (idle, disk, lifetime, an administrator) are the manager's
        # to make: no flood of the user's requests holds them off.
        await self._change(
            owner,
            workspace_id,
            "being stopped",
            "stop the workspace",
            self._stop,
            reason,
            managers=reason != BY_USER,
        )
        return await self.get(owner, workspace_id)

    async def delete(self, owner: str, workspace_id: str, delete_volume: bool) -> None:
        with suppress(NotFound):  # nothing of theirs to delete (while they ask twice at once)
            await self._change(
                owner,
                workspace_id,
                "being deleted",
                "delete the workspace",
                self._delete,
                delete_volume,
            )

    async def logs(self, owner: str, workspace_id: str, tail: int) -> str:
        if owner in self._reading_logs:
            raise TooManyRequests(
                "Your workspaces' logs are read one at a time: wait for the read under way."
            )
        self._reading_logs.add(owner)
        try:
            return await in_thread(
                self.pools.logs, "read the workspace's logs", self._logs, owner, workspace_id, tail
            )
        finally:
            self._reading_logs.discard(owner)

    async def check_health(self) -> None:
        await in_thread(self.pools.reads, "reach the Docker engine", self.client.api.ping)

    async def open(self) -> None:
        """Find out which disk limits the engine enforces; join every user network (the
        manager's container may be new)."""
        try:
            await in_thread(
                self.pools.background,
                "find out the engine's disk limits",
                self._detect_disk_limits,
            )
        except BackendUnavailable as exc:
            # Found out at the first create instead: the engine may come up later.
            log.warning("disk limits not known yet: %s", exc.message)
        await self._restrict_egress()
        self.inventory.start()
        if self.settings.manager_container:
            await in_thread(self.pools.background, "join the user networks", self.networks.join_all)

    async def _restrict_egress(self) -> None:
        """Install the egress rules, if they are not yet (the engine may have been away at
        start: then again with every reconcile)."""
        if self.egress_blocked == egress.wanted(self.settings):
            return
        try:
            self.egress_blocked = await in_thread(
                self.pools.background,
                "restrict the workspaces' egress",
                egress.install,
                self.client,
                self.settings,
            )
        except ManagerError as exc:
            log.warning("workspaces' egress is not restricted yet: %s", exc.message)

    async def reconcile(self) -> list[str]:
        """Remove what no workspace accounts for; the names of what was removed.

        Containers without a record (an interrupted delete), record revisions and "-next"
        containers an interrupted change left, finished cleaners, and networks of owners with
        no workspace left. Volumes are never removed here: one without a record is data its
        user chose to keep when deleting the workspace. A record without a container or
        volume (an interrupted create) stays a workspace its user sees and can start or
        delete, except for creates this process told their caller had failed (see
        `_finish_rollback`). Containers created to run but never started are started.
        Each workspace is tidied in its turn, after any change of it under way.
        """
        await self._restrict_egress()
        tidy = "tidy up the engine"
        leftovers, untidy = await in_thread(self.pools.background, tidy, self._untidy)
        removed: list[str] = leftovers
        steps = [(owner, ws, self._finish_rollback) for ws, owner in self._rollbacks_due.items()]
        steps += [(owner, ws, self._tidy) for owner, ws in untidy]
        for owner, workspace_id, step in steps:
            try:
                removed += await self._change(
                    owner, workspace_id, "being tidied up", tidy, step, managers=True
                )
            except ManagerError as exc:  # the others are tidied all the same
                log.warning("could not tidy up workspace %s: %s", workspace_id, exc.message)
        removed += await in_thread(self.pools.background, tidy, self._collect_networks)
        return removed

    async def kept_volumes(self, owner: str | None) -> list[KeptVolumeState]:
        return await in_thread(self.pools.reads, "list the kept data", self._kept_volumes, owner)

    async def delete_kept_volume(self, owner: str, workspace_id: str) -> None:
        await self._change(
            owner, workspace_id, "being deleted", "delete the kept data", self._delete_kept
        )

    async def measure(self, disk: bool) -> dict[str, Measurement]:
        if disk:
            return await in_thread(self.pools.background, "measure disk use", self.meter.disk)
        return await in_thread(self.pools.background, "measure CPU and memory", self.meter.compute)

    async def locate(self, workspace_id: str) -> tuple[str, str] | None:
        """The proxy's access check asks this for every request it has not seen lately: from
        the inventory's remembered list, without waiting for the engine or a busy pool."""
        summaries = self.inventory.remembered()
        if summaries is None:
            summaries = await in_thread(
                self.pools.access, "find the workspace", self.inventory.containers
            )
        for found in _group(summaries, self.settings, workspace_id).values():
            container = found.container
            if found.records and container is not None and container["State"] == "running":
                address = _address(container, self.settings.instance_id)
                if address:
                    return found.record().owner, f"{address}:{build.WORKSPACE_PORT}"
        return None

    async def _change(
        self,
        owner: str,
        workspace_id: str,
        what: str,
        action: str,
        function: Callable[..., T],
        *args: Any,
        managers: bool = False,
    ) -> T:
        """Run a change of one workspace in a worker thread, while no other change of it runs
        (`Busy` if one does); reads after it see it, events or not. `managers`: the manager's
        own work (automatic stops, an administrator's, tidying up), which waits its turn and
        runs in the background pool, apart from its user's share."""
        pool = self.pools.background if managers else self.pools.changes
        try:
            async with self.operations.run(owner, workspace_id, what, managers=managers):
                try:
                    return await in_thread(pool, action, function, owner, workspace_id, *args)
                finally:
                    # Made or not, the change's outcome stands (the engine may have gone away
                    # just after it): a listing that fails is left to the inventory's thread.
                    try:
                        await in_thread(pool, action, self.inventory.refresh, owner)
                    except ManagerError:
                        self.inventory.changed()
        except Busy:
            # Busy with what? Parallel requests for an id that is not theirs learn only that.
            creating = self.operations.in_progress(owner, workspace_id) == CREATING
            if not creating and not await self._exists(owner, workspace_id):
                raise workspace_not_found(workspace_id) from None
            raise

    async def _exists(self, owner: str, workspace_id: str) -> bool:
        observed = await in_thread(
            self.pools.reads, "read the workspace", self._observe, owner, workspace_id
        )
        return bool(observed)

    async def close(self) -> None:
        self.inventory.close()
        for task in list(self._background):
            task.cancel()
        await self.readiness.close()
        self.client.close()

    # --- reading ------------------------------------------------------------------------------
    def _scan(self, owner: str | None, workspace_id: str | None) -> dict[str, _Found]:
        """Our containers, by workspace id, fresh from the engine (for changes)."""
        wanted = {L.INSTANCE: self.settings.instance_id}
        if owner is not None:
            wanted[L.OWNER] = owner
        if workspace_id:
            wanted[L.WORKSPACE] = workspace_id
        summaries = self.client.api.containers(
            all=True, filters={"label": [f"{k}={v}" for k, v in wanted.items()]}
        )
        return _group(summaries, self.settings, workspace_id)

    def _observe(self, owner: str | None, workspace_id: str | None = None) -> list[_Observed]:
        """The workspaces as the inventory remembers them (reads need not wait for a fresh
        list of every container while others change theirs)."""
        summaries = self.inventory.containers(owner)
        observed = []
        for found in _group(summaries, self.settings, workspace_id).values():
            if not found.records:
                continue  # a leftover of an interrupted change; not a workspace
            record = found.record()
            container = found.container
            exit_info = None
            if (
                container is not None
                and container["State"] in ("exited", "restarting")
                and record.desired == "running"
            ):
                exit_info = self.exits.of(container)
            observed.append(_Observed(record, container, exit_info))
        return observed

    def _state(self, observed: _Observed) -> WorkspaceState:
        record, container = observed.record, observed.container
        engine_state = container["State"] if container else None
        ready, waited = False, None
        if container is not None:
            if engine_state == "running":
                ready, waited = self.readiness.check(
                    container["Id"],
                    self._probe_url(container),
                    lambda: self.publish(
                        record.owner,
                        record.workspace_id,
                        "ready",
                        "Running: the workspace answers.",
                    ),
                )
            else:
                self.readiness.forget(container["Id"])
        status, message = describe(record, engine_state, observed.exit_info, ready, waited)
        if container is None and record.workspace_id in self.images.pulling:
            status, message = WorkspaceStatus.PENDING, self.images.pulling[record.workspace_id]
        elif container is None and record.workspace_id in self._pull_failed:
            status = WorkspaceStatus.FAILED
            message = (
                f"Failed: {self._pull_failed[record.workspace_id]} "
                "Start it to try again, or delete it."
            )
        running = status is WorkspaceStatus.RUNNING
        return WorkspaceState(
            id=record.workspace_id,
            owner=record.owner,
            spec=record.spec,
            status=status,
            status_message=message,
            is_stopped=record.desired == "stopped",
            created_at=record.created_at,
            access_url=self._public_path(record.workspace_id) if running else None,
            started_at=record.changed_at if engine_state == "running" else None,
        )

    def _public_path(self, workspace_id: str) -> str:
        return naming.workspace_path(self.settings.workspace_public_prefix, workspace_id)

    def _probe_url(self, container: dict[str, Any]) -> str:
        address = _address(container, self.settings.instance_id) or "127.0.0.1"
        path = self._public_path(container["Labels"][L.WORKSPACE])
        return f"http://{address}:{build.WORKSPACE_PORT}{path}"

    def _current(self, owner: str, workspace_id: str) -> _Found:
        found = self._scan(owner, workspace_id).get(workspace_id)
        if found is None or not found.records:
            raise workspace_not_found(workspace_id)
        return found

    def _volumes(self, owner: str | None, workspace_id: str | None = None) -> list[dict[str, Any]]:
        wanted = [f"{L.INSTANCE}={self.settings.instance_id}", f"{L.KIND}={L.KIND_VOLUME}"]
        if owner is not None:
            wanted.append(f"{L.OWNER}={owner}")
        if workspace_id is not None:
            wanted.append(f"{L.WORKSPACE}={workspace_id}")
        volumes: list[dict[str, Any]] = (
            self.client.api.volumes(filters={"label": wanted}).get("Volumes") or []
        )
        return volumes

    def _kept_volumes(self, owner: str | None) -> list[KeptVolumeState]:
        """Our volumes whose workspace is gone: data kept at delete."""
        workspaces = _group(self.inventory.containers(owner), self.settings, None)
        kept = []
        for volume in self._volumes(owner):
            labels = volume.get("Labels") or {}
            workspace_id = labels.get(L.WORKSPACE, "")
            found = workspaces.get(workspace_id)
            if not workspace_id or (found and found.records) or workspace_id in self._rollbacks_due:
                continue  # a workspace's, or a failed create's that the reconciler undoes
            size = labels.get(L.VOLUME_SIZE, "")
            kept.append(
                KeptVolumeState(
                    workspace_id=workspace_id,
                    owner=labels.get(L.OWNER, ""),
                    display_name=labels.get(L.DISPLAY_NAME, ""),
                    # (Volumes made before they were labelled with their size: the hard one.)
                    size=int(size)
                    if size.isdigit()
                    else disk_limits.volume_size(volume.get("Options")) or 0,
                    created_at=parse_time(volume.get("CreatedAt")),
                )
            )
        return sorted(kept, key=lambda k: (k.created_at is None, k.created_at))

    def _delete_kept(self, owner: str, workspace_id: str) -> None:
        found = self._scan(owner, workspace_id).get(workspace_id)
        if found is not None and found.records:
            raise Conflict(KEPT_BUT_IN_USE.format(workspace_id=workspace_id))
        volumes = self._volumes(owner, workspace_id)
        if not volumes:
            raise NotFound(f"There is no kept data of a workspace '{workspace_id}' of yours.")
        for volume in volumes:
            with suppress(docker.errors.NotFound):
                self.client.api.remove_volume(volume["Name"])
        self.publish(owner, workspace_id, "deleted", "The kept data was deleted.")

    def _logs(self, owner: str, workspace_id: str, tail: int) -> str:
        container = self._current(owner, workspace_id).container
        return read_logs(self.client, container["Id"], tail) if container else ""

    # --- changing -----------------------------------------------------------------------------
    def _lock(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def _create_record(
        self, owner: str, workspace_id: str, spec: WorkspaceSpec, start: bool
    ) -> None:
        """The workspace's first record (and its owner's network): from here on it exists."""
        self._ensure_gpus(spec.compute.gpus)
        now = datetime.now(UTC)
        record = Record(
            owner=owner,
            workspace_id=workspace_id,
            revision=1,
            spec=spec,
            desired="running" if start else "stopped",
            reason="" if start else BY_USER,
            changed_at=now,
            created_at=now,
        )
        # The owner lock makes "network exists" and "a record exists" one step, so a
        # concurrent delete of the owner's last workspace cannot remove the network under us.
        with self._lock("owner:" + owner):
            self.networks.ensure(owner)
            self._write_record(record, [])

    def _build_missing(self, owner: str, workspace_id: str) -> None:
        """Volume and container of a workspace whose record was made before its image was
        here; nothing if it was deleted, started or given a container meanwhile."""
        try:
            found = self._current(owner, workspace_id)
        except ManagerError:
            return
        if found.container is not None:
            return
        record = found.record()
        start = record.desired == "running"
        self.publish(owner, workspace_id, "volume", "Creating the volume for /workspace.")
        self._recreate(owner, workspace_id, record.spec, None, start=start)
        if not start:
            self.publish(owner, workspace_id, "stopped", "Created; not started.")

    def _create(self, owner: str, workspace_id: str, spec: WorkspaceSpec, start: bool) -> None:
        undo: list[Callable[[], object]] = []
        try:
            # Undo first: the engine may have made the record even if its answer was lost.
            undo.append(lambda: self._remove_containers(owner, workspace_id))
            self._create_record(owner, workspace_id, spec, start)
            self.publish(owner, workspace_id, "volume", "Creating the volume for /workspace.")
            volume = self.client.volumes.create(**self._volume_config(owner, workspace_id, spec))
            undo.append(lambda: volume.remove(force=True))
            self.publish(owner, workspace_id, "creating", "Creating the container.")
            container = self.client.containers.create(
                **self._container_config(owner, workspace_id, spec, start)
            )
            if start:
                self._announce_start(owner, workspace_id)
                container.start()
            else:
                self.publish(owner, workspace_id, "stopped", "Created; not started.")
        except BaseException as exc:
            self.publish(owner, workspace_id, "failed", _failure(exc))
            log.info("creating workspace %s of %s failed; rolling back", workspace_id, owner)
            for step in reversed(undo):
                try:
                    step()
                except Exception:
                    log.exception("rollback step failed for workspace %s", workspace_id)
                    self._rollbacks_due[workspace_id] = owner
            try:
                self.networks.collect(owner)
            except Exception:
                log.exception("could not clean up the network of %s", owner)
            raise

    def _update(self, owner: str, workspace_id: str, spec: WorkspaceSpec) -> None:
        found = self._current(owner, workspace_id)
        record = found.record()
        if spec == record.spec:
            return
        if spec.compute.volume_size > record.spec.compute.volume_size:
            self._check_volume_growth(owner, workspace_id, spec.compute.volume_size)
        container = found.container
        if container is not None and _built_from(container) != build.build_fingerprint(spec):
            running = container["State"] in ("running", "restarting")
            same_build = (spec.container_image, spec.compute.gpus) == (
                record.spec.container_image,
                record.spec.compute.gpus,
            )
            if running and same_build:
                self._resize_live(container["Id"], spec)
            else:
                self.images.ensure(spec.container_image)
                self._ensure_gpus(spec.compute.gpus)
                self._recreate(owner, workspace_id, spec, container, start=running)
        self._write_record(replace(record, spec=spec), found.records)

    def _start(self, owner: str, workspace_id: str, restart: bool) -> None:
        self._pull_failed.pop(workspace_id, None)
        found = self._current(owner, workspace_id)
        _refuse_while_clearing(found)
        record, container = found.record(), found.container
        running = container is not None and container["State"] in ("running", "restarting")
        outdated = container is None or (
            _built_from(container) != build.build_fingerprint(record.spec)
            and (restart or not running)
        )
        if outdated:
            # Missing, or built from older settings (a live resize leaves MAX_NUM_THREADS
            # behind): a fresh container, with the same volume, is the cheapest fix.
            self.images.ensure(record.spec.container_image, (owner, workspace_id))
            self._ensure_gpus(record.spec.compute.gpus)
            self._recreate(owner, workspace_id, record.spec, container, start=True)
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
        self._set_desired(found, record, "running", "")

    def _stop(self, owner: str, workspace_id: str, reason: str) -> None:
        found = self._current(owner, workspace_id)
        record, container = found.record(), found.container
        was_up = container is not None and container["State"] not in (
            "exited",
            "created",
            "dead",
        )
        # The intent first: whoever looks while the container stops sees why it stopped,
        # not "its main process ended" (Jupyter exits with 0 on SIGTERM).
        self._set_desired(found, record, "stopped", reason)
        if container is not None and was_up:
            api = self.client.api
            # First the policy, so neither a crash nor an engine restart revives it.
            api.update_container(container["Id"], restart_policy=build.RESTART_NEVER)
            api.stop(container["Id"], timeout=STOP_TIMEOUT)
            self.readiness.forget(container["Id"])
        message = f"Stopped {reason}."
        if was_up and clears_on_stop(record.spec, self.settings):
            emptied = self._clear_volume(owner, workspace_id, record.spec.container_image)
            message += "" if emptied else f" {STILL_CLEARING}"
        self.publish(owner, workspace_id, "stopped", message)

    def _clear_volume(self, owner: str, workspace_id: str, image: str) -> bool:
        """Empty /workspace, as the user chose for this workspace: in a short-lived container
        of the workspace's own image, once the workspace itself has stopped writing. Waits
        CLEAR_WAIT_SECONDS at most (millions of files take longer): False if it still runs;
        the workspace cannot be started until it has finished."""
        volume = naming.volume_name(self.settings.instance_id, owner, workspace_id)
        cleaner = self.client.containers.run(
            image,
            entrypoint=["/bin/sh", "-c", "find /workspace -mindepth 1 -delete"],
            environment={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            mounts=[Mount(target="/workspace", source=volume, type="volume")],
            network_mode="none",
            labels={
                **build.owner_labels(self.settings, L.KIND_CLEANER, owner),
                L.WORKSPACE: workspace_id,
            },
            # As root, whatever the image's user, with only the powers deleting needs; no
            # more of the machine than one CPU, and little memory, processes and log.
            user="0",
            cap_drop=["ALL"],
            cap_add=["DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER"],
            security_opt=["no-new-privileges"],
            nano_cpus=10**9,
            pids_limit=64,
            mem_limit=256 * MIB,
            log_config=LogConfig(type="json-file", config={"max-size": "1m", "max-file": "1"}),
            detach=True,
            auto_remove=True,
        )
        try:
            result = cleaner.wait(timeout=CLEAR_WAIT_SECONDS)
        except docker.errors.NotFound:
            return True  # done and removed before we asked
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            log.info("workspace %s: /workspace is still being emptied", workspace_id)
            return False
        if result.get("StatusCode"):
            raise ManagerError(
                f"/workspace could not be emptied (the cleaner ended with code "
                f"{result['StatusCode']}); its files are still there. Start and stop it again "
                "to retry, or delete it with its data."
            )
        return True

    def _delete(self, owner: str, workspace_id: str, delete_volume: bool) -> None:
        found = self._scan(owner, workspace_id).get(workspace_id)
        volumes = self._volumes(owner, workspace_id) if delete_volume else []
        if found is None and not volumes:
            # Nothing of theirs (the id may well be another user's): nothing to do or tell.
            return
        if found is not None and found.records:  # (kept by id: only the owner's own goes)
            self.images.pulling.pop(workspace_id, None)
            self._pull_failed.pop(workspace_id, None)
        for summary in found.everything if found else []:
            self.readiness.forget(summary["Id"])
            self._remove_container(summary["Id"])
        for volume in volumes:
            with suppress(docker.errors.NotFound):
                self.client.api.remove_volume(volume["Name"], force=True)
        self.publish(owner, workspace_id, "deleted", "Deleted.")
        self.networks.collect(owner)

    def _untidy(self) -> tuple[list[str], list[tuple[str, str]]]:
        """Removes the leftovers that belong to no workspace; the names removed, and the
        (owner, workspace id)s with leftovers or an interrupted start, to tidy one by one."""
        removed: list[str] = []
        untidy: list[tuple[str, str]] = []
        for workspace_id, found in self._scan(None, None).items():
            if not workspace_id:  # (a cleaner of before cleaners were labelled so)
                for summary in _leftovers(found):
                    self._remove_container(summary["Id"])
                    removed.append(summary["Names"][0].lstrip("/"))
            elif _leftovers(found) or _never_started(found):
                owner = found.everything[0]["Labels"].get(L.OWNER, "")
                untidy.append((owner, workspace_id))
        return removed, untidy

    def _tidy(self, owner: str, workspace_id: str) -> list[str]:
        """Remove what of the workspace no record accounts for; start it if it was created
        to run but never started (a create or start cut short by a manager or engine
        restart, which would otherwise read "Starting" forever)."""
        removed: list[str] = []
        found = self._scan(None, workspace_id).get(workspace_id)
        if found is None:
            return removed
        for summary in _leftovers(found):
            self._remove_container(summary["Id"])
            removed.append(summary["Names"][0].lstrip("/"))
        if _never_started(found):
            assert found.container is not None
            try:
                self.client.api.start(found.container["Id"])
                log.info("started workspace %s, whose start was interrupted", workspace_id)
            except docker.errors.APIError as exc:
                log.warning("could not start workspace %s: %s", workspace_id, exc)
        return removed

    def _collect_networks(self) -> list[str]:
        removed = []
        mine = [f"{L.INSTANCE}={self.settings.instance_id}", f"{L.KIND}={L.KIND_NETWORK}"]
        for network in self.client.api.networks(filters={"label": mine}):
            if self.networks.collect(network["Labels"].get(L.OWNER, "")):
                removed.append(network["Name"])
        return removed

    def _finish_rollback(self, owner: str, workspace_id: str) -> list[str]:
        """Undo a create whose rollback failed, unless its user has acted on it since (a
        newer record, a delete) or it runs: then it stays, as a workspace (or kept data).
        The volume goes too: its container never ran, so it holds nothing of the user's."""
        found = self._scan(owner, workspace_id).get(workspace_id)
        # Gone altogether (deleted since, its data perhaps kept on purpose), or used:
        # nothing to undo, and its volume is the user's.
        untouched = found is not None and (
            not found.records
            or (
                max(int(c["Labels"][L.REVISION]) for c in found.records) == 1
                and (found.container is None or found.container["State"] == "created")
            )
        )
        self._rollbacks_due.pop(workspace_id, None)
        if not untouched:
            return []
        self._remove_containers(owner, workspace_id)
        volume = naming.volume_name(self.settings.instance_id, owner, workspace_id)
        with suppress(docker.errors.NotFound):
            self.client.api.remove_volume(volume, force=True)
        self.networks.collect(owner)
        return [workspace_id]

    # --- steps --------------------------------------------------------------------------------
    def _set_desired(self, found: _Found, record: Record, desired: Desired, reason: str) -> None:
        if record.desired != desired or record.reason != reason:
            changed = replace(record, desired=desired, reason=reason, changed_at=datetime.now(UTC))
            self._write_record(changed, found.records)

    def _write_record(self, record: Record, previous: list[dict[str, Any]]) -> None:
        """Store `record` as the next revision, then drop the revisions it replaces."""
        self.images.ensure_record_image()
        newest = max((int(c["Labels"][L.REVISION]) for c in previous), default=0)
        record = replace(record, revision=newest + 1)
        try:
            self.client.containers.create(
                **build.record_config(self.settings, record.to_labels(self.settings.instance_id))
            )
        except docker.errors.APIError as exc:
            if exc.status_code == 409:
                raise Conflict(
                    "The workspace was changed by another request at the same time; "
                    "reload it and try again."
                ) from exc
            raise
        for old in previous:
            self._remove_container(old["Id"])

    def _remove_containers(self, owner: str, workspace_id: str) -> None:
        found = self._scan(owner, workspace_id).get(workspace_id)
        for summary in found.everything if found else []:
            self.readiness.forget(summary["Id"])
            self._remove_container(summary["Id"])

    def _remove_container(self, id_or_name: str) -> None:
        try:
            self.client.api.remove_container(id_or_name, force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            # Being removed already (by the engine, for a container that removes itself):
            # as good as gone.
            if exc.status_code != 409 or "already in progress" not in str(exc.explanation):
                raise

    def _recreate(
        self,
        owner: str,
        workspace_id: str,
        spec: WorkspaceSpec,
        old: dict[str, Any] | None,
        start: bool,
    ) -> None:
        """Replace the container (not the volume): build the new one first, so a failure
        leaves the old one untouched."""
        config = self._container_config(owner, workspace_id, spec, start)
        final_name = config["name"]
        config["name"] = final_name + "-next"
        # A create interrupted before its volume existed: make it now, labelled, rather than
        # let the engine make an unlabelled one for the mount.
        self.client.volumes.create(**self._volume_config(owner, workspace_id, spec))
        self._remove_container(config["name"])
        self.publish(owner, workspace_id, "creating", "Creating the container.")
        new = self.client.containers.create(**config)
        try:
            if old is not None:
                self.readiness.forget(old["Id"])
                self.client.api.stop(old["Id"], timeout=STOP_TIMEOUT)
                self.client.api.remove_container(old["Id"], force=True)
            new.rename(final_name)
        except BaseException:
            self._remove_container(new.id)
            raise
        if start:
            self._announce_start(owner, workspace_id)
            new.start()

    def _detect_disk_limits(self) -> None:
        self.images.ensure_record_image()  # the probe container is made from it
        self.disk_limits, self._limit_counts_image = disk_limits.detect(self.client, self.settings)
        self._disk_limits_known = True
        hard = "hard (the engine refuses writes beyond it)"
        log.info(
            "disk limits on this engine: container writable layer %s; /workspace volumes %s",
            hard if self.disk_limits.hard_container_size else "measured (soft)",
            hard if self.disk_limits.hard_volume_size else "measured (soft)",
        )

    def _container_config(
        self, owner: str, workspace_id: str, spec: WorkspaceSpec, start: bool
    ) -> dict[str, Any]:
        if not self._disk_limits_known:
            self._detect_disk_limits()
        storage_size = None
        if self.disk_limits.hard_container_size:
            storage_size = self.settings.container_size
            if self._limit_counts_image:
                # btrfs counts the image's files too: the workspace still gets its full size.
                image_bytes = self.client.images.get(spec.container_image).attrs.get("Size", 0)
                storage_size += -(-int(image_bytes) // MIB)
        return build.container_config(
            self.settings, owner, workspace_id, spec, start, storage_size=storage_size
        )

    def _volume_config(self, owner: str, workspace_id: str, spec: WorkspaceSpec) -> dict[str, Any]:
        if not self._disk_limits_known:
            self._detect_disk_limits()
        size = spec.compute.volume_size if self.disk_limits.hard_volume_size else None
        return build.volume_config(self.settings, owner, workspace_id, spec, size=size)

    def _check_volume_growth(self, owner: str, workspace_id: str, wanted: int) -> None:
        """A volume's hard size is fixed when it is created (the engine has no call to change
        a volume's options): growing past it is refused rather than promised and not kept.
        Shrinking is fine: the measured limit then stops the workspace at the new size."""
        name = naming.volume_name(self.settings.instance_id, owner, workspace_id)
        try:
            options = self.client.api.inspect_volume(name).get("Options")
        except docker.errors.NotFound:
            return
        hard = disk_limits.volume_size(options)
        if hard is not None and wanted > hard:
            raise Conflict(
                f"compute.volume_size: /workspace was created with a hard limit of {hard} MB, "
                "which this Docker engine cannot change afterwards. Choose at most "
                f"{hard} MB, or create a new workspace with a larger disk and copy your data."
            )

    def _resize_live(self, container_id: str, spec: WorkspaceSpec) -> None:
        """New CPU and memory limits for a running container, without restarting it."""
        memory = spec.compute.memory * MIB
        body = {
            "NanoCpus": round(spec.compute.cpus * 1e9),
            "Memory": memory,
            "MemorySwap": memory,
        }
        api = self.client.api
        # docker-py's update_container() has no NanoCpus parameter; this is the same endpoint.
        try:
            response = api._post_json(api._url("/containers/{0}/update", container_id), data=body)
            api._raise_for_status(response)
        except docker.errors.APIError as exc:
            explanation = str(exc.explanation)
            if "unable to set memory limit" in explanation or "busy" in explanation:
                used = re.search(r"current usage: (\d+)", explanation)
                now = f" ({int(used.group(1)) // MIB} MB)" if used else ""
                raise Conflict(
                    f"compute.memory: the workspace uses more than {spec.compute.memory} MB "
                    f"right now{now}, so its limit cannot be lowered that far while it runs. "
                    "Free memory in the workspace (stop kernels), or stop it and resize then."
                ) from exc
            raise

    def _announce_start(self, owner: str, workspace_id: str) -> None:
        self.publish(owner, workspace_id, "starting", "Starting the container.")
        self.publish(
            owner, workspace_id, "waiting", "Waiting for the workspace to answer on port 8080."
        )

    def _ensure_gpus(self, gpus: int) -> None:
        if gpus and "nvidia" not in (self.client.info().get("Runtimes") or {}):
            raise ResourceUnavailable(
                f"{gpus} GPU(s) requested, but this Docker host has no NVIDIA runtime. "
                "Create the workspace without GPUs, or ask an administrator for a GPU host."
            )


def _address(container: dict[str, Any], instance: str) -> str | None:
    """The container's address on its owner's network (a workspace is on that one only;
    one created before user networks got their longer names is on one with the old name)."""
    networks = (container.get("NetworkSettings") or {}).get("Networks") or {}
    current = naming.network_name(instance, container["Labels"][L.OWNER])
    names = [current, *(n for n in networks if n != current and naming.is_network_of(instance, n))]
    for name in names:
        if address := (networks.get(name) or {}).get("IPAddress"):
            return str(address)
    return None


def _failure(exc: BaseException) -> str:
    detail = exc.message if isinstance(exc, ManagerError) else str(exc)
    return f"Failed: {detail}"


def _never_started(found: _Found) -> bool:
    return (
        bool(found.records)
        and found.container is not None
        and found.container["State"] == "created"
        and found.record().desired == "running"
    )


def _refuse_while_clearing(found: _Found) -> None:
    if any(
        c["Labels"].get(L.KIND) == L.KIND_CLEANER and c["State"] == "running"
        for c in found.everything
    ):
        raise Busy(f"The workspace is stopped, but {STILL_CLEARING} Try again in a minute.")


def _leftovers(found: _Found) -> list[dict[str, Any]]:
    """What of a workspace id's containers no workspace accounts for."""
    keep = set()
    if found.records:
        keep.add(max(found.records, key=lambda c: int(c["Labels"][L.REVISION]))["Id"])
        if found.container is not None:
            keep.add(found.container["Id"])
    return [
        c
        for c in found.everything
        if c["Id"] not in keep
        # A cleaner still emptying a volume finishes (and removes itself) first.
        and not (c["Labels"].get(L.KIND) == L.KIND_CLEANER and c["State"] == "running")
    ]


def _built_from(container: dict[str, Any]) -> str:
    return str((container.get("Labels") or {}).get(L.BUILD, ""))


def _group(
    summaries: list[dict[str, Any]], settings: Settings, workspace_id: str | None
) -> dict[str, _Found]:
    """The containers of each workspace id (of `workspace_id` only, if given)."""
    found: dict[str, _Found] = {}
    for summary in summaries:
        labels = summary.get("Labels") or {}
        if workspace_id and labels.get(L.WORKSPACE) != workspace_id:
            continue
        # Only what the manager makes for workspaces, and never the manager itself (an
        # operator may well give its container the instance label).
        kind = labels.get(L.KIND)
        if kind not in L.WORKSPACE_CONTAINER_KINDS or _is_manager(summary, settings):
            continue
        entry = found.setdefault(labels.get(L.WORKSPACE, ""), _Found())
        entry.everything.append(summary)
        if kind == L.KIND_RECORD:
            entry.records.append(summary)
        elif kind == L.KIND_WORKSPACE:
            name = naming.container_name(
                settings.instance_id, labels.get(L.OWNER, ""), labels.get(L.WORKSPACE, "")
            )
            if "/" + name in summary.get("Names", []):
                entry.container = summary
    return found


def _is_manager(summary: dict[str, Any], settings: Settings) -> bool:
    me = settings.manager_container
    if not me:
        return False
    return str(summary.get("Id", "")).startswith(me) or f"/{me}" in summary.get("Names", [])
