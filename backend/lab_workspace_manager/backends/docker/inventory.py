"""Our containers as the engine lists them, remembered and refreshed in the background.

Listing containers makes the engine walk every container it has, filters or not: with 1,000
workspaces (2,000 containers) one list takes 70 ms and more. So reads never list: they use the
last list, which a thread refreshes whenever the engine reports a change of one of this
instance's containers (its event stream, followed by another thread). While others create and
delete, a read is at most one listing behind the engine, and never waits for one.

A change the manager makes itself lists right after it (`refresh`), in the thread of that change:
its caller reads its own writes, and pays for them, not everyone else. While the event stream
is not connected (at start, after the engine went away), nothing is remembered and every read
asks the engine; and no list is used once it is MAX_AGE_SECONDS old, so even an event stream
that stalls without breaking costs only that.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import docker

from . import labels as L

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 1.0
MAX_AGE_SECONDS = 5.0
BATCH_SECONDS = 0.05  # events that come together are listed together

Summaries = list[dict[str, Any]]


@dataclass(frozen=True)
class _List:
    generation: int  # the generation it was begun at: it shows every change before that
    listed_at: float
    by_owner: dict[str | None, Summaries]  # None: everyone's


class Inventory:
    def __init__(self, client: docker.DockerClient, instance: str) -> None:
        self._client = client
        self._label = f"{L.INSTANCE}={instance}"
        self._lock = threading.Lock()
        # Bumped by every event and every list begun: a list is current while it is unchanged.
        self._generation = 0
        self._list: _List | None = None
        self._listening = False
        self._stale = threading.Event()
        # container id -> when the engine last reported something about it
        self._last_event: dict[str, float] = {}
        self._closed = False
        self._stream: Any = None
        self._threads: list[threading.Thread] = []

    def remembered(self) -> Summaries | None:
        """Everyone's containers as last listed, if that list may be used; else None."""
        with self._lock:
            usable = self._usable()
            return usable.by_owner[None] if usable else None

    def containers(self, owner: str | None = None) -> Summaries:
        """This instance's containers (`owner`'s only, if given): the engine's list entries,
        not to be modified."""
        with self._lock:
            usable = self._usable()
        by_owner = usable.by_owner if usable else self.refresh()
        return by_owner.get(owner, [])

    def refresh(self) -> dict[str | None, Summaries]:
        """List now, and remember it unless a list begun later is remembered already."""
        with self._lock:
            self._generation += 1
            generation = self._generation
        listed_at = time.monotonic()
        summaries: Summaries = self._client.api.containers(
            all=True, filters={"label": [self._label]}
        )
        # By owner too, so one user's read does not walk everyone's containers.
        by_owner: dict[str | None, Summaries] = {None: summaries}
        for summary in summaries:
            by_owner.setdefault((summary.get("Labels") or {}).get(L.OWNER, ""), []).append(summary)
        with self._lock:
            if self._listening and (self._list is None or self._list.generation < generation):
                self._list = _List(generation, listed_at, by_owner)
                present = {s["Id"] for s in summaries}
                self._last_event = {k: v for k, v in self._last_event.items() if k in present}
        return by_owner

    def quiet_since(self, container_id: str, moment: float) -> bool:
        """Whether the engine has certainly reported nothing about the container since
        `moment` (time.monotonic())."""
        with self._lock:
            return self._listening and self._last_event.get(container_id, 0.0) < moment

    def start(self) -> None:
        if not self._threads:
            for target, name in ((self._follow, "docker-events"), (self._refresh, "inventory")):
                thread = threading.Thread(target=target, name=name, daemon=True)
                thread.start()
                self._threads.append(thread)

    def close(self) -> None:
        self._closed = True
        self._stale.set()
        stream = self._stream
        if stream is not None:
            with suppress(Exception):  # closing a dead connection: nothing left to do
                stream.close()

    def _usable(self) -> _List | None:
        remembered = self._list
        if not self._listening or remembered is None:
            return None
        if time.monotonic() - remembered.listed_at >= MAX_AGE_SECONDS:
            return None
        return remembered

    def _follow(self) -> None:
        while not self._closed:
            try:
                self._stream = self._client.api.events(
                    filters={"type": "container", "label": [self._label]}, decode=True
                )
                # Subscribed: from here no change goes unseen, but one may have happened
                # while we were not listening.
                with self._lock:
                    self._listening = True
                    self._generation += 1
                self._stale.set()
                for event in self._stream:
                    with self._lock:
                        self._generation += 1
                        self._last_event[str(event.get("id", ""))] = time.monotonic()
                    self._stale.set()
            except Exception as exc:  # the engine went away, or a quiet stream timed out
                if not self._closed:
                    log.debug("engine events interrupted (%s); listing directly meanwhile", exc)
            finally:
                with self._lock:
                    self._listening = False
                    self._generation += 1
                    self._list = None
            if not self._closed:
                time.sleep(RECONNECT_SECONDS)

    def _refresh(self) -> None:
        """List again whenever something changed, and before a list gets too old to use."""
        while not self._closed:
            self._stale.wait(timeout=MAX_AGE_SECONDS / 2)
            if self._closed:
                return
            time.sleep(BATCH_SECONDS)
            self._stale.clear()
            with self._lock:
                current = self._list
                needed = self._listening and (
                    current is None
                    or current.generation < self._generation
                    or time.monotonic() - current.listed_at >= MAX_AGE_SECONDS / 2
                )
            if needed:
                try:
                    self.refresh()
                except Exception as exc:  # the engine went away; reads list directly
                    log.debug("could not list the engine's containers: %s", exc)
                    time.sleep(RECONNECT_SECONDS)
