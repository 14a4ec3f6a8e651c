"""What the engine holds of copies and snapshots: their labels, and a snapshot's record.

A snapshot is a volume (kind `snapshot-data`) and, written last, its record: a never-started
container (kind `snapshot`) whose labels say whose it is, of which workspace, its name, size
and when. The helpers of copies are labelled by kind too (`archiver`, `copier`), so that what
a manager that ended left behind is found and removed.
"""

from __future__ import annotations

from datetime import datetime

from ... import naming
from ..base import SnapshotState
from . import labels as L

KIND_ARCHIVER = "archiver"
KIND_COPIER = "copier"
KIND_SNAPSHOT = "snapshot"
KIND_SNAPSHOT_DATA = "snapshot-data"
SNAPSHOT = L.PREFIX + "snapshot"  # the snapshot id, on its record, volume and copier
SNAPSHOT_NAME = L.PREFIX + "snapshot-name"
SOURCE = L.PREFIX + "source-workspace"  # of a snapshot: the workspace it was taken of
SIZE = L.PREFIX + "size"  # bytes
FILES = L.PREFIX + "files"
CHANGED = L.PREFIX + "changed-during-copy"
TARGET = L.PREFIX + "target"  # of a copier: the volume it writes
SEEDED = L.PREFIX + "seeded-from"  # of a workspace volume: what it was filled from
PROCESS = L.PREFIX + "process"  # of an archiver: the manager process reading it
UPLOAD = "upload"  # (SEEDED: filled from an uploaded archive)


def snapshot_volume_name(instance: str, owner: str, snapshot_id: str) -> str:
    """Like a workspace's volume: the instance, the owner's slug and the (random) id."""
    return f"{instance}-{naming.slug(owner)}-{snapshot_id}-snapshot"


def snapshot_labels(state: SnapshotState) -> dict[str, str]:
    return {
        SNAPSHOT: state.id,
        SNAPSHOT_NAME: state.name,
        SOURCE: state.workspace_id,
        L.DISPLAY_NAME: state.workspace_name,
        SIZE: str(state.size),
        FILES: str(state.files),
        CHANGED: str(state.changed_during_copy),
        L.CREATED_AT: state.created_at.isoformat(),
    }


def snapshot_of(labels: dict[str, str]) -> SnapshotState:
    return SnapshotState(
        id=labels[SNAPSHOT],
        owner=labels[L.OWNER],
        workspace_id=labels[SOURCE],
        name=labels[SNAPSHOT_NAME],
        workspace_name=labels.get(L.DISPLAY_NAME, ""),
        size=int(labels[SIZE]),
        files=int(labels[FILES]),
        changed_during_copy=int(labels[CHANGED]),
        created_at=datetime.fromisoformat(labels[L.CREATED_AT]),
    )
