"""`/config` for the UI and `/healthz` for whoever watches the manager."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ...backends import WorkspaceBackend
from ...errors import BackendUnavailable
from ...models import Health, WorkspaceConfigOptions
from ...settings import Settings
from ...sharing import sharing_refusal
from ..deps import AuthenticatorDep, BackendDep, CurrentIdentity, SettingsDep

router = APIRouter(tags=["system"])


@router.get("/config", response_model=WorkspaceConfigOptions, operation_id="getConfig")
async def get_config(
    settings: SettingsDep, identity: CurrentIdentity, backend: BackendDep
) -> WorkspaceConfigOptions:
    return config_options(settings, backend, identity.is_admin)


def config_options(
    settings: Settings, backend: WorkspaceBackend, is_admin: bool
) -> WorkspaceConfigOptions:
    """What a UI may offer under `settings` (the settings, or a template's rules)."""
    images = settings.allowed_images
    return WorkspaceConfigOptions(
        display_name_default=settings.display_name_default,
        container_image_default=images[0],
        container_image_options=images,
        cpus_default=settings.cpus_default,
        cpus_min=settings.cpus_min,
        cpus_max=settings.cpus_max,
        cpus_step=settings.cpus_step,
        cpus_options=settings.cpus_options,
        memory_default=settings.memory_default,
        memory_min=settings.memory_min,
        memory_max=settings.memory_max,
        memory_options=settings.memory_options,
        volume_size_default=settings.volume_size_default,
        volume_size_min=settings.volume_size_min,
        volume_size_max=settings.volume_size_max or settings.volume_size_default,
        container_size=settings.container_size,
        gpus_default=settings.gpus_default,
        gpus_max=settings.gpus_max,
        shm_size=settings.shm_size,
        idle_timeout_default=settings.idle_timeout_default,
        idle_timeout_options=settings.idle_timeout_options,
        always_clear_volume_on_stop=settings.always_clear_volume_on_stop,
        container_size_hard=backend.disk_limits.hard_container_size,
        volume_size_hard=backend.disk_limits.hard_volume_size,
        egress_blocked=backend.egress_blocked,
        schedules_available=backend.watched_by_manager,
        schedule_default=settings.schedule_default if backend.watched_by_manager else None,
        schedule_stop_latest=settings.schedule_stop_latest,
        schedule_timezone=settings.schedule_timezone,
        sharing_available=sharing_refusal(settings, backend) is None,
        snapshots_available=backend.snapshots_offered,
        snapshot_max_size=settings.snapshot_max_size,
        custom_allowed=settings.custom_allowed or is_admin,
        workspaces_on_manager_origin=settings.unsafe_workspaces_on_manager_origin
        and backend.proxied_by_manager,
    )


@router.get(
    "/healthz",
    response_model=Health,
    operation_id="getHealth",
    responses={503: {"model": Health, "description": "The backend is not reachable."}},
)
async def health(backend: BackendDep, authenticator: AuthenticatorDep) -> Health | JSONResponse:
    try:
        await backend.check_health()
    except BackendUnavailable as exc:
        body = Health(
            status="unavailable",
            backend=backend.name,
            auth_mode=authenticator.mode,
            detail=exc.message,
        )
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", backend=backend.name, auth_mode=authenticator.mode)
