"""Workspace images as the settings name them: a reference the engine takes, and an option
users may pick."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field, field_validator

# A Docker image reference as the engine parses it (distribution's reference grammar):
# [registry[:port]/]path[:tag][@digest], path components in lowercase.
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
# A first component is a registry only with a dot or a port, or as localhost (as the engine
# decides): "UPPER/x" is a path, and paths are lowercase.
_DOMAIN = (
    rf"(?:(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})+|localhost|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
    rf"|{_DOMAIN_PART}:[0-9]+)"
)
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE_REFERENCE = re.compile(
    rf"(?:{_DOMAIN}/)?{_PATH_PART}(?:/{_PATH_PART})*"
    r"(?::[\w][\w.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?"
)
IMAGE_EXAMPLE = "mltooling/ml-workspace:0.13.2"


def check_image_reference(value: str, variable: str | None = None) -> str:
    """`value` if the engine would take it as an image name; else an error that says why,
    naming the variable and the value when given (pydantic names a field's own)."""
    if not IMAGE_REFERENCE.fullmatch(value):
        where = f"{variable}={value!r}: " if variable else ""
        raise ValueError(
            f"{where}not a Docker image reference: give one like {IMAGE_EXAMPLE!r} "
            "(a lowercase name, optionally a registry, a tag and a digest)"
        )
    return value


class ImageOption(BaseModel):
    """An image users may pick, with the name the UI shows for it."""

    image: str
    display_name: str = Field(min_length=1)

    @field_validator("image")
    @classmethod
    def _reference(cls, value: str) -> str:
        return check_image_reference(value)


def image_options(value: Any, parse_list: Callable[[Any], Any]) -> Any:
    """WORKSPACE_IMAGE_OPTIONS: image names, or {"image", "display_name"} each."""
    try:
        items = parse_list(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"WORKSPACE_IMAGE_OPTIONS={value!r} is not JSON: {exc}") from exc
    if not isinstance(items, list):
        raise ValueError(
            f"WORKSPACE_IMAGE_OPTIONS={value!r} must be a list of image names or of "
            '{"image": ..., "display_name": ...}'
        )
    return [{"image": i, "display_name": i} if isinstance(i, str) else i for i in items]


def default_image(values: Any) -> Any:
    """WORKSPACE_IMAGE_DEFAULT (in the raw settings `values`) is an image name, or
    {"image", "display_name"} as each of WORKSPACE_IMAGE_OPTIONS may be (its display name
    then wins)."""
    if not isinstance(values, dict):
        return values
    key = next((k for k in values if k.lower() == "workspace_image_default"), None)
    if key is None or not isinstance(values[key], str):
        return values
    text = values[key].strip()
    if text.startswith("{"):
        shape = '{"image": "...", "display_name": "..."}'
        try:
            option = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"WORKSPACE_IMAGE_DEFAULT={text!r} is not JSON: {exc}") from None
        if (
            not isinstance(option, dict)
            or not isinstance(option.get("image"), str)
            or not isinstance(option.get("display_name", ""), str)
            or set(option) - {"image", "display_name"}
        ):
            raise ValueError(f"WORKSPACE_IMAGE_DEFAULT={text!r} must be an image name or {shape}")
        check_image_reference(option["image"], "WORKSPACE_IMAGE_DEFAULT")
        if option.get("display_name"):
            values = {
                k: v
                for k, v in values.items()
                if k.lower() != "workspace_image_default_display_name"
            }
            values["workspace_image_default_display_name"] = option["display_name"]
        values = {**values, key: option["image"]}
    else:
        check_image_reference(text, "WORKSPACE_IMAGE_DEFAULT")
        values = {**values, key: text}
    return values
