"""Settings for tests, and the values one test session (one process) shares.

`SESSION_INSTANCE`, `ADMIN_TOKEN` and `DATA_DIR` are made once, when this module is first
imported: import them from here only, so that every test and helper sees the same ones.
"""

from __future__ import annotations

import json
import secrets
import tempfile
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, SecretStr

from lab_workspace_manager.settings import Settings
from tests.support.images import ALT_IMAGE, CRASH_IMAGE, OOM_IMAGE, TEST_IMAGE

# One instance label per test session: tests never see or touch anything else on the engine.
SESSION_INSTANCE = "t" + secrets.token_hex(4)
ADMIN_TOKEN = "test-admin-token-" + secrets.token_hex(8)
DATA_DIR = Path(tempfile.mkdtemp(prefix="lwm-test-data-"))


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "workspace_backend": "memory",
        "instance_id": SESSION_INSTANCE,
        "workspace_image_default": TEST_IMAGE,
        "workspace_image_default_display_name": "Test workspace",
        "workspace_image_options": [
            {"image": CRASH_IMAGE, "display_name": "Crashes at start"},
            {"image": OOM_IMAGE, "display_name": "Runs out of memory"},
            {"image": ALT_IMAGE, "display_name": "Test workspace, second tag"},
        ],
        "workspace_image_pull": False,
        "cpus_default": 0.5,
        "cpus_max": 2,
        "memory_default": 256,
        "memory_min": 32,
        "memory_max": 2000,
        "volume_size_default": 500,
        "volume_size_max": 2000,
        "workspace_ready_timeout": 60,
        "admin_token": ADMIN_TOKEN,
        "jwt_secret": "test-jwt-secret-" + SESSION_INSTANCE,
        "data_dir": DATA_DIR,
    }
    values.update(overrides)
    return Settings(**values)


def environment_of(settings: Settings, *names: str) -> dict[str, str]:
    """What a manager process is given to have `settings`' values of the fields `names`:
    each as its first environment variable name, lists as JSON, secrets revealed."""
    environment = {}
    dumped = settings.model_dump(mode="json")
    for name in names:
        alias = Settings.model_fields[name].validation_alias
        variable = alias.choices[0] if isinstance(alias, AliasChoices) else str(alias)
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            text = value.get_secret_value()
        elif isinstance(dumped[name], list | dict):
            text = json.dumps(dumped[name])
        else:
            text = str(dumped[name])
        environment[str(variable).upper()] = text
    return environment
