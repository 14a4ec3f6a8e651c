"""Creates that are not finished: what the engine's labels cannot tell yet.

- pulling: the record exists, its image is being pulled in the background (with the pull's
  progress for the user);
- failed: the pull or the build after it failed (until the next start or delete; after a
  manager restart such a workspace reads "container missing", and starting it builds again);
- rollbacks due: creates whose caller was told they failed but whose undoing failed too (the
  engine went away half way); the reconciler undoes them.

The first two are told to the other managers sharing DATA_DIR (`shared.py`), which show them
too; rollbacks stay with the manager that told its caller.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from typing import Any

from ...models import WorkspaceStatus
from ...shared import SharedState

SHARE_SECONDS = 1.0  # a pull's progress is told to the other managers at most this often


class PendingCreates:
    def __init__(self, shared: SharedState) -> None:
        self._shared = shared
        self._shared_at: dict[str, float] = {}
        self._pulling: dict[str, str] = {}  # workspace id -> progress sentence
        self._failed: dict[str, str] = {}  # workspace id -> why
        self._rollbacks_due: dict[str, str] = {}  # workspace id -> owner
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()  # (pulls report progress from worker threads)

    # --- pulls --------------------------------------------------------------------------------
    def pull(self, workspace_id: str, image: str, build: Coroutine[Any, Any, None]) -> None:
        """Run `build` (pull, then build the workspace) in the background."""
        self._pulling[workspace_id] = f"Pulling image {image}."
        self._shared.set_pending(workspace_id, "pending", self._pulling[workspace_id])
        task = asyncio.create_task(build)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def progress(self, workspace_id: str, sentence: str) -> None:
        """How a background pull is getting on (nothing if its workspace is not pulling)."""
        with self._lock:
            if workspace_id not in self._pulling:
                return
            self._pulling[workspace_id] = sentence
            now = time.monotonic()
            if now - self._shared_at.get(workspace_id, 0) < SHARE_SECONDS:
                return
            self._shared_at[workspace_id] = now
        self._shared.set_pending(workspace_id, "pending", sentence)

    def is_pulling(self, workspace_id: str) -> bool:
        return workspace_id in self._pulling

    def pulled(self, workspace_id: str) -> None:
        with self._lock:
            pulling = self._pulling.pop(workspace_id, None)
            self._shared_at.pop(workspace_id, None)
        if pulling is not None and workspace_id not in self._failed:
            self._shared.clear_pending(workspace_id)

    def fail(self, workspace_id: str, why: str) -> None:
        self._failed[workspace_id] = why
        self._shared.set_pending(workspace_id, "failed", why)

    def status(self, workspace_id: str) -> tuple[WorkspaceStatus, str] | None:
        """What a workspace without a container is, while its create is pending or failed."""
        if workspace_id in self._pulling:
            return WorkspaceStatus.PENDING, self._pulling[workspace_id]
        why = self._failed.get(workspace_id)
        if why is None:  # under way, or failed, in another manager?
            status, message = self._shared.pending(workspace_id) or ("", "")
            if status == "pending":
                return WorkspaceStatus.PENDING, message
            why = message if status == "failed" else None
        if why is not None:
            return WorkspaceStatus.FAILED, f"Failed: {why} Start it to try again, or delete it."
        return None

    def forget(self, workspace_id: str) -> None:
        """Started again or deleted: nothing pending any more."""
        self._failed.pop(workspace_id, None)
        self.pulled(workspace_id)
        self._shared.clear_pending(workspace_id)

    # --- rollbacks ----------------------------------------------------------------------------
    def rollback_due(self, owner: str, workspace_id: str) -> None:
        self._rollbacks_due[workspace_id] = owner

    def rollbacks_due(self) -> list[tuple[str, str]]:
        """(owner, workspace id) of each create still to undo."""
        return [(owner, ws) for ws, owner in self._rollbacks_due.items()]

    def rolling_back(self, workspace_id: str) -> bool:
        return workspace_id in self._rollbacks_due

    def rolled_back(self, workspace_id: str) -> None:
        self._rollbacks_due.pop(workspace_id, None)

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
