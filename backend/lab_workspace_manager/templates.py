"""Workspace templates: kinds of workspace an administrator defines, which users create from.

A template names an image (or images to pick from), CPUs, memory, disk, GPUs, an idle timeout,
whether /workspace is cleared on stop, and environment variables. Each value is fixed, or a
default the user may change within a range or among options (`Pick`). A template is applied as
an overlay of the settings (`Template.rules`): what a template allows is checked by the very
code that checks a custom workspace against the settings, and `/config`'s shape describes it.

Templates come from `TEMPLATES_FILE` (JSON, read at start; changed there) and from the admin
API (kept with the shared state, so every manager knows them). Each has a version, a hash of
its definition: a workspace remembers the template and version it was made from, and when the
template changes, its users see that a newer version is available and may apply it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from pathlib import Path
from typing import Any, Literal

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import Conflict, InvalidInput, NotFound
from .images import ImageOption, check_image_reference
from .models import IDLE_TIMEOUT_MAX
from .settings import Settings
from .shared import SharedState

log = logging.getLogger(__name__)

TEMPLATE_NAME = r"^[a-z0-9][a-z0-9-]{0,39}$"
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# Set by the manager for every workspace: a template cannot change them.
RESERVED_ENV = {"WORKSPACE_BASE_URL", "MAX_NUM_THREADS", "SHARED_LINKS_ENABLED"}
MAX_TEMPLATES = 200
# The most a template may give (CPUs, MB, MB, GPUs, seconds): beyond, numbers break things.
MOST = {
    "cpus": 1024,
    "memory": 16 * 1024 * 1024,
    "volume_size": 100 * 1024 * 1024,
    "gpus": 64,
    "idle_timeout": IDLE_TIMEOUT_MAX,
}


class Pick(BaseModel):
    """A value: fixed (a bare number is), or a default the user may change within min..max or
    among options."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    default: float = Field(ge=0)
    fixed: bool = False
    min: float | None = Field(None, ge=0)
    max: float | None = Field(None, ge=0)
    options: list[float] = Field(default_factory=list, max_length=50)

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, value: Any) -> Any:
        return {"default": value, "fixed": True} if isinstance(value, int | float) else value

    @model_validator(mode="after")
    def _consistent(self) -> Pick:
        if self.fixed:
            self.min = self.max = None
            self.options = []
        elif self.options:
            if self.default not in self.options:
                raise ValueError(f"the default {self.default:g} is not one of the options")
        else:
            low = self.default if self.min is None else self.min
            high = self.default if self.max is None else self.max
            if not low <= self.default <= high:
                raise ValueError("it needs min <= default <= max")
            self.min, self.max = low, high
        return self

    def bounds(self) -> tuple[float, float, list[float]]:
        """(min, max, options) as the settings say them."""
        if self.fixed:
            return self.default, self.default, [self.default]
        if self.options:
            return min(self.options), max(self.options), sorted(self.options)
        return self.min or 0, self.max or 0, []


class TemplateInput(BaseModel):
    """What an administrator defines."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    display_name: str = Field(min_length=1, max_length=80)
    description: str = Field("", max_length=1000)
    images: list[ImageOption | str] = Field(
        min_length=1, max_length=20, description="The first is the default; one: fixed."
    )
    cpus: Pick
    memory: Pick = Field(description="MB")
    volume_size: Pick = Field(description="MB of /workspace")
    gpus: Pick = Field(default_factory=lambda: Pick(default=0, fixed=True))
    idle_timeout: Pick = Field(
        default_factory=lambda: Pick(default=0, fixed=True),
        description="Seconds; 0 = never. Options, or fixed (no range).",
    )
    clear_volume_on_stop: bool | None = Field(
        None, description="True: always cleared; False or null: the user's choice."
    )
    environment: dict[str, str] = Field(default_factory=dict, max_length=50)
    deprecated: bool = Field(False, description="Kept for its workspaces; no new ones.")

    @field_validator("images")
    @classmethod
    def _images(cls, value: list[ImageOption | str]) -> list[ImageOption | str]:
        for item in value:
            if isinstance(item, str):
                check_image_reference(item)
        return value

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: dict[str, str]) -> dict[str, str]:
        if sum(len(name) + len(text) for name, text in value.items()) > 32 * 1024:
            raise ValueError("at most 32 KiB of variables in all")
        for name, text in value.items():
            if not ENV_NAME.fullmatch(name) or name in RESERVED_ENV:
                raise ValueError(
                    f"'{name}' cannot be set: names are letters, digits and '_', and "
                    f"{', '.join(sorted(RESERVED_ENV))} are the manager's"
                )
            if len(text) > 4096 or "\x00" in text:
                raise ValueError(f"the value of '{name}' is too long or holds a NUL")
        return value

    @model_validator(mode="after")
    def _sensible(self) -> TemplateInput:
        for name, most in MOST.items():
            pick: Pick = getattr(self, name)
            values = (pick.default, *pick.bounds()[:2], *pick.options)
            if name != "cpus" and any(v != int(v) for v in values):
                raise ValueError(f"{name}: whole numbers only")
            if max(values) > most:
                raise ValueError(f"{name}: at most {most:g}")
        for name in ("cpus", "memory", "volume_size"):  # (0 CPUs: no limit to the engine)
            if getattr(self, name).bounds()[0] <= 0:
                raise ValueError(f"{name}: the least it may be must be above 0")
        if not self.idle_timeout.fixed and not self.idle_timeout.options:
            raise ValueError("idle_timeout: give options or a fixed value, not a range")
        # (The settings hold ranges of these, and GPUs only as a maximum.)
        if self.volume_size.options or self.gpus.options:
            raise ValueError("volume_size and gpus: a fixed value or a range, not options")
        if not self.gpus.fixed and self.gpus.bounds()[0] != 0:
            raise ValueError("gpus: a range of GPUs starts at 0")
        return self

    def image_options(self) -> list[ImageOption]:
        return [
            ImageOption(image=i, display_name=i) if isinstance(i, str) else i for i in self.images
        ]


class Template(TemplateInput):
    name: str = Field(pattern=TEMPLATE_NAME)
    version: str = Field(description="Changes whenever the definition does.")
    source: Literal["file", "api"] = Field(description="TEMPLATES_FILE, or the admin API.")

    def rules(self, settings: Settings) -> Settings:
        """The settings as this template overlays them: what the checks of a custom
        workspace then check."""
        images = self.image_options()
        cpus, memory, volume, gpus = (
            p.bounds() for p in (self.cpus, self.memory, self.volume_size, self.gpus)
        )
        return settings.model_copy(
            update={
                "workspace_image_default": images[0].image,
                "workspace_image_default_display_name": images[0].display_name,
                "workspace_image_options": images[1:],
                "cpus_default": self.cpus.default,
                "cpus_min": cpus[0],
                "cpus_max": cpus[1],
                "cpus_options": cpus[2],
                "memory_default": int(self.memory.default),
                "memory_min": int(memory[0]),
                "memory_max": int(memory[1]),
                "memory_options": [int(v) for v in memory[2]],
                "volume_size_default": int(self.volume_size.default),
                "volume_size_min": int(volume[0]),
                "volume_size_max": int(volume[1]),
                "gpus_default": int(self.gpus.default),
                "gpus_max": int(gpus[1]),
                "idle_timeout_default": int(self.idle_timeout.default),
                "idle_timeout_options": [int(v) for v in self.idle_timeout.bounds()[2]],
                "always_clear_volume_on_stop": bool(self.clear_volume_on_stop),
            }
        )


def make_template(name: str, definition: TemplateInput, source: Literal["file", "api"]) -> Template:
    body = definition.model_dump(mode="json", exclude={"deprecated"})
    version = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:8]
    return Template(**definition.model_dump(), name=name, version=version, source=source)


def read_templates_file(path: Path) -> dict[str, Template]:
    """TEMPLATES_FILE: {"<name>": {definition}, ...}; ValueError with what is wrong."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"TEMPLATES_FILE={str(path)!r} cannot be read as JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"TEMPLATES_FILE={str(path)!r} must hold an object: name -> template")
    found = {}
    for name, body in raw.items():
        if not re.fullmatch(TEMPLATE_NAME, str(name)):
            raise ValueError(f"TEMPLATES_FILE: '{name}' is not a template name ({TEMPLATE_NAME})")
        try:
            found[name] = make_template(name, TemplateInput.model_validate(body), "file")
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise ValueError(f"TEMPLATES_FILE: template '{name}': {problems}") from None
    return found


class Templates:
    """The templates of the file and of the admin API (the shared document "templates")."""

    def __init__(self, settings: Settings, shared: SharedState) -> None:
        self._file = read_templates_file(settings.templates_file) if settings.templates_file else {}
        self._document = shared.document("templates")
        self._lock = threading.Lock()
        self._stored: dict[str, Template] = {}
        self._known: dict[str, Template] = dict(self._file)  # as last read

    def status(self, name: str | None, version: str | None) -> str | None:
        """Of a workspace made from template `name` at `version`, as last read."""
        if name is None:
            return None
        template = self._known.get(name)
        if template is None:
            return "removed"
        if template.deprecated:
            return "deprecated"
        return "current" if template.version == version else "outdated"

    async def all(self) -> list[Template]:
        return sorted((await self._latest()).values(), key=lambda t: t.display_name.casefold())

    async def get(self, name: str) -> Template | None:
        return (await self._latest()).get(name)

    async def put(self, name: str, definition: TemplateInput) -> Template:
        if name in self._file:
            raise Conflict(
                f"The template '{name}' is defined in TEMPLATES_FILE: change it there (and "
                "restart the manager), or use another name."
            )
        template = make_template(name, definition, "api")

        def write() -> None:
            with self._lock, self._document.changing() as data:
                if name not in data and len(data) >= MAX_TEMPLATES:
                    raise Conflict(f"There are {MAX_TEMPLATES} templates: remove one first.")
                data[name] = definition.model_dump(mode="json")

        await anyio.to_thread.run_sync(write)
        return template

    async def delete(self, name: str) -> None:
        if name in self._file:
            raise Conflict(f"The template '{name}' is defined in TEMPLATES_FILE: remove it there.")

        def write() -> bool:
            with self._lock, self._document.changing() as data:
                return data.pop(name, None) is not None

        if not await anyio.to_thread.run_sync(write):
            raise NotFound(f"There is no template '{name}'.")

    async def _latest(self) -> dict[str, Template]:
        def read() -> dict[str, Template]:
            with self._lock:
                if self._document.reload() or not self._stored:
                    self._stored = {}
                    for name, body in self._document.data.items():
                        try:
                            definition = TemplateInput.model_validate(body)
                        except ValidationError as exc:  # (a newer manager's, or edited by hand)
                            log.warning("template %r is not understood here: %s", name, exc)
                            continue
                        self._stored[name] = make_template(name, definition, "api")
                return self._stored

        self._known = {**await anyio.to_thread.run_sync(read), **self._file}
        return self._known


def usable(template: Template | None, name: str) -> Template:
    """The template to create a workspace from; InvalidInput if there is none such."""
    if template is None:
        raise InvalidInput(f"template: there is no template '{name}'. See GET /templates.")
    if template.deprecated:
        raise InvalidInput(
            f"template: '{name}' is deprecated: no new workspaces are made from it. Choose another."
        )
    return template
