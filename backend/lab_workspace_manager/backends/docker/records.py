"""A workspace's record: its settings and the state its user asked for, kept in labels.

Container labels cannot be changed, so each change writes the next revision of the record
(a container that never runs) and then removes the revisions it replaces.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

import docker
import docker.errors

from ...errors import Conflict
from ...models import WorkspaceSpec
from ...settings import Settings
from . import labels as L
from . import spec as build
from .engine import remove_container

Desired = Literal["running", "stopped"]


@dataclass(frozen=True)
class Record:
    owner: str
    workspace_id: str
    revision: int
    spec: WorkspaceSpec
    desired: Desired
    # Completes "Stopped ..." for the user: "by its user", "after 30 min without activity".
    reason: str
    changed_at: datetime
    created_at: datetime

    def to_labels(self, instance: str) -> dict[str, str]:
        return {
            L.INSTANCE: instance,
            L.KIND: L.KIND_RECORD,
            L.OWNER: self.owner,
            L.WORKSPACE: self.workspace_id,
            L.REVISION: str(self.revision),
            L.DISPLAY_NAME: self.spec.display_name,
            L.SPEC: self.spec.model_dump_json(),
            L.DESIRED: self.desired,
            L.REASON: self.reason,
            L.CHANGED_AT: self.changed_at.isoformat(),
            L.CREATED_AT: self.created_at.isoformat(),
        }

    @classmethod
    def from_labels(cls, labels: dict[str, str]) -> Record:
        desired = labels[L.DESIRED]
        return cls(
            owner=labels[L.OWNER],
            workspace_id=labels[L.WORKSPACE],
            revision=int(labels[L.REVISION]),
            spec=WorkspaceSpec.model_validate(json.loads(labels[L.SPEC])),
            desired="stopped" if desired == "stopped" else "running",
            reason=labels.get(L.REASON, ""),
            changed_at=datetime.fromisoformat(labels[L.CHANGED_AT]),
            created_at=datetime.fromisoformat(labels[L.CREATED_AT]),
        )


class RecordStore:
    def __init__(
        self, client: docker.DockerClient, settings: Settings, prepare: Callable[[], None]
    ) -> None:
        self.client = client
        self.settings = settings
        self._prepare = prepare  # makes the image records are made from

    def write(self, record: Record, previous: list[dict[str, Any]]) -> None:
        """Store `record` as the next revision (after its own: the newest of `previous`; 0
        for a new workspace), then drop the revisions it replaces. Of two writers of the
        same revision one gets `Conflict` (a record's name holds its revision)."""
        self._prepare()
        record = replace(record, revision=record.revision + 1)
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
            remove_container(self.client, old["Id"])

    def set_desired(
        self,
        record: Record,
        previous: list[dict[str, Any]],
        desired: Desired,
        reason: str,
    ) -> None:
        """Record the state the workspace should be in (and why), if that is news."""
        if record.desired != desired or record.reason != reason:
            changed = replace(record, desired=desired, reason=reason, changed_at=datetime.now(UTC))
            self.write(changed, previous)
