"""Our containers as the engine lists them, remembered for as long as nothing has changed.

Listing containers makes the engine walk every container it has, filters or not: with 1,000
workspaces (2,000 containers) one list took 70 ms and more, and every read of the API paid it.
So reads use the last list while nothing has changed since. Two things say that something did:
the engine's event stream, filtered to this instance's containers, which a thread follows; and
every change the manager makes itself (`changed()`), so a caller reads its own writes even
before their events arrive. While the stream is not connected (at start, after the engine went
away), nothing is remembered and every read asks the engine; and no list is used for longer
than MAX_AGE_SECONDS, so even an event stream that stalls without breaking costs only that.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import suppress
from typing import Any

import docker

from . import labels as L

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 1.0
MAX_AGE_SECONDS = 5.0


class Inventory:
    def __init__(self, client: docker.DockerClient, instance: str) -> None:
        self._client = client
        self._label = f"{L.INSTANCE}={instance}"
        self._lock = threading.Lock()
        # Bumped by every event and every change of ours; a list is good while it is unchanged.
        self._generation = 0
        self._remembered: tuple[int, float, dict[str | None, list[dict[str, Any]]]] | None = None
        self._listening = False
        self._closed = False
        self._stream: Any = None
        self._thread: threading.Thread | None = None

    def containers(self, owner: str | None = None) -> list[dict[str, Any]]:
        """This instance's containers (`owner`'s only, if given): the engine's list entries,
        not to be modified."""
        with self._lock:
            if self._listening and self._remembered:
                generation, listed_at, remembered = self._remembered
                fresh = time.monotonic() - listed_at < MAX_AGE_SECONDS
                if generation == self._generation and fresh:
                    return remembered.get(owner, []) if owner is not None else remembered[None]
            generation = self._generation
        listed_at = time.monotonic()
        summaries: list[dict[str, Any]] = self._client.api.containers(
            all=True, filters={"label": [self._label]}
        )
        # By owner too, so one user's read does not walk everyone's containers.
        by_owner: dict[str | None, list[dict[str, Any]]] = {None: summaries}
        for summary in summaries:
            by_owner.setdefault((summary.get("Labels") or {}).get(L.OWNER, ""), []).append(summary)
        with self._lock:
            # Kept only if nothing happened while the engine was answering.
            if self._listening and generation == self._generation:
                self._remembered = (generation, listed_at, by_owner)
        return by_owner.get(owner, []) if owner is not None else summaries

    def changed(self) -> None:
        with self._lock:
            self._generation += 1
            self._remembered = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._follow, name="docker-events", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._closed = True
        stream = self._stream
        if stream is not None:
            with suppress(Exception):  # closing a dead connection: nothing left to do
                stream.close()

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
                for _event in self._stream:
                    self.changed()
            except Exception as exc:  # the engine went away, or a quiet stream timed out
                if not self._closed:
                    log.debug("engine events interrupted (%s); listing directly meanwhile", exc)
            finally:
                with self._lock:
                    self._listening = False
                    self._generation += 1
                    self._remembered = None
            if not self._closed:
                time.sleep(RECONNECT_SECONDS)
