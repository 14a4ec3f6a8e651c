"""Our containers as the engine lists them, remembered and refreshed in the background.

Listing containers makes the engine walk every container it has, filters or not, and parsing
the answer for 2,000 containers holds Python's interpreter for tens of milliseconds. So reads
never list: they use what was last listed, by owner. The engine's event stream (followed by
a thread) says whose container changed (events carry the labels), and another thread lists
again just those owners' containers. While others create and delete, a read is at most one
short listing behind the engine, and never waits for one.

A change the manager makes itself lists its owner's containers right after it (`refresh`), in
the thread of that change: its caller reads its own writes, and pays for them, not everyone
else. Everyone's are listed at start, after the event stream was reconnected, and every
MAX_AGE_SECONDS / 2; while the stream is not connected nothing is remembered and every read
asks the engine.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import suppress
from typing import Any

import docker
import docker.errors
import requests.exceptions
import urllib3.exceptions

from . import labels as L

log = logging.getLogger(__name__)

# How talking to the engine ends when it goes away, or when a quiet event stream times out:
# expected, and dealt with by listing directly meanwhile. Anything else is a bug, logged whole.
ENGINE_GONE = (
    docker.errors.DockerException,
    docker.errors.StreamParseError,
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,
    OSError,
)

RECONNECT_SECONDS = 1.0
# A stream that stalls without breaking would go unnoticed: no list is older than this.
MAX_AGE_SECONDS = 30.0
BATCH_SECONDS = 0.05  # events that come together are listed together

Summaries = list[dict[str, Any]]
EVERYONE = None


class Inventory:
    def __init__(self, client: docker.DockerClient, instance: str) -> None:
        self._client = client
        self._instance = instance
        self._lock = threading.Lock()
        self._listening = False
        # owner -> their containers; complete only while `_listed_at` is set
        self._by_owner: dict[str, Summaries] = {}
        self._everyone: Summaries | None = None  # made from `_by_owner` when asked for
        self._listed_at: float | None = None  # when everyone's were last listed
        # Bumped by every event about an owner's containers and every listing begun of them
        # (EVERYONE: for all): a listing is kept only if none begun later was kept before it.
        self._generation = 0
        self._owner_listed: dict[str | None, int] = {}
        self._dirty: set[str] = set()
        self._everyone_dirty = True
        self._stale = threading.Event()
        # container id -> when the engine last reported something about it
        self._last_event: dict[str, float] = {}
        self._closed = False
        self._stream: Any = None
        self._threads: list[threading.Thread] = []

    def remembered(self) -> Summaries | None:
        """Everyone's containers as last listed, if that may be used; else None."""
        with self._lock:
            return self._all() if self._usable() else None

    def remembered_of(self, owner: str) -> Summaries | None:
        """`owner`'s containers as last listed, if that may be used; else None."""
        with self._lock:
            return self._by_owner.get(owner, []) if self._usable() else None

    def containers(self, owner: str | None = None) -> Summaries:
        """This instance's containers (`owner`'s only, if given): the engine's list entries,
        not to be modified."""
        with self._lock:
            if self._usable():
                return self._all() if owner is None else self._by_owner.get(owner, [])
        return self._list(owner)

    def refresh(self, owner: str | None = None) -> None:
        """List `owner`'s containers (everyone's if None) now, and remember them unless a
        listing begun later is remembered already."""
        self._list(owner)

    def changed(self) -> None:
        """Containers changed and could not be listed: until everyone's are listed again,
        reads ask the engine (nobody reads the old list as current)."""
        with self._lock:
            self._generation += 1
            self._listed_at = None
            self._everyone_dirty = True
        self._stale.set()

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

    # --- under the lock -----------------------------------------------------------------------
    def _usable(self) -> bool:
        return (
            self._listening
            and self._listed_at is not None
            and time.monotonic() - self._listed_at < MAX_AGE_SECONDS
        )

    def _all(self) -> Summaries:
        if self._everyone is None:
            self._everyone = [s for summaries in self._by_owner.values() for s in summaries]
        return self._everyone

    # --- listing ------------------------------------------------------------------------------
    def _list(self, owner: str | None) -> Summaries:
        with self._lock:
            self._generation += 1
            generation = self._generation
        listed_at = time.monotonic()
        wanted = L.selector(self._instance, owner=owner)
        summaries: Summaries = self._client.api.containers(all=True, filters={"label": wanted})
        by_owner: dict[str, Summaries] = {}
        for summary in summaries:
            by_owner.setdefault((summary.get("Labels") or {}).get(L.OWNER, ""), []).append(summary)
        with self._lock:
            if self._listening:
                self._remember(owner, by_owner, generation, listed_at)
        return summaries

    def _remember(
        self, owner: str | None, by_owner: dict[str, Summaries], generation: int, at: float
    ) -> None:
        if owner is None:
            if self._owner_listed.get(EVERYONE, 0) > generation:
                return
            # Owners listed on their own since this listing began keep that newer listing.
            newer = {
                o: s for o, s in self._by_owner.items() if self._owner_listed.get(o, 0) > generation
            }
            self._by_owner = {**by_owner, **newer}
            self._owner_listed = {
                o: g for o, g in self._owner_listed.items() if g > generation and o is not None
            }
            self._owner_listed[EVERYONE] = generation
            self._listed_at = at
            self._everyone_dirty = False
            present = {s["Id"] for summaries in by_owner.values() for s in summaries}
            self._last_event = {k: v for k, v in self._last_event.items() if k in present}
        else:
            if max(self._owner_listed.get(owner, 0), self._owner_listed.get(EVERYONE, 0)) > (
                generation
            ):
                return
            self._by_owner[owner] = by_owner.get(owner, [])
            if not self._by_owner[owner]:
                del self._by_owner[owner]
            self._owner_listed[owner] = generation
        self._everyone = None

    # --- threads ------------------------------------------------------------------------------
    def _follow(self) -> None:
        while not self._closed:
            try:
                self._stream = self._client.api.events(
                    filters={"type": "container", "label": L.selector(self._instance)}, decode=True
                )
                # Subscribed: from here no change goes unseen, but one may have happened
                # while we were not listening.
                with self._lock:
                    self._listening = True
                    self._everyone_dirty = True
                self._stale.set()
                for event in self._stream:
                    attributes = (event.get("Actor") or {}).get("Attributes") or {}
                    with self._lock:
                        self._generation += 1
                        self._last_event[str(event.get("id", ""))] = time.monotonic()
                        owner = attributes.get(L.OWNER)
                        if owner is None:
                            self._everyone_dirty = True
                        else:
                            self._dirty.add(owner)
                    self._stale.set()
            except ENGINE_GONE as exc:
                if not self._closed:
                    log.debug("engine events interrupted (%s); listing directly meanwhile", exc)
            except Exception:
                log.exception("following the engine's events failed; listing directly meanwhile")
            finally:
                with self._lock:
                    self._listening = False
                    self._listed_at = None
                    self._by_owner, self._everyone = {}, None
            if not self._closed:
                time.sleep(RECONNECT_SECONDS)

    def _refresh(self) -> None:
        """List again whoever's containers changed, and everyone's before it gets too old."""
        while not self._closed:
            self._stale.wait(timeout=MAX_AGE_SECONDS / 2)
            if self._closed:
                return
            time.sleep(BATCH_SECONDS)
            self._stale.clear()
            with self._lock:
                if not self._listening:
                    continue
                old = self._listed_at is None or (
                    time.monotonic() - self._listed_at >= MAX_AGE_SECONDS / 2
                )
                everyone = self._everyone_dirty or old
                owners = [] if everyone else sorted(self._dirty)
                self._dirty = set()
            try:
                if everyone:
                    self._list(None)
                for owner in owners:
                    self._list(owner)
            except Exception as exc:  # reads list directly meanwhile
                if isinstance(exc, ENGINE_GONE):
                    log.debug("could not list the engine's containers: %s", exc)
                else:
                    log.exception("listing the engine's containers failed")
                with self._lock:
                    self._everyone_dirty = True
                time.sleep(RECONNECT_SECONDS)
