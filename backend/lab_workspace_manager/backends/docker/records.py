"""A workspace's record: its settings and the state its user asked for, kept in labels."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ...models import WorkspaceSpec
from . import labels as L

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
