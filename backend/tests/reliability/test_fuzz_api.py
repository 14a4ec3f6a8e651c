"""Schemathesis against the app's own OpenAPI: every operation, as an administrator and as a
normal user, in-process on the in-memory backend, and a bounded run as a normal user on the
Docker backend (the real engine; marked `long`). No answer may be a 5xx, and every answer must
be one the schema documents (status code, content type, body, headers).

The administrator's cases use the generated ids as they come (unknown users and workspaces); a
normal user's cases are pointed at the user's own id and a workspace that exists, so the
generated bodies and query strings reach the validation and the service behind the checks.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import docker
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from lab_workspace_manager.app import create_app
from lab_workspace_manager.backends.memory import InMemoryBackend
from lab_workspace_manager.events import WorkspaceEvent
from tests.support.apiclient import issue_token
from tests.support.engine import remove_everything
from tests.support.images import TEST_IMAGE
from tests.support.settings import ADMIN_TOKEN, SESSION_INSTANCE, make_settings

# Bounded: about 20 operations × 2 callers × this many cases, in seconds on the fake; on the
# real engine, as one normal user (the deepest paths), in `build.py --reliability` only: real
# starts and stops with ?wait=true take minutes in all.
EXAMPLES = 25
DOCKER_EXAMPLES = 5


def fuzzing(examples: int) -> settings:
    """Hypothesis settings for every fuzz test: no deadline (real requests), no stored
    examples, and none of hypothesis's health checks (schemathesis builds the data)."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )


CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
SCHEMA_CHECK = response_schema_conformance

APP = create_app(make_settings(), InMemoryBackend())
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
OWNER = "fuzz-" + secrets.token_hex(3)
OWNER_TOKEN = issue_token(APP, OWNER)

# The same document against the Docker backend, on an instance label of its own. Nothing
# talks to the engine until the first case runs (the app is started then, lazily).
DOCKER_INSTANCE = SESSION_INSTANCE[:8] + secrets.token_hex(2)
DOCKER_APP = create_app(
    make_settings(
        workspace_backend="docker",
        instance_id=DOCKER_INSTANCE,
        # Only an image that starts at once and stops at SIGTERM (the echo image's PID 1 does
        # not: every stop waited for the engine's timeout), with memory it starts in.
        workspace_image_default=TEST_IMAGE,
        workspace_image_options=[],
        memory_min=128,
        workspace_ready_timeout=20,
    )
)
docker_schema = schemathesis.openapi.from_dict(APP.openapi())
docker_schema.app = DOCKER_APP
DOCKER_OWNER_TOKEN = issue_token(DOCKER_APP, OWNER)
# The workspace a normal user's cases act on, per app; made again whenever a case deleted it.
targets: dict[int, str] = {}


def own_workspace(app: FastAPI, token: str) -> str:
    headers = {"Authorization": f"Bearer {token}", "X-Requested-With": "fuzz"}
    with schemathesis.python.asgi.get_client(app) as client:
        known = targets.get(id(app))
        if (
            known is None
            or client.get(f"/users/{OWNER}/workspace/{known}", headers=headers).status_code != 200
        ):
            made = client.post(
                f"/users/{OWNER}/workspace",
                headers=headers,
                json={"display_name": "target-" + secrets.token_hex(3)},
            )
            assert made.status_code == 201, made.text
            targets[id(app)] = made.json()["id"]
    return targets[id(app)]


def as_owner(case: Any, app: FastAPI, token: str) -> None:
    if case.path_parameters:
        if "user_id" in case.path_parameters:
            case.path_parameters["user_id"] = OWNER
        if "workspace_id" in case.path_parameters:
            case.path_parameters["workspace_id"] = own_workspace(app, token)
    call(case, token)


def call(case: Any, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}", "X-Requested-With": "fuzz"}
    if not case.path.endswith("/events"):
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=90)
        return
    # Event streams are cut after a moment. The document describes each event's `data` (a
    # WorkspaceEvent), which schemathesis would hold the whole SSE envelope to: checked here.
    response = case.call(headers=headers, timeout=0.5)
    case.validate_response(response, checks=[c for c in CHECKS if c is not SCHEMA_CHECK])
    if response.status_code == 200:
        for line in response.text.splitlines():
            if line.startswith("data: "):
                WorkspaceEvent.model_validate_json(line.removeprefix("data: "))


@schema.parametrize()
@fuzzing(EXAMPLES)
def test_as_administrator(case: Any) -> None:
    call(case, ADMIN_TOKEN)


@schema.parametrize()
@fuzzing(EXAMPLES)
def test_as_owner(case: Any) -> None:
    as_owner(case, APP, OWNER_TOKEN)


@pytest.fixture(scope="module")
def docker_app(engine: docker.DockerClient) -> Iterator[None]:
    """Fails at once without an engine; afterwards the app is stopped and what the cases made
    on the engine is removed."""
    yield
    schemathesis.python.asgi.shutdown_lifespans()
    remove_everything(engine, DOCKER_INSTANCE)


@pytest.mark.long
@docker_schema.parametrize()
@fuzzing(DOCKER_EXAMPLES)
def test_as_owner_on_the_docker_backend(case: Any, docker_app: None) -> None:
    as_owner(case, DOCKER_APP, DOCKER_OWNER_TOKEN)


def test_errors_are_documented_as_they_are_sent() -> None:
    """Regression: the document said 422 carries FastAPI's list in `detail` (we send a
    sentence) and filed errors of the logs and events operations under text/plain and
    text/event-stream (they are JSON)."""
    document = APP.openapi()
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for code in ("4XX", "503"):
                assert operation["responses"][code]["content"] == error, (method, path, code)
            assert "422" not in operation["responses"], (method, path)
    assert document["components"]["schemas"]["ErrorBody"]["properties"]["detail"] == {
        "type": "string",
        "title": "Detail",
        "description": "What was wrong and what to do, for a person to read.",
    }
