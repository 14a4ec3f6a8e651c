"""Where the browser is: the manager's origin as the browser sees it, and each workspace's own.

nginx forwards the host the browser used (with its port) as X-Forwarded-Host and the scheme as
X-Forwarded-Proto, also behind another proxy that reported them. Both only shape links handed
back to the same caller, and are checked strictly, since they end up in headers.
"""

from __future__ import annotations

import re

from fastapi import Request
from starlette.requests import HTTPConnection

from ..auth.base import TOKEN_NAME
from ..settings import Settings

# A host name or IPv4 address, or a bracketed IPv6 address, then an optional port.
_HOST = re.compile(r"(?P<name>[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::(?P<port>\d{1,5}))?")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


LOOPBACK = {"127.0.0.1", "::1"}


def client_address(request: HTTPConnection, settings: Settings) -> str:
    """The address a request came from. Behind the manager's nginx (a peer on this machine),
    the entry nginx added to X-Forwarded-For: its last, as the ones before it are the client's
    to write; FORWARDED_PROXIES more for the proxies in front of nginx that add theirs."""
    peer = request.client.host if request.client else ""
    forwarded = [a.strip() for a in request.headers.get("x-forwarded-for", "").split(",")]
    if peer not in LOOPBACK or not forwarded[-1]:
        return peer
    hops = 1 + settings.forwarded_proxies
    return forwarded[-hops] if len(forwarded) >= hops else forwarded[0]


def browser_scheme(request: HTTPConnection, settings: Settings) -> str:
    if settings.cookie_secure:
        return "https"
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return forwarded if forwarded in ("http", "https") else request.url.scheme


def browser_host(request: HTTPConnection) -> str | None:
    """The host (and port) the browser asked for, or None if it is not a plain host."""
    value = request.headers.get("x-forwarded-host") or request.headers.get("host") or ""
    value = value.split(",")[0].strip()
    return value if _HOST.fullmatch(value) else None


def manager_origin(request: Request, settings: Settings) -> str | None:
    host = browser_host(request)
    return f"{browser_scheme(request, settings)}://{host.lower()}" if host else None


def workspace_origin(request: Request, settings: Settings, workspace_id: str) -> str:
    """`scheme://<id>.<domain>[:port]`: the template's port, else the one the browser used."""
    scheme = browser_scheme(request, settings)
    host = settings.workspace_host.replace("{id}", workspace_id)
    if ":" not in host:
        match = _HOST.fullmatch(browser_host(request) or "")
        port = match.group("port") if match else None
        if port and port != _DEFAULT_PORTS[scheme]:
            host += f":{port}"
    return f"{scheme}://{host}"


# Cookies named so cannot be set by another host, even of the same site ("cookie tossing": a
# workspace's page may set `ct_token` for the whole domain). Browsers keep them only when
# Secure, which they allow over https and on localhost and *.localhost.
HOST_ONLY_PREFIX = "__Host-"


def secure_cookies(request: HTTPConnection, settings: Settings) -> bool:
    """Whether the browser keeps Secure cookies for this request's host."""
    if browser_scheme(request, settings) == "https":
        return True
    match = _HOST.fullmatch(browser_host(request) or "")
    name = match.group("name").lower() if match else ""
    return name == "localhost" or name.endswith(".localhost")


def cookie_name(base: str, request: HTTPConnection, settings: Settings) -> str:
    """The name a cookie of ours is set under: `__Host-<base>` wherever browsers allow it."""
    return HOST_ONLY_PREFIX + base if secure_cookies(request, settings) else base


def sign_in_cookies(request: HTTPConnection, settings: Settings) -> tuple[str, ...]:
    """The cookies a token is read from: ours, under the name `cookie_name` gives (a tossed
    plain `ct_token` is not read where ours is `__Host-`), and in ML Lab mode ML Lab's own
    `ct_token`, which its proxy passes on."""
    own = cookie_name(TOKEN_NAME, request, settings)
    if settings.mllab_mode and own != TOKEN_NAME:
        return own, TOKEN_NAME
    return (own,)
