"""The one exception hierarchy of the manager, and the one table that turns it into HTTP.

    ManagerError                    500  something we did not expect
    ├── Unauthenticated             401  no token, or one that is invalid, expired or revoked
    ├── Forbidden                   403  a valid token that may not do this
    ├── InvalidInput                422  a request asked for something the rules do not allow
    ├── NotFound                    404  no such workspace (for this user)
    ├── Conflict                    409  a name is taken, or the state does not allow the action
    │   ├── Busy                    409  another change of the same workspace is under way
    │   └── QuotaExceeded           409  the change would go beyond one of the owner's quotas
    ├── TooManyRequests             429  one caller asks for more at once than anyone may
    ├── ResourceUnavailable         400  the host cannot provide it (image, GPUs)
    └── BackendUnavailable          503  the Docker engine (or ML Lab) cannot be reached

Backends translate their library's errors into these once, at their boundary, and chain the
original with `raise ... from`. Every message is meant for the user: it says what was wrong and
what to do. Every error response has the shape `{"detail": "..."}`.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

log = logging.getLogger(__name__)


class ManagerError(Exception):
    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthenticated(ManagerError):
    status_code = 401


class Forbidden(ManagerError):
    status_code = 403


class InvalidInput(ManagerError):
    status_code = 422


class NotFound(ManagerError):
    status_code = 404


class Conflict(ManagerError):
    status_code = 409


class Busy(Conflict):
    """Another change of the same workspace is under way (one at a time, none queued)."""


class QuotaExceeded(Conflict):
    """The change would take the owner beyond a quota (counted apart in the metrics)."""


class TooManyRequests(ManagerError):
    status_code = 429


class ResourceUnavailable(ManagerError):
    status_code = 400


class BackendUnavailable(ManagerError):
    status_code = 503


def workspace_not_found(workspace_id: str) -> NotFound:
    return NotFound(f"Workspace '{workspace_id}' does not exist (or is not yours).")


ERROR_MESSAGE = "error_message"


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ManagerError)
    # What the audit log says of a refused or failed change (`api/audit_trail.py`).
    request.scope.setdefault("state", {})[ERROR_MESSAGE] = exc.message
    if exc.status_code >= 500:
        log.error(
            "%s %s failed: %s",
            request.method,
            request.url.path,
            exc.message,
            exc_info=exc.__cause__ or exc,
        )
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    if exc.status_code == 429:
        headers = {"Retry-After": "1"}
    return JSONResponse({"detail": exc.message}, status_code=exc.status_code, headers=headers)


async def _handle_validation(request: Request, exc: Exception) -> JSONResponse:
    """Keep FastAPI's list of errors, but lead with one sentence a person can read."""
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"] if part != "body")
        problems.append(f"{where}: {error['msg']}" if where else error["msg"])
    sentence = "Invalid request: " + "; ".join(problems) + "."
    request.scope.setdefault("state", {})[ERROR_MESSAGE] = sentence
    return JSONResponse(
        {
            "detail": sentence,
            "errors": _finite(jsonable_encoder(exc.errors())),
        },
        status_code=422,
    )


class ErrorBody(BaseModel):
    """What every error answer holds, as the OpenAPI document describes it."""

    detail: str = Field(description="What was wrong and what to do, for a person to read.")
    errors: list[dict[str, Any]] | None = Field(
        None, description="422 only: each invalid field, as FastAPI reports it."
    )


# Documented on every operation (FastAPI's own 422 schema, a list in `detail`, is not what
# the handlers above send). 4XX covers 400, 401, 403, 404, 409 and 422.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorBody, "description": "The request cannot be served as asked."},
    503: {"model": ErrorBody, "description": "The Docker engine or ML Lab cannot be reached."},
}


def _finite(value: Any) -> Any:
    """The errors repeat the input, which may hold NaN or infinity (Python's JSON parser
    accepts them); JSON cannot, so they are repeated as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_finite(item) for item in value]
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ManagerError, _handle)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    _document_errors_as_json(app)


def _document_errors_as_json(app: FastAPI) -> None:
    """Errors are JSON on every operation. FastAPI files them under the operation's own media
    type (text/event-stream, text/plain), so the document is corrected once, when first made."""
    make = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = make()
            json_error = {"application/json": {"schema": {"$ref": _ERROR_SCHEMA}}}
            for item in document["paths"].values():
                for operation in item.values():
                    for code in ERROR_RESPONSES:
                        operation["responses"][str(code)]["content"] = dict(json_error)
        return app.openapi_schema or make()

    app.openapi = openapi  # type: ignore[method-assign]


_ERROR_SCHEMA = "#/components/schemas/ErrorBody"
