"""nginx's configuration, rendered from the templates in `docker/nginx/` and the settings.

`python3 -m lab_workspace_manager.proxy_config` prints it (the image's start script writes it
to /run/nginx/nginx.conf); settings that are wrong stop the start here, with the same message
the backend would give. Only the `${NAME}` placeholders below are filled in: nginx's own
`$variables` are left alone.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from .auth.workspace_sessions import HANDOFF_PATH
from .settings import Settings, load_settings

TEMPLATES = Path(os.environ.get("NGINX_TEMPLATES", "/etc/lab-workspace-manager/nginx"))
_PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)\}")


def workspace_domain(settings: Settings) -> tuple[str, str | None]:
    """(the domain under which workspaces have their hosts, the template's port if any)."""
    host = settings.workspace_host.removeprefix("{id}.")
    domain, _, port = host.partition(":")
    return domain, port or None


def api_rate_limits(rate: int) -> dict[str, str]:
    """nginx's request limits for the API: per caller (its credential: a bearer token, ML
    Lab's ct_token header, the sign-in cookie), or per address for requests without one. In
    C, before a request reaches Python: one caller's flood costs the others next to nothing."""
    if rate == 0:
        return {"API_RATE_ZONES": "", "API_RATE_LIMITS": ""}
    zones = (
        f"    limit_req_zone $api_caller zone=api_per_caller:10m rate={rate}r/s;\n"
        f"    limit_req_zone $api_anonymous zone=api_per_address:10m rate={rate}r/s;\n"
        "    limit_req_status 429;"
    )
    limits = (
        f"            limit_req zone=api_per_caller burst={2 * rate} nodelay;\n"
        f"            limit_req zone=api_per_address burst={2 * rate} nodelay;\n"
        "            error_page 429 = @too_many_requests;"
    )
    return {"API_RATE_ZONES": zones, "API_RATE_LIMITS": limits}


def render(settings: Settings, backend_port: int, templates: Path = TEMPLATES) -> str:
    def read(name: str) -> str:
        return (templates / name).read_text()

    domain, port = workspace_domain(settings)
    values = {
        "BACKEND_PORT": str(backend_port),
        "WORKSPACE_PUBLIC_PREFIX": settings.workspace_public_prefix,
        "WORKSPACE_PROXY": read("workspace-proxy.conf").rstrip("\n"),
        "WORKSPACE_SOCKET": read("workspace-socket.conf").rstrip("\n"),
        "HANDOFF_PATH": HANDOFF_PATH,
        "WORKSPACE_DOMAIN_PATTERN": re.escape(domain),
        # Any scheme the page uses, any port unless the template fixes one.
        "WORKSPACE_FRAME_SOURCE": f"*.{domain}:{port or '*'}",
    }
    values.update(api_rate_limits(settings.api_rate_limit))
    values["API_RATE_LIMIT"] = str(settings.api_rate_limit)
    values["APP_HOST_REDIRECT"] = ""
    if domain.endswith(".localhost") and not settings.unsafe_workspaces_on_manager_origin:
        # A browser on this machine that opens the app at localhost goes on to the workspaces'
        # parent domain: there the app and its workspaces are of the same site.
        values["APP_HOST_REDIRECT"] = (
            "        if ($app_at_loopback_name) {\n"
            f"            return 302 $scheme://{domain}$port_of_request$request_uri;\n"
            "        }"
        )
    if settings.unsafe_workspaces_on_manager_origin:
        values["WORKSPACES_ON_MANAGER_ORIGIN"] = read("workspaces-on-manager-origin.conf")
        values["WORKSPACES_ON_OWN_ORIGINS"] = ""
        values["WORKSPACE_FRAME_SOURCE"] = ""
    else:
        values["WORKSPACES_ON_MANAGER_ORIGIN"] = read("no-workspaces-on-manager-origin.conf")
        values["WORKSPACES_ON_OWN_ORIGINS"] = read("workspaces-on-own-origins.conf")

    def fill(text: str) -> str:
        # Twice: the workspace parts bring placeholders of their own.
        for _ in range(2):
            text = _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)
        return text

    return fill(read("nginx.conf.template"))


def main() -> None:
    settings = load_settings()
    sys.stdout.write(render(settings, int(os.environ.get("BACKEND_PORT", "8081"))))


if __name__ == "__main__":
    main()
