"""Workspace images on the host: found, or pulled with each layer's progress told to the
workspace's followers; and the empty local image records are made from."""

from __future__ import annotations

import io
import tarfile
import threading
import time
from typing import Any, Protocol

import docker
import docker.errors
from docker.utils import parse_repository_tag

from ...errors import ResourceUnavailable
from ...settings import MIB, Settings
from . import spec as build
from .pending import PendingCreates


class Publish(Protocol):
    def __call__(
        self, owner: str, workspace_id: str, phase: str, message: str, **progress: Any
    ) -> None: ...


class Images:
    def __init__(
        self,
        client: docker.DockerClient,
        settings: Settings,
        publish: Publish,
        pending: PendingCreates,
    ) -> None:
        self.client = client
        self.settings = settings
        self.publish = publish
        self.pending = pending  # told how a background create's pull is getting on
        self._record_image_ready = False
        self._record_image_lock = threading.Lock()

    def present(self, image: str) -> bool:
        """Whether `image` is on the host; refuses at once if it is not and may not be pulled."""
        try:
            self.client.images.get(image)
            return True
        except docker.errors.ImageNotFound:
            pass
        if not self.settings.workspace_image_pull:
            raise ResourceUnavailable(
                f"Image {image} is not available on this host (pulling is turned off). "
                "Ask an administrator to load it, or pick another image."
            )
        return False

    def ensure(self, image: str, workspace: tuple[str, str] | None = None) -> None:
        """Pull an allowed image that is not on the host, telling `workspace`'s followers
        each layer's progress."""
        if self.present(image):
            return
        repository, tag = parse_repository_tag(image)
        owner, workspace_id = workspace or ("", "")
        if workspace:
            self.publish(owner, workspace_id, "pulling", f"Pulling image {image}.")
        last_told: dict[str, tuple[str, float]] = {}  # layer -> (status, when) last published
        downloads: dict[str, tuple[int, int]] = {}  # layer -> (bytes done, bytes in all)
        try:
            for line in self.client.api.pull(
                repository, tag=tag or "latest", stream=True, decode=True
            ):
                if "error" in line:
                    raise docker.errors.APIError(line["error"], explanation=line["error"])
                detail = line.get("progressDetail") or {}
                layer = line.get("id")
                if layer and line.get("status") == "Downloading" and detail.get("total"):
                    downloads[layer] = (int(detail.get("current") or 0), int(detail["total"]))
                elif layer and line.get("status") in ("Download complete", "Pull complete"):
                    total = downloads.get(layer, (0, 0))[1]
                    downloads[layer] = (total, total)
                if downloads and workspace_id:
                    done = sum(d for d, _ in downloads.values()) // MIB
                    size = sum(t for _, t in downloads.values()) // MIB
                    self.pending.progress(
                        workspace_id, f"Pulling image {image}: {done} of {size} MB downloaded."
                    )
                # Every change of a layer's status, and its progress at most a few times a
                # second: enough for a progress bar.
                status = str(line.get("status", ""))
                told_status, told_at = last_told.get(layer or "", ("", 0.0))
                if (
                    workspace
                    and layer
                    and (status != told_status or time.monotonic() - told_at > 0.25)
                ):
                    last_told[layer] = (status, time.monotonic())
                    self.publish(
                        owner,
                        workspace_id,
                        "pulling",
                        f"{status} {layer}".strip(),
                        layer=layer,
                        current=detail.get("current"),
                        total=detail.get("total"),
                    )
        except docker.errors.APIError as exc:
            raise ResourceUnavailable(
                f"Image {image} is not available on this host and could not be pulled "
                f"({exc.explanation}). Ask an administrator to load it, or pick another image."
            ) from exc

    def ensure_record_image(self) -> None:
        """The empty image records are made from; imported once, no registry needed."""
        if self._record_image_ready:
            return
        with self._record_image_lock:
            try:
                self.client.images.get(build.RECORD_IMAGE)
            except docker.errors.ImageNotFound:
                empty = io.BytesIO()
                tarfile.open(fileobj=empty, mode="w").close()
                repository, tag = build.RECORD_IMAGE.split(":")
                self.client.api.import_image_from_data(
                    empty.getvalue(), repository=repository, tag=tag
                )
            self._record_image_ready = True
