"""Deterministic, DNS-safe names for everything the manager creates on an engine.

Names are for people reading `docker ps`; ownership is decided by labels. A workspace id is
random and globally unique, so every name built from it is collision-free; the per-user network
name adds a hash of the exact user id, because two ids can share a slug ("Alice" and "alice").
All names stay within one DNS label (63 characters).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import string

WORKSPACE_ID_PATTERN = r"^[a-z][a-z0-9]{5,19}$"
USER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$"

_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_workspace_id() -> str:
    """10 characters, a letter first: 36^9 × 26 ≈ 2.6e15 possibilities."""
    return secrets.choice(string.ascii_lowercase) + "".join(
        secrets.choice(_ID_ALPHABET) for _ in range(9)
    )


def slug(text: str, max_length: int = 20) -> str:
    """Lowercase letters, digits and single dashes; never empty."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return cleaned[:max_length].rstrip("-") or "x"


BRIDGE_PREFIX = "lwm"


def short_hash(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def container_name(instance: str, owner: str, workspace_id: str) -> str:
    return f"{instance}-{slug(owner)}-{workspace_id}"


def record_name(instance: str, owner: str, workspace_id: str, revision: int) -> str:
    return f"{container_name(instance, owner, workspace_id)}-r{revision}"


def volume_name(instance: str, owner: str, workspace_id: str) -> str:
    return f"{container_name(instance, owner, workspace_id)}-data"


# 96 bits: with 8 hex digits (32 bits) a user who may choose their id could find one whose
# network name is another user's (about 2^32 tries) and have their workspaces join it.
NETWORK_HASH_LENGTH = 24


def network_name(instance: str, owner: str) -> str:
    """12 + 5 + 20 + 1 + 24 = 62 characters at most. (The owner label is checked as well.)"""
    return f"{instance}-net-{slug(owner)}-{short_hash(owner, NETWORK_HASH_LENGTH)}"


def bridge_name(instance: str, owner: str) -> str:
    """The Linux bridge of a user network: "lwm" and 12 characters of base32 hash (60 bits;
    interface names have 15 characters at most). The common prefix lets one firewall rule
    (`-i lwm+`) cover every workspace network (`backends/docker/egress.py`)."""
    digest = hashlib.sha256(f"{instance}/{owner}".encode()).digest()
    return BRIDGE_PREFIX + base64.b32encode(digest).decode().lower()[:12]


def is_network_of(instance: str, name: str) -> bool:
    """A user network of this instance (named as now, or with the shorter hash of before)."""
    return name.startswith(f"{instance}-net-")


def workspace_path(public_prefix: str, workspace_id: str) -> str:
    """Where the manager's proxy serves a workspace; also its WORKSPACE_BASE_URL."""
    return f"{public_prefix}/workspaces/{workspace_id}/"
