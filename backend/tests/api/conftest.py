"""Fixtures of the API tests."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(params=["sqlite", "postgres"])
def records(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Settings for where a test's managers keep their records (and shared state): SQLite
    in DATA_DIR, or a real PostgreSQL (with an instance, so a schema, of the test's own)."""
    if request.param == "sqlite":
        return {"data_dir": tmp_path}
    url = request.getfixturevalue("database_url")
    return {"data_dir": tmp_path, "database_url": url, "instance_id": "r" + secrets.token_hex(4)}
