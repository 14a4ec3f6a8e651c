"""All configuration, read once from the environment and validated at start-up.

Nothing else in the package reads the environment: the app gets a `Settings` object
(`create_app(settings)`), so tests can build one with any values they need.

Several settings accept two names: the original manager's (`WORKSPACE_MEMORY_MB_MAX`, ...) and
the ones its README and ML Lab's compose file use (`WORKSPACE_MAX_MEMORY_MB`, ...), which the
original silently ignored.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .images import ImageOption, default_image, image_options
from .models import CLOCK_TIME, Schedule

MIB = 1024 * 1024


# "{id}." then a domain of DNS labels, then an optional port.
WORKSPACE_HOST = re.compile(
    r"\{id\}(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+(?::(?:[1-9][0-9]{0,4}))?"
)


def _aliases(*names: str) -> AliasChoices:
    return AliasChoices(*names)


def _parse_list(value: Any) -> Any:
    """Accept a JSON list or a comma-separated string; an empty string is an empty list."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return []
    if text.startswith("["):
        return json.loads(text)
    return [item.strip() for item in text.split(",") if item.strip()]


IntList = Annotated[list[int], NoDecode]
FloatList = Annotated[list[float], NoDecode]
StrList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", populate_by_name=True, case_sensitive=False
    )

    # --- server -------------------------------------------------------------------------------
    port: int = Field(8080, validation_alias=_aliases("PORT"))
    # Loopback by default: inside the image nginx is the public side.
    host: str = Field("127.0.0.1", validation_alias=_aliases("HOST"))
    backend_cors_origins: StrList = Field(
        default_factory=list, validation_alias=_aliases("BACKEND_CORS_ORIGINS")
    )
    log_level: str = Field("info", validation_alias=_aliases("LOG_LEVEL"))

    # --- sign-in ------------------------------------------------------------------------------
    # Set: ML Lab mode (tokens are ML Lab's, verified there). Unset: standalone sign-in.
    contaxy_api_endpoint: str | None = Field(
        None, validation_alias=_aliases("CONTAXY_API_ENDPOINT")
    )
    # Standalone: generated at first start and kept in DATA_DIR when not given.
    admin_token: SecretStr | None = Field(None, validation_alias=_aliases("ADMIN_TOKEN"))
    jwt_secret: SecretStr | None = Field(None, validation_alias=_aliases("JWT_SECRET"))
    admin_user_id: str = Field("admin", validation_alias=_aliases("ADMIN_USER_ID"))
    # Where standalone secrets and the list of issued tokens are kept.
    data_dir: Path = Field(
        Path.home() / ".local/share/lab-workspace-manager", validation_alias=_aliases("DATA_DIR")
    )
    # Managers on several hosts (replicas on a swarm) share their state (locks, names being
    # made, activity, issued tokens, events) in PostgreSQL instead of DATA_DIR: a URL such as
    # postgresql://user:password@host:5432/db. One database may serve several instances.
    database_url: SecretStr | None = Field(None, validation_alias=_aliases("DATABASE_URL"))
    # Connections to it per manager, at most: each lock held (one per change under way) holds
    # one.
    database_connections: int = Field(
        40, ge=4, le=500, validation_alias=_aliases("DATABASE_CONNECTIONS")
    )
    token_lifetime_default: int = Field(
        90 * 24 * 3600, validation_alias=_aliases("TOKEN_LIFETIME_DEFAULT")
    )
    # How long an ML Lab verdict on a token is reused (seconds).
    auth_cache_seconds: float = Field(30.0, validation_alias=_aliases("AUTH_CACHE_SECONDS"))
    # A bearer token that may read GET /metrics and nothing else (for Prometheus), besides
    # the administrators. Unset: only administrators read them.
    metrics_token: SecretStr | None = Field(None, validation_alias=_aliases("METRICS_TOKEN"))
    # Requests per second to the API (nginx, /api/) per credential, or per address for
    # requests without one; bursts of twice that are let through. 0: no limit.
    api_rate_limit: int = Field(50, ge=0, le=100_000, validation_alias=_aliases("API_RATE_LIMIT"))
    # Proxies in front of the manager's nginx that add to X-Forwarded-For (ML Lab's: 1), so
    # that limits per client address see the client's, not the last proxy's.
    forwarded_proxies: int = Field(0, ge=0, le=5, validation_alias=_aliases("FORWARDED_PROXIES"))
    # Mark the sign-in cookie Secure (serve over HTTPS when you set this).
    cookie_secure: bool = Field(False, validation_alias=_aliases("COOKIE_SECURE"))

    # --- where workspaces live ----------------------------------------------------------------
    # docker: the engine directly; swarm: services on a Docker Swarm cluster (DOCKER_HOST is
    # a manager node's engine); mllab: ML Lab services (the default in ML Lab mode); memory:
    # an in-memory fake for development.
    workspace_backend: Literal["docker", "swarm", "mllab", "memory"] | None = Field(
        None, validation_alias=_aliases("WORKSPACE_BACKEND")
    )
    # Several managers may share one engine: everything this one creates carries this label
    # value, and it only ever lists or touches objects that carry it.
    instance_id: str = Field(
        "lwm", validation_alias=_aliases("WORKSPACE_MANAGER_INSTANCE", "INSTANCE_ID")
    )
    docker_host: str | None = Field(None, validation_alias=_aliases("DOCKER_HOST"))
    # The manager's own container (name or id), when it runs in one: it joins each user's
    # network to reach their workspaces. The image sets it to its own container id.
    manager_container: str | None = Field(None, validation_alias=_aliases("MANAGER_CONTAINER"))
    # Set by a replica of docker/stack.yml (`replica.py`) on the manager it runs: the
    # replica's container; the manager ends once that is gone (a replica killed outright).
    replica_of: str | None = Field(None, validation_alias=_aliases("REPLICA_OF"))
    # Swarm: how the manager reaches the engine of one node (a workspace's data lives on the
    # node where it first ran: removing it, measuring disk and CPU use happen there). A
    # template with {hostname} and/or {address} (the node's address in the swarm), e.g.
    # "tcp://{address}:2376" with SWARM_NODE_TLS_DIR, or a unix socket per node. Unset: the
    # manager reaches no node's engine; data of deleted workspaces stays on its node and
    # `/stats` says "not measured on this node".
    swarm_node_docker_host: str | None = Field(
        None, validation_alias=_aliases("SWARM_NODE_DOCKER_HOST")
    )
    # ca.pem, cert.pem and key.pem for nodes' engines on TCP (Docker's "protect the daemon
    # socket" setup): without them a tcp:// node engine is refused.
    swarm_node_tls_dir: Path | None = Field(None, validation_alias=_aliases("SWARM_NODE_TLS_DIR"))
    # Encrypt each user's overlay network (IPsec between nodes). Needs the nodes' kernels to
    # have ESP (CONFIG_INET_ESP); without it encrypted overlays carry no traffic at all.
    swarm_encrypt_networks: bool = Field(False, validation_alias=_aliases("SWARM_ENCRYPT_NETWORKS"))
    # The path prefix under which the public proxy serves workspaces; a workspace is reached at
    # `<prefix>/workspaces/<id>/` and gets exactly that as WORKSPACE_BASE_URL.
    workspace_public_prefix: str = Field("", validation_alias=_aliases("WORKSPACE_PUBLIC_PREFIX"))
    # Each workspace is served on an origin of its own, so that what a workspace serves (its
    # owner controls every byte) cannot act with the session of whoever opens it. A host
    # template: "{id}." and a domain with a wildcard DNS entry (and certificate). Without a
    # port, the port the browser used for the manager. The domain should be the manager's host
    # or under the same registrable domain (lab.example.org, *.lab.example.org): browsers keep
    # a workspace's own cookies (Jupyter's) in the web app's frame ("Open here") only for the
    # same site. Browsers resolve *.localhost to the loopback address, and `localhost` itself is
    # a top-level domain to them: hence lab.localhost for a local start (nginx sends a browser
    # that opens the app at localhost there).
    workspace_host: str = Field("{id}.lab.localhost", validation_alias=_aliases("WORKSPACE_HOST"))
    # The old way: workspaces under the manager's own origin (/workspaces/<id>/). Any user's
    # workspace can then act as whoever opens it: only for one user, or users who trust
    # each other completely.
    unsafe_workspaces_on_manager_origin: bool = Field(
        False, validation_alias=_aliases("UNSAFE_WORKSPACES_ON_MANAGER_ORIGIN")
    )
    # Secret that encrypts the workspace sessions' cookies and hand-off codes; generated and
    # kept in DATA_DIR when not given (give the same one to every replica).
    session_secret: SecretStr | None = Field(None, validation_alias=_aliases("SESSION_SECRET"))
    # How long `?wait=true` waits for a workspace to answer before giving up (seconds).
    workspace_ready_timeout: float = Field(
        300.0, validation_alias=_aliases("WORKSPACE_READY_TIMEOUT")
    )

    # --- images -------------------------------------------------------------------------------
    workspace_image_default: str = Field(
        "mltooling/ml-workspace-minimal:0.13.2",
        validation_alias=_aliases("WORKSPACE_IMAGE_DEFAULT"),
    )
    workspace_image_default_display_name: str = Field(
        "ML Workspace (minimal)", validation_alias=_aliases("WORKSPACE_IMAGE_DEFAULT_DISPLAY_NAME")
    )
    # JSON: a list of image names or of {"image": ..., "display_name": ...}.
    workspace_image_options: Annotated[list[ImageOption], NoDecode] = Field(
        default_factory=list, validation_alias=_aliases("WORKSPACE_IMAGE_OPTIONS")
    )
    # Pull an allowed image that is not on the host yet (turn off for air-gapped sites).
    workspace_image_pull: bool = Field(True, validation_alias=_aliases("WORKSPACE_IMAGE_PULL"))

    # --- names --------------------------------------------------------------------------------
    display_name_default: str = Field(
        "my-workspace", validation_alias=_aliases("WORKSPACE_DISPLAY_NAME_DEFAULT")
    )

    # --- CPU ----------------------------------------------------------------------------------
    cpus_default: float = Field(1.0, validation_alias=_aliases("WORKSPACE_CPUS_DEFAULT"))
    cpus_max: float = Field(
        4.0, validation_alias=_aliases("WORKSPACE_CPUS_MAX", "WORKSPACE_MAX_CPUS")
    )
    cpus_min: float = Field(0.1, validation_alias=_aliases("WORKSPACE_CPUS_MIN"))
    cpus_step: float = Field(0.1, validation_alias=_aliases("WORKSPACE_CPUS_STEP"))
    cpus_options: FloatList = Field(
        default_factory=list, validation_alias=_aliases("WORKSPACE_CPUS_OPTIONS")
    )

    # --- memory (MB; 1 MB = 1 MiB = 1,048,576 bytes, as Docker's "m" suffix) ------------------
    memory_default: int = Field(1000, validation_alias=_aliases("WORKSPACE_MEMORY_MB_DEFAULT"))
    memory_max: int = Field(
        8000, validation_alias=_aliases("WORKSPACE_MEMORY_MB_MAX", "WORKSPACE_MAX_MEMORY_MB")
    )
    memory_min: int = Field(100, validation_alias=_aliases("WORKSPACE_MEMORY_MB_MIN"))
    memory_options: IntList = Field(
        default_factory=list, validation_alias=_aliases("WORKSPACE_MEMORY_MB_OPTIONS")
    )

    # --- disk (MB) ----------------------------------------------------------------------------
    volume_size_default: int = Field(
        5000, validation_alias=_aliases("WORKSPACE_VOLUME_SIZE", "WORKSPACE_VOLUME_SIZE_DEFAULT")
    )
    volume_size_max: int | None = Field(
        None, validation_alias=_aliases("WORKSPACE_MAX_VOLUME_SIZE", "WORKSPACE_VOLUME_SIZE_MAX")
    )
    volume_size_min: int = Field(100, validation_alias=_aliases("WORKSPACE_VOLUME_SIZE_MIN"))
    container_size: int = Field(
        5000, validation_alias=_aliases("WORKSPACE_CONTAINER_SIZE", "WORKSPACE_MAX_CONTAINER_SIZE")
    )

    # --- GPUs, shared memory, processes -------------------------------------------------------
    gpus_max: int = Field(0, validation_alias=_aliases("WORKSPACE_GPUS_MAX", "WORKSPACE_MAX_GPUS"))
    shm_size: int = Field(
        512, validation_alias=_aliases("WORKSPACE_SHM_SIZE_MB", "WORKSPACE_SHM_SIZE")
    )
    pids_limit: int = Field(4096, validation_alias=_aliases("WORKSPACE_PIDS_LIMIT"))

    # --- per-user quotas (unset = no limit) ----------------------------------------------------
    quota_workspaces: int | None = Field(
        None, ge=0, validation_alias=_aliases("USER_QUOTA_WORKSPACES")
    )
    quota_running: int | None = Field(None, ge=0, validation_alias=_aliases("USER_QUOTA_RUNNING"))
    quota_cpus: float | None = Field(None, ge=0, validation_alias=_aliases("USER_QUOTA_CPUS"))
    quota_memory: int | None = Field(None, ge=0, validation_alias=_aliases("USER_QUOTA_MEMORY_MB"))
    quota_disk: int | None = Field(None, ge=0, validation_alias=_aliases("USER_QUOTA_DISK_MB"))
    quota_admins_exempt: bool = Field(True, validation_alias=_aliases("USER_QUOTA_ADMINS_EXEMPT"))

    # --- idle timeout (seconds; 0 = never) ----------------------------------------------------
    idle_timeout_default: int = Field(
        0, validation_alias=_aliases("WORKSPACE_IDLE_TIMEOUT_DEFAULT")
    )
    idle_timeout_options: IntList = Field(
        default_factory=list, validation_alias=_aliases("WORKSPACE_IDLE_TIMEOUT_OPTIONS")
    )
    # How often CPU and memory, and disk use, are measured (seconds); how long a workspace
    # that was stopped for its disk gets after a start before it is checked again.
    usage_interval: float = Field(15.0, gt=0, validation_alias=_aliases("USAGE_INTERVAL"))
    disk_usage_interval: float = Field(
        120.0, gt=0, validation_alias=_aliases("DISK_USAGE_INTERVAL")
    )
    disk_grace_seconds: int = Field(600, ge=0, validation_alias=_aliases("DISK_GRACE_SECONDS"))
    # --- the manager's records (store/: SQLite in DATA_DIR, or DATABASE_URL's PostgreSQL) -----
    # Audit entries older than this are removed (days; 0 = kept forever).
    audit_retention_days: int = Field(
        365, ge=0, le=36500, validation_alias=_aliases("AUDIT_RETENTION_DAYS")
    )
    # How often every workspace's time is counted for usage accounting (seconds): a manager
    # that restarts loses at most this much of it.
    accounting_interval: float = Field(
        60.0, ge=1, le=3600, validation_alias=_aliases("ACCOUNTING_INTERVAL")
    )
    # How often leftovers of interrupted operations are looked for (seconds; also at start).
    reconcile_interval: float = Field(300.0, gt=0, validation_alias=_aliases("RECONCILE_INTERVAL"))
    # How often running workspaces are checked for idleness (seconds).
    idle_check_interval: float = Field(60.0, gt=0, validation_alias=_aliases("IDLE_CHECK_INTERVAL"))
    # Stop any workspace this long after it started (seconds; 0 = no limit).
    max_lifetime: int = Field(0, ge=0, validation_alias=_aliases("WORKSPACE_MAX_LIFETIME"))
    always_clear_volume_on_stop: bool = Field(
        False, validation_alias=_aliases("WORKSPACE_ALWAYS_CLEAR_VOLUME_ON_STOP")
    )
    # --- templates (see templates.py) --------------------------------------------------------
    templates_file: Path | None = Field(None, validation_alias=_aliases("TEMPLATES_FILE"))
    # Whether users may create workspaces that follow no template (administrators always may).
    custom_allowed: bool = Field(True, validation_alias=_aliases("WORKSPACE_CUSTOM_ALLOWED"))
    gpus_default: int = Field(0, ge=0, validation_alias=_aliases("WORKSPACE_GPUS_DEFAULT"))

    # --- schedules (see policies/schedule.py) ------------------------------------------------
    # The schedule new workspaces get unless their request gives one (JSON, as the API's).
    schedule_default: Schedule | None = Field(None, validation_alias=_aliases("SCHEDULE_DEFAULT"))
    # HH:MM: every running workspace is stopped then each day (in its schedule's time zone, or
    # SCHEDULE_TIMEZONE's), and no schedule or postponement may stop it later.
    schedule_stop_latest: str | None = Field(
        None, pattern=CLOCK_TIME, validation_alias=_aliases("SCHEDULE_STOP_LATEST")
    )
    schedule_timezone: str = Field("UTC", validation_alias=_aliases("SCHEDULE_TIMEZONE"))
    # How often schedules are looked at (seconds): a start or stop happens this late at most.
    schedule_interval: float = Field(
        30.0, gt=0, le=120, validation_alias=_aliases("SCHEDULE_CHECK_INTERVAL")
    )
    # What workspaces may not reach (Docker backend): "metadata" (link-local addresses, where
    # clouds serve instance credentials at 169.254.169.254) and "host" (the Docker host's
    # own services). Empty: nothing is blocked. See README, "Security model".
    egress_block: Annotated[list[Literal["metadata", "host"]], NoDecode] = Field(
        ["metadata", "host"], validation_alias=_aliases("WORKSPACE_EGRESS_BLOCK")
    )
    # The image whose iptables installs those rules (in the host's network namespace, once
    # at start); empty: the manager's own (MANAGER_CONTAINER's), else lab-workspace-manager.
    egress_helper_image: str = Field("", validation_alias=_aliases("EGRESS_HELPER_IMAGE"))

    # --- snapshots (`snapshots.py`) -----------------------------------------------------------
    # MB of /workspace, as a tar archive before compression, that a download or snapshot
    # may hold: refused before it starts where the size is known, cut off where it is not.
    snapshot_max_size: int = Field(
        10_000, ge=1, le=16 * 1024 * 1024, validation_alias=_aliases("SNAPSHOT_MAX_SIZE")
    )
    # Named snapshots one user may keep (all their workspaces'); each counts toward their
    # disk quota as well.
    snapshots_per_user: int = Field(
        20, ge=0, le=1000, validation_alias=_aliases("SNAPSHOTS_PER_USER")
    )
    # Members (files, directories, links) an uploaded archive may have.
    upload_max_files: int = Field(
        100_000, ge=1, le=10_000_000, validation_alias=_aliases("UPLOAD_MAX_FILES")
    )

    @field_validator(
        "backend_cors_origins",
        "cpus_options",
        "memory_options",
        "idle_timeout_options",
        "egress_block",
        mode="before",
    )
    @classmethod
    def _list_from_env(cls, value: Any) -> Any:
        return _parse_list(value)

    @field_validator("workspace_image_options", mode="before")
    @classmethod
    def _image_options(cls, value: Any) -> Any:
        return image_options(value, _parse_list)

    @model_validator(mode="before")
    @classmethod
    def _default_image(cls, values: Any) -> Any:
        return default_image(values)

    @field_validator("database_url", mode="before")
    @classmethod
    def _database(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return None
            if not re.match(r"postgres(ql)?://", value):
                raise ValueError(
                    "DATABASE_URL must be a PostgreSQL URL: postgresql://user:password@host/db"
                )
        return value

    @field_validator("admin_token", "jwt_secret", "session_secret", mode="before")
    @classmethod
    def _secret(cls, value: Any) -> Any:
        """Empty means "generate one" (compose passes unset variables as ""); a short secret
        would be guessable, so it stops the start."""
        if isinstance(value, str):
            if not value.strip():
                return None
            if len(value) < 16:
                raise ValueError(
                    "ADMIN_TOKEN, JWT_SECRET and SESSION_SECRET need at least 16 characters"
                )
        return value

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _metrics_token(cls, value: Any) -> Any:
        """Empty means none (compose passes unset variables as ""); a short one would be
        guessable."""
        if isinstance(value, str):
            if not value.strip():
                return None
            if len(value) < 16:
                raise ValueError("METRICS_TOKEN needs at least 16 characters (or leave it unset)")
        return value

    @field_validator(
        "quota_workspaces", "quota_running", "quota_cpus", "quota_memory", "quota_disk",
        mode="before",
    )  # fmt: skip
    @classmethod
    def _no_quota(cls, value: Any) -> Any:
        """Empty means no limit (compose passes a variable set to nothing as "")."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("schedule_default", "schedule_stop_latest", "templates_file", mode="before")
    @classmethod
    def _no_schedule(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("workspace_public_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith("/"):
            raise ValueError("WORKSPACE_PUBLIC_PREFIX must be a path starting with '/'")
        return value

    @field_validator("workspace_host")
    @classmethod
    def _workspace_host(cls, value: str) -> str:
        value = value.strip().lower()
        if not WORKSPACE_HOST.fullmatch(value):
            raise ValueError(
                "WORKSPACE_HOST must be '{id}.' followed by a domain and optionally ':port', "
                "e.g. '{id}.lab.localhost' or '{id}.lab.example.org' (with a wildcard DNS entry)"
            )
        return value

    @field_validator("instance_id")
    @classmethod
    def _instance(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,11}", value):
            raise ValueError(
                "WORKSPACE_MANAGER_INSTANCE must be 1-12 lowercase letters, digits or '-'"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.workspace_backend is None:
            self.workspace_backend = "mllab" if self.contaxy_api_endpoint else "docker"
        if self.volume_size_max is None:
            self.volume_size_max = max(self.volume_size_default, self.volume_size_min)
        problems = []
        if not 0 < self.cpus_min <= self.cpus_default <= self.cpus_max:
            problems.append("CPU settings need 0 < min <= default <= max")
        if self.cpus_step <= 0:
            problems.append("WORKSPACE_CPUS_STEP must be positive")
        if not 0 < self.memory_min <= self.memory_default <= self.memory_max:
            problems.append("memory settings need 0 < min <= default <= max")
        if not 0 < self.volume_size_min <= self.volume_size_default <= self.volume_size_max:
            problems.append("volume size settings need 0 < min <= default <= max")
        if self.shm_size <= 0 or self.pids_limit <= 0 or self.container_size <= 0:
            problems.append("shm size, pids limit and container size must be positive")
        from .validation import time_zones

        if self.schedule_timezone not in time_zones():
            problems.append(f"SCHEDULE_TIMEZONE={self.schedule_timezone!r} is not a time zone")
        if self.schedule_default and self.schedule_default.timezone not in time_zones():
            zone = self.schedule_default.timezone
            problems.append(f"SCHEDULE_DEFAULT's time zone {zone!r} is not a time zone")
        latest, default = self.schedule_stop_latest, self.schedule_default
        if latest and default and default.stop and default.stop > latest:
            problems.append(f"SCHEDULE_DEFAULT stops after SCHEDULE_STOP_LATEST ({latest})")
        if self.gpus_default > self.gpus_max:
            problems.append("WORKSPACE_GPUS_DEFAULT is above WORKSPACE_GPUS_MAX")
        if self.templates_file is not None:
            from .templates import read_templates_file

            try:
                read_templates_file(self.templates_file)
            except ValueError as exc:
                problems.append(str(exc))
        if self.workspace_backend == "mllab" and not self.contaxy_api_endpoint:
            problems.append("WORKSPACE_BACKEND=mllab needs CONTAXY_API_ENDPOINT")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # --- derived ------------------------------------------------------------------------------
    @property
    def mllab_mode(self) -> bool:
        return bool(self.contaxy_api_endpoint)

    @property
    def allowed_images(self) -> list[ImageOption]:
        """The default image first, then the configured options, without duplicates."""
        default = ImageOption(
            image=self.workspace_image_default,
            display_name=self.workspace_image_default_display_name,
        )
        seen = {default.image}
        images = [default]
        for option in self.workspace_image_options:
            if option.image not in seen:
                seen.add(option.image)
                images.append(option)
        return images


def _where(error: Any) -> str:
    """The setting a validation error is about, when it is about one."""
    if not error["loc"]:
        return ""
    return f"{'.'.join(str(part) for part in error['loc']).upper()}={error['input']!r}: "


def load_settings() -> Settings:
    """The settings from the environment; what an administrator set wrong stops the start,
    one line each, without pydantic's internals."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "\n".join(
            f"  - {_where(error)}{error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()
        )
        sys.exit(f"The manager cannot start: its settings are invalid.\n{problems}")
