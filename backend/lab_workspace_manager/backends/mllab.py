"""Workspaces as ML Lab (contaxy) services in their owner's home project.

They then run wherever ML Lab runs (Docker or Kubernetes) and are reached through ML Lab's
proxy at `/projects/<p>/services/<s>/access/8080b` (the `b` keeps the path, which is what
ml-workspace's WORKSPACE_BASE_URL needs). Every call acts with the caller's own ML Lab token
(`for_caller`), so ML Lab's permissions apply on top of ours.

What we do on top of contaxy 0.0.23 (see shared/reference/mllab-api.md):
  - our services carry metadata (`lwm.instance`, `lwm.workspace`, ...); services without it
    are never listed or touched;
  - the service's display name is derived from our workspace id (contaxy cannot rename a
    service); the user's name lives in metadata;
  - `min_cpus`/`min_memory` equal the limits, so contaxy's defaults (1 CPU, 1000 MB) do not
    make small workspaces fail on small hosts;
  - a failed deploy's leftover record is deleted; a stopped service's volume, which contaxy
    does not delete, is deleted after starting it, when the user asked for their data to go.
Known limits of contaxy here: /dev/shm stays at Docker's 64 MB, volume and container sizes
are not enforced on Docker, and a change of any setting recreates the container.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import httpx

from ..auth.base import Identity
from ..errors import (
    BackendUnavailable,
    Conflict,
    Forbidden,
    ManagerError,
    NotFound,
    ResourceUnavailable,
    Unauthenticated,
    workspace_not_found,
)
from ..models import WorkspaceSpec, WorkspaceStatus
from ..settings import Settings
from .base import BY_USER, WorkspaceBackend, WorkspaceState

log = logging.getLogger(__name__)

ENDPOINT = "8080b"
IDEMPOTENT = {"GET", "HEAD", "PATCH", "DELETE"}
INSTANCE = "lwm.instance"
WORKSPACE = "lwm.workspace"
DISPLAY_NAME = "lwm.display-name"
SPEC = "lwm.spec"
# What the original manager marked its services with; kept so ML Lab tools recognise them.
ORIGINAL_MARK = {"ctxy.workspaceExtension.deploymentType": "workspace"}

STATUS = {
    "pending": WorkspaceStatus.PENDING,
    "running": WorkspaceStatus.RUNNING,
    "stopped": WorkspaceStatus.STOPPED,
    "succeeded": WorkspaceStatus.STOPPED,
    "failed": WorkspaceStatus.FAILED,
    "terminating": WorkspaceStatus.TERMINATING,
}
MESSAGES = {
    "pending": "Starting: ML Lab is deploying the workspace.",
    "running": "Running.",
    "stopped": "Stopped.",
    "succeeded": "Stopped: the workspace's main process ended. Start it again to continue.",
    "failed": "Failed: the workspace exited with an error. Check its logs, then restart it.",
    "terminating": "Being removed.",
}


def service_name(workspace_id: str) -> str:
    return f"ws-{workspace_id}"


def service_input(
    settings: Settings, workspace_id: str, spec: WorkspaceSpec, start: bool
) -> dict[str, Any]:
    """The contaxy `ServiceInput` for a workspace (a pure function; tests compare it)."""
    c = spec.compute
    return {
        "container_image": spec.container_image,
        "display_name": service_name(workspace_id),
        "description": spec.display_name,
        "icon": "code",
        "endpoints": [ENDPOINT],
        "parameters": {
            **spec.environment,  # the template's; the manager's own come after, and win
            # contaxy fills in /projects/<p>/services/<s>/access/8080b.
            "WORKSPACE_BASE_URL": "{env.CONTAXY_SERVICE_URL}",
            "MAX_NUM_THREADS": str(c.threads()),
            "SHARED_LINKS_ENABLED": "false",
        },
        "compute": {
            "max_cpus": c.cpus,
            "min_cpus": c.cpus,
            "max_memory": c.memory,
            "min_memory": c.memory,
            "max_gpus": c.gpus or None,
            "volume_path": "/workspace",
            "max_volume_size": c.volume_size,
            "max_container_size": settings.container_size,
        },
        "metadata": {
            INSTANCE: settings.instance_id,
            WORKSPACE: workspace_id,
            DISPLAY_NAME: spec.display_name,
            SPEC: spec.model_dump_json(),
            **ORIGINAL_MARK,
        },
        "idle_timeout": spec.idle_timeout or None,
        "clear_volume_on_stop": spec.clear_volume_on_stop,
        "is_stopped": not start,
    }


class MLLabBackend(WorkspaceBackend):
    name = "mllab"
    proxied_by_manager = False  # opened on ML Lab's proxy, at their `access_url`
    watched_by_manager = False  # ML Lab stops idle services (idle_timeout is passed on)

    def __init__(self, settings: Settings, http: httpx.AsyncClient, token: str = "") -> None:
        assert settings.contaxy_api_endpoint, "the ML Lab backend needs CONTAXY_API_ENDPOINT"
        self.settings = settings
        self._http = http
        self._endpoint = settings.contaxy_api_endpoint.rstrip("/")
        self._token = token

    def for_caller(self, caller: Identity) -> WorkspaceBackend:
        backend = MLLabBackend(self.settings, self._http, caller.token)
        backend.events = self.events
        return backend

    # --- the contract -------------------------------------------------------------------------
    async def list_workspaces(self, owner: str | None) -> list[WorkspaceState]:
        if owner is None:
            raise ResourceUnavailable(
                "Listing every user's workspaces is not possible with the ML Lab backend; "
                "filter by user_id."
            )
        services = await self._call("GET", f"/projects/{owner}/services", "list the workspaces")
        states = [self._state(owner, s) for s in services if self._ours(s)]
        return sorted(states, key=lambda s: s.created_at)

    async def get(self, owner: str, workspace_id: str) -> WorkspaceState:
        return self._state(owner, await self._service(owner, workspace_id))

    async def create(
        self, owner: str, workspace_id: str, spec: WorkspaceSpec, start: bool
    ) -> WorkspaceState:
        body = service_input(self.settings, workspace_id, spec, start)
        try:
            await self._call(
                "POST", f"/projects/{owner}/services", "create the workspace", json=body
            )
        except ManagerError:
            # contaxy 0.0.23 keeps a stopped record of a failed deploy: remove it.
            await self._remove_leftover(owner, workspace_id)
            raise
        return await self.get(owner, workspace_id)

    async def update(self, owner: str, workspace_id: str, spec: WorkspaceSpec) -> WorkspaceState:
        service = await self._service(owner, workspace_id)
        body = service_input(self.settings, workspace_id, spec, start=True)
        patch = {
            k: body[k]
            for k in (
                "container_image",
                "description",
                "compute",
                "metadata",
                "idle_timeout",
                "clear_volume_on_stop",
                "parameters",  # (a template's environment, applied)
            )
        }
        await self._call("PATCH", self._path(owner, service), "change the workspace", json=patch)
        return await self.get(owner, workspace_id)

    async def start(self, owner: str, workspace_id: str) -> WorkspaceState:
        service = await self._service(owner, workspace_id)
        if service.get("status") not in ("running", "pending"):
            await self._action(owner, service, "start")
        return await self.get(owner, workspace_id)

    async def stop(self, owner: str, workspace_id: str, reason: str = BY_USER) -> WorkspaceState:
        service = await self._service(owner, workspace_id)
        if service.get("status") != "stopped":
            await self._action(owner, service, "stop")
        return await self.get(owner, workspace_id)

    async def restart(self, owner: str, workspace_id: str) -> WorkspaceState:
        service = await self._service(owner, workspace_id)
        verb = "restart" if service.get("status") in ("running", "pending") else "start"
        await self._action(owner, service, verb)
        return await self.get(owner, workspace_id)

    async def delete(self, owner: str, workspace_id: str, delete_volume: bool) -> None:
        try:
            service = await self._service(owner, workspace_id)
        except NotFound:
            return
        if delete_volume and service.get("status") == "stopped":
            # contaxy only removes the volume of a service that has a container.
            await self._action(owner, service, "start")
        await self._call(
            "DELETE",
            self._path(owner, service),
            "delete the workspace",
            params={"delete_volumes": str(delete_volume).lower()},
            missing_ok=True,
        )

    async def logs(self, owner: str, workspace_id: str, tail: int) -> str:
        service = await self._service(owner, workspace_id)
        if service.get("status") == "stopped":
            return ""
        text = await self._call(
            "GET",
            self._path(owner, service) + "/logs",
            "read the workspace's logs",
            params={"lines": tail},
        )
        return "" if text == "No logs available." else str(text)

    async def check_health(self) -> None:
        try:
            response = await self._http.get(f"{self._endpoint}/system/health")
        # ML Lab answers 204 when healthy.
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"ML Lab cannot be reached at {self._endpoint}.") from exc
        if response.status_code >= 500:
            raise BackendUnavailable(f"ML Lab at {self._endpoint} is not healthy.")

    # --- helpers ------------------------------------------------------------------------------
    def _ours(self, service: dict[str, Any]) -> bool:
        metadata = service.get("metadata") or {}
        return bool(metadata.get(INSTANCE) == self.settings.instance_id and metadata.get(WORKSPACE))

    async def _service(self, owner: str, workspace_id: str) -> dict[str, Any]:
        services = await self._call("GET", f"/projects/{owner}/services", "find the workspace")
        for service in services:
            if self._ours(service) and service["metadata"][WORKSPACE] == workspace_id:
                return dict(service)
        raise workspace_not_found(workspace_id)

    @staticmethod
    def _path(owner: str, service: dict[str, Any]) -> str:
        return f"/projects/{owner}/services/{service['id']}"

    async def _action(self, owner: str, service: dict[str, Any], verb: str) -> None:
        await self._call(
            "POST", f"{self._path(owner, service)}/actions/{verb}", f"{verb} the workspace"
        )

    async def _remove_leftover(self, owner: str, workspace_id: str) -> None:
        try:
            service = await self._service(owner, workspace_id)
            await self._call(
                "DELETE",
                self._path(owner, service),
                "clean up",
                params={"delete_volumes": "true"},
                missing_ok=True,
            )
        except ManagerError:
            log.warning(
                "could not remove the record of the failed workspace %s",
                workspace_id,
                exc_info=True,
            )

    def _state(self, owner: str, service: dict[str, Any]) -> WorkspaceState:
        metadata = service.get("metadata") or {}
        spec = WorkspaceSpec.model_validate(json.loads(metadata[SPEC]))
        spec = spec.model_copy(
            update={"display_name": metadata.get(DISPLAY_NAME, spec.display_name)}
        )
        raw = str(service.get("status") or "unknown")
        status = STATUS.get(raw, WorkspaceStatus.UNKNOWN)
        created = service.get("created_at")
        access = f"/projects/{owner}/services/{service['id']}/access/{ENDPOINT}/"
        return WorkspaceState(
            id=metadata[WORKSPACE],
            owner=owner,
            spec=spec,
            status=status,
            status_message=MESSAGES.get(raw, f"Unknown: ML Lab reports the state '{raw}'."),
            is_stopped=raw == "stopped",
            created_at=datetime.fromisoformat(str(created)) if created else datetime.now(UTC),
            access_url=access if status is WorkspaceStatus.RUNNING else None,
        )

    async def _call(
        self,
        method: str,
        path: str,
        action: str,
        missing_ok: bool = False,
        **kwargs: Any,
    ) -> Any:
        """One request to ML Lab as the caller, its errors translated."""
        url, headers = self._endpoint + path, {"Authorization": f"Bearer {self._token}"}
        # ML Lab may close a connection after an error without saying so, and a pooled
        # connection is then found closed. Requests that change nothing (or change it
        # idempotently) are sent again, a few times.
        attempts = 3 if method in IDEMPOTENT else 1
        try:
            for attempt in range(attempts):
                try:
                    response = await self._http.request(method, url, headers=headers, **kwargs)
                    break
                except (httpx.RemoteProtocolError, httpx.ReadError):
                    if attempt == attempts - 1:
                        raise
        except httpx.HTTPError as exc:
            raise BackendUnavailable(
                f"ML Lab cannot be reached at {self._endpoint}, so the manager could not "
                f"{action}. Try again in a minute."
            ) from exc
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 400:
            raise _error(response, action)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:  # some contaxy actions answer plain text
            return response.text


def _error(response: httpx.Response, action: str) -> ManagerError:
    try:
        said = response.json().get("message") or response.text
    except ValueError:
        said = response.text
    message = f"ML Lab refused to {action}: {said}"
    kinds: dict[int, type[ManagerError]] = {
        401: Unauthenticated,
        403: Forbidden,
        404: NotFound,
        409: Conflict,
    }
    if response.status_code in kinds:
        return kinds[response.status_code](message)
    if response.status_code >= 500:
        return ManagerError(
            f"ML Lab failed to {action} ({said}). A missing image or a host without the "
            "requested resources are the usual causes; ask an administrator to check ML Lab."
        )
    return ManagerError(message)
