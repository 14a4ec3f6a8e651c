"""Workspaces as containers on one Docker engine, owned by labels.

A workspace is four things, all labelled with the instance, the owner and the workspace id:
  - its record: a never-started container whose labels hold the settings and the state its
    user asked for (`records.py`); a new revision replaces it on every change;
  - its container, created from `spec.container_config`;
  - its volume, mounted at /workspace: the only thing a user's data lives in;
  - its owner's network, shared by that owner's workspaces and no one else's.

This class is the contract's verbs and nothing else. Reads (`observer.py`) use the
inventory's remembered list; each change (`lifecycle.py`) runs as one blocking function in a
worker thread of the engine's pools (`engine.in_thread`), while no other change of the same
workspace runs (`operations.py`: a second is answered with 409 at once). `reconciler.py` tidies
up after interrupted changes; `pending.py` holds creates the labels cannot tell about yet. The
readiness tracker decides `pending` versus `running` from the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from functools import partial
from typing import Any, TypeVar

import anyio
import docker

from ...errors import (
    BackendUnavailable,
    Busy,
    ManagerError,
    NotFound,
    TooManyRequests,
    workspace_not_found,
)
from ...models import WorkspaceSpec
from ...operations import Operations
from ...settings import Settings
from ...shared import Held, HeldElsewhere, SharedState, open_shared_state
from ..base import (
    BY_USER,
    DiskLimits,
    KeptVolumeState,
    Seed,
    SnapshotState,
    WorkspaceBackend,
    WorkspaceState,
)
from ..measurement import Measurement
from . import egress
from .copies import Copies, Reading
from .engine import EngineWatch, Pool, Pools, in_thread, make_client
from .facts import KnownFacts
from .images import Images
from .inventory import Inventory
from .lifecycle import Lifecycle, failure
from .measure import UsageMeter
from .networks import UserNetworks
from .observer import Observer
from .pending import PendingCreates
from .readiness import ReadinessTracker
from .reconciler import Reconciler

log = logging.getLogger(__name__)

T = TypeVar("T")

CREATING = "being created"
CREATE = "create the workspace"


class _BusyElsewhere(Busy):
    """Busy: another manager sharing DATA_DIR changes the workspace."""


class DockerBackend(WorkspaceBackend):
    name = "docker"
    snapshots_offered = True

    def __init__(
        self,
        settings: Settings,
        client: docker.DockerClient | None = None,
        shared: SharedState | None = None,
    ) -> None:
        self.settings = settings
        self.client = client or make_client(settings.docker_host)
        self._own_shared = shared is None
        self.shared = shared or open_shared_state(settings)
        self.pools = Pools()
        self.operations = Operations()
        self.pending = PendingCreates(self.shared)
        self.readiness = ReadinessTracker(settings.workspace_ready_timeout)
        self.inventory = Inventory(self.client, settings.instance_id)
        self.images = Images(self.client, settings, self.publish, self.pending)
        self.networks = UserNetworks(self.client, settings, self.shared)
        self.meter = UsageMeter(self.client, settings.instance_id)
        self.facts = KnownFacts(self.client, settings, self.images.ensure_record_image)
        self.observer = Observer(
            self.client, settings, self.inventory, self.readiness, self.pending, self.publish
        )
        self.lifecycle = Lifecycle(
            self.client,
            settings,
            self.observer,
            self.images,
            self.networks,
            self.facts,
            self.readiness,
            self.pending,
            self.publish,
        )
        self.reconciler = Reconciler(
            self.client, settings, self.observer, self.lifecycle, self.networks, self.pending
        )
        self.copies = Copies(
            self.client, settings, self.observer, self.images, self.facts, self.publish
        )
        # Downloads read their streams a chunk at a time here, apart from the other pools.
        self.copy_pool = Pool("copies", 8, self.pools.background.watchers)
        self._reading_logs: set[str] = set()  # owners whose logs are being read

    def watch_engine(self, watch: EngineWatch) -> None:
        self.pools.watch(watch)

    @property
    def disk_limits(self) -> DiskLimits:  # type: ignore[override]
        known = self.facts.known
        return known.disk_limits if known else DiskLimits()

    # --- the contract -------------------------------------------------------------------------
    async def list_workspaces(self, owner: str | None) -> list[WorkspaceState]:
        observed = await in_thread(
            self.pools.reads, "list the workspaces", self.observer.observe, owner
        )
        states = [self.observer.state(o) for o in observed]
        return sorted(states, key=lambda s: s.created_at)

    async def get(self, owner: str, workspace_id: str) -> WorkspaceState:
        read = "read the workspace"
        observed = await in_thread(
            self.pools.reads, read, self.observer.observe, owner, workspace_id
        )
        if not observed:
            # Made through another manager a moment ago, before this one heard of it? (An
            # id that is not theirs costs a listing, as a change of one does.)
            await in_thread(self.pools.reads, read, self.inventory.refresh, owner)
            observed = await in_thread(
                self.pools.reads, read, self.observer.observe, owner, workspace_id
            )
        if not observed:
            raise workspace_not_found(workspace_id)
        return self.observer.state(observed[0])

    async def create(
        self, owner: str, workspace_id: str, spec: WorkspaceSpec, start: bool
    ) -> WorkspaceState:
        image = spec.container_image
        try:
            present = await in_thread(
                self.pools.reads, "look for the image", self.images.present, image
            )
        except ManagerError as exc:
            self.publish(owner, workspace_id, "failed", failure(exc))
            raise
        if present:
            create = self.lifecycle.create
            await self._change(owner, workspace_id, CREATING, CREATE, create, spec, start, new=True)
        else:
            # A pull can take minutes: the workspace exists (pending, with the pull's
            # progress) as soon as its record does, and is built once the image is here.
            record = self.lifecycle.create_record
            await self._change(owner, workspace_id, CREATING, CREATE, record, spec, start, new=True)
            build = self._build_after_pull(owner, workspace_id, image)
            self.pending.pull(workspace_id, image, build)
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
            build = self.lifecycle.build_missing
            await self._change(owner, workspace_id, CREATING, CREATE, build, managers=True)
            self.pending.pulled(workspace_id)
            with suppress(ManagerError):  # (deleted meanwhile)
                await self.get(owner, workspace_id)  # starts watching for it to answer
        except ManagerError as exc:
            if self.pending.is_pulling(workspace_id):  # not deleted meanwhile
                self.pending.fail(workspace_id, exc.message)
                self.publish(owner, workspace_id, "failed", failure(exc))
            log.info("creating workspace %s after a pull failed: %s", workspace_id, exc.message)
        except Exception:
            log.exception("creating workspace %s after a pull failed", workspace_id)
            self.pending.fail(workspace_id, "The workspace could not be created.")
        finally:
            self.pending.pulled(workspace_id)

    async def update(self, owner: str, workspace_id: str, spec: WorkspaceSpec) -> WorkspaceState:
        update = self.lifecycle.update
        await self._change(
            owner, workspace_id, "being changed", "change the workspace", update, spec
        )
        return await self.get(owner, workspace_id)

    async def start(self, owner: str, workspace_id: str) -> WorkspaceState:
        await self._change(
            owner, workspace_id, "being started", "start the workspace", self.lifecycle.start, False
        )
        return await self.get(owner, workspace_id)

    async def restart(self, owner: str, workspace_id: str) -> WorkspaceState:
        start = self.lifecycle.start
        await self._change(
            owner, workspace_id, "being restarted", "restart the workspace", start, True
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
            self.lifecycle.stop,
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
                self.lifecycle.delete,
                delete_volume,
                last=True,
            )

    async def logs(self, owner: str, workspace_id: str, tail: int) -> str:
        if owner in self._reading_logs:
            raise TooManyRequests(
                "Your workspaces' logs are read one at a time: wait for the read under way."
            )
        self._reading_logs.add(owner)
        try:
            read = self.lifecycle.logs
            action = "read the workspace's logs"
            return await in_thread(self.pools.logs, action, read, owner, workspace_id, tail)
        finally:
            self._reading_logs.discard(owner)

    async def refresh(self, owner: str) -> None:
        await in_thread(self.pools.reads, "list the workspaces", self.inventory.refresh, owner)

    async def check_health(self) -> None:
        await in_thread(self.pools.reads, "reach the Docker engine", self.client.api.ping)

    async def open(self) -> None:
        """Find out which disk limits the engine enforces; join every user network (the
        manager's container may be new)."""
        try:
            await in_thread(self.pools.background, "find out the engine's limits", self.facts.get)
        except BackendUnavailable as exc:
            # Found out at the first create instead: the engine may come up later.
            log.warning("the engine's limits are not known yet: %s", exc.message)
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
        """Remove what no workspace accounts for (see `reconciler.py`); the names of what was
        removed. Each workspace is tidied in its turn, after any change of it under way."""
        await self._restrict_egress()
        tidy = "tidy up the engine"
        reconciler = self.reconciler
        leftovers, untidy = await in_thread(self.pools.background, tidy, reconciler.untidy)
        removed: list[str] = leftovers
        steps = [(o, ws, reconciler.finish_rollback) for o, ws in self.pending.rollbacks_due()]
        steps += [(owner, ws, reconciler.tidy) for owner, ws in untidy]
        for owner, workspace_id, step in steps:
            try:
                removed += await self._change(
                    owner, workspace_id, "being tidied up", tidy, step, managers=True
                )
            except ManagerError as exc:  # the others are tidied all the same
                log.warning("could not tidy up workspace %s: %s", workspace_id, exc.message)
        swept, cut_short = await in_thread(self.pools.background, tidy, self.copies.sweep)
        removed += swept
        for owner, workspace_id in cut_short:
            try:
                removed += await self._change(
                    owner, workspace_id, "being tidied up", tidy, self.copies.undo_seeded,
                    managers=True,
                )  # fmt: skip
            except ManagerError as exc:
                log.warning("could not tidy up workspace %s: %s", workspace_id, exc.message)
        removed += await in_thread(self.pools.background, tidy, reconciler.collect_networks)
        return removed

    async def kept_volumes(self, owner: str | None) -> list[KeptVolumeState]:
        return await in_thread(
            self.pools.reads, "list the kept data", self.observer.kept_volumes, owner
        )

    async def delete_kept_volume(self, owner: str, workspace_id: str) -> None:
        await self._change(
            owner, workspace_id, "being deleted", "delete the kept data", self.lifecycle.delete_kept
        )

    # --- copies of /workspace (`copies.py`) ------------------------------------------------------
    async def archive(self, owner: str, workspace_id: str) -> AsyncIterator[bytes]:
        reading = await in_thread(
            self.copy_pool, "read /workspace", self.copies.open_archive, owner, workspace_id
        )
        return self._relay(reading)

    async def _relay(self, reading: Reading) -> AsyncIterator[bytes]:
        chunks = reading.chunks
        try:
            while chunk := await in_thread(self.copy_pool, "read /workspace", next, chunks, b""):
                yield chunk
        finally:
            with anyio.CancelScope(shield=True):  # (also when the client went away)
                await in_thread(
                    self.copy_pool, "end reading /workspace", self.copies.close_archive, reading
                )

    async def snapshots(self, owner: str | None) -> list[SnapshotState]:
        return await in_thread(self.pools.reads, "list the snapshots", self.copies.snapshots, owner)

    async def take_snapshot(
        self, owner: str, workspace_id: str, snapshot_id: str, name: str, max_bytes: int
    ) -> SnapshotState:
        take = self.copies.take
        return await in_thread(
            self.copy_pool, "take the snapshot", take, owner, workspace_id, snapshot_id,
            name, max_bytes,
        )  # fmt: skip

    async def delete_snapshot(self, owner: str, snapshot_id: str) -> None:
        delete = self.copies.delete
        await in_thread(self.pools.changes, "delete the snapshot", delete, owner, snapshot_id)

    async def create_seeded(
        self, owner: str, workspace_id: str, spec: WorkspaceSpec, start: bool, seed: Seed
    ) -> WorkspaceState:
        if seed.upload is None:
            # Checked before anything is made: a seed that is not theirs is simply not there.
            await in_thread(self.pools.reads, "find the files", self.copies.seed_volume, seed)

        def fill(undo: list[Callable[[], object]]) -> None:
            self.copies.fill(owner, workspace_id, spec, seed, undo)

        create = partial(self.lifecycle.create, fill=fill)
        await self._change(owner, workspace_id, CREATING, CREATE, create, spec, start, new=True)
        return await self.get(owner, workspace_id)

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
        return self.observer.running_at(summaries, workspace_id)

    async def _change(
        self,
        owner: str,
        workspace_id: str,
        what: str,
        action: str,
        function: Callable[..., T],
        *args: Any,
        managers: bool = False,
        new: bool = False,
        last: bool = False,
    ) -> T:
        """Run a change of one workspace in a worker thread, while no other change of it runs
        (`Busy` if one does); reads after it see it, events or not. `managers`: the manager's
        own work (automatic stops, an administrator's, tidying up), which waits its turn and
        runs in the background pool, apart from its user's share. `last`: the workspace is
        gone once it is done (its shared lock is removed)."""
        pool = self.pools.background if managers else self.pools.changes
        try:
            async with (
                self.operations.run(owner, workspace_id, what, managers=managers),
                self._held_here(owner, workspace_id, managers, new) as held,
            ):
                try:
                    done = await in_thread(pool, action, function, owner, workspace_id, *args)
                    if held is not None:
                        held.remove = last
                    return done
                finally:
                    # Made or not, the change's outcome stands (the engine may have gone away
                    # just after it): a listing that fails is left to the inventory's thread.
                    try:
                        await in_thread(pool, action, self.inventory.refresh, owner)
                    except ManagerError:
                        self.inventory.changed()
        except _BusyElsewhere:
            raise  # (known to be theirs: only their workspaces are held across managers)
        except Busy:
            # Busy with what? Parallel requests for an id that is not theirs learn only that.
            creating = self.operations.in_progress(owner, workspace_id) == CREATING
            if not creating and not await self._exists(owner, workspace_id):
                raise workspace_not_found(workspace_id) from None
            raise

    @asynccontextmanager
    async def _held_here(
        self, owner: str, workspace_id: str, wait: bool, new: bool
    ) -> AsyncIterator[Held | None]:
        """The workspace, held against the other managers that share DATA_DIR: one of them
        changing it is as busy as a change here. Only a workspace of the owner's is held: a
        `new` one's id is this manager's alone, and ids of no workspace make no lock files."""
        if new or not await self._theirs(owner, workspace_id):
            yield None
            return
        try:
            async with self.shared.lock("workspace", owner, workspace_id, wait=wait) as held:
                yield held
        except HeldElsewhere:
            raise _BusyElsewhere(
                "The workspace is being changed through another manager of this installation. "
                "Wait until that has finished (its status changes), then try again."
            ) from None

    async def _theirs(self, owner: str, workspace_id: str) -> bool:
        """Whether the owner has the workspace: as remembered, or (what another manager made
        may not be remembered yet) as the engine says."""
        if self.observer.may_exist(owner, workspace_id):
            return True
        read = "read the workspace"
        found = await in_thread(self.pools.reads, read, self.observer.scan, owner, workspace_id)
        return workspace_id in found and bool(found[workspace_id].records)

    async def _exists(self, owner: str, workspace_id: str) -> bool:
        observed = await in_thread(
            self.pools.reads, "read the workspace", self.observer.observe, owner, workspace_id
        )
        return bool(observed)

    async def close(self) -> None:
        self.inventory.close()
        self.pending.close()
        await self.readiness.close()
        self.client.close()
        if self._own_shared:
            self.shared.close()
