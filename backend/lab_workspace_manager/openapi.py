"""Print the API's OpenAPI document as JSON, without starting a server or touching an engine.

`python -m lab_workspace_manager.openapi > openapi.json`: the web app generates its typed API
client from this. The in-memory backend and throw-away secrets are used because the document
depends only on the routes and models, never on the settings' values.
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
from pathlib import Path

from .app import create_app
from .settings import Settings


def openapi_document() -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="lwm-openapi-") as data_dir:
        settings = Settings(
            workspace_backend="memory",
            admin_token=secrets.token_urlsafe(24),
            jwt_secret=secrets.token_urlsafe(24),
            data_dir=Path(data_dir),
        )
        return create_app(settings).openapi()


def main() -> None:
    json.dump(openapi_document(), sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
