"""What workspaces may not reach: firewall rules on the Docker host, installed at start.

Docker has no per-network egress rules, so these are iptables rules in the host's network
namespace that match every user network by its bridge's name prefix (`naming.bridge_name`):
  - metadata: in DOCKER-USER (Docker's chain for its users' rules, consulted before its own),
    traffic from a workspace network to link-local addresses (169.254.0.0/16, where most
    clouds serve instance credentials) and to Alibaba's 100.100.100.200 is dropped;
  - host: in INPUT, new connections from a workspace network to the host itself are dropped,
    except DNS (Docker's resolver in a container may ask a resolver on the host). Answers to
    connections the host opened (a manager on the host proxying to a workspace) still pass.
    In DOCKER-USER, new connections to the shared-state database (DATABASE_URL, which holds
    the installation's secrets) are dropped too.
The manager's container cannot change the host's firewall; the engine can: a short-lived
helper container of an image with iptables, on the host's network with NET_ADMIN only. Where
that fails (a rootless engine, no iptables), nothing is blocked: the manager logs why, and
/config's `egress_blocked` says what is in force. IPv4 only: Docker's networks have no IPv6
unless the operator turns it on. Rules that a firewall reload removes come back with the
manager's next start.

On a swarm the same rules are installed on every node (through its engine), for the bridge that
carries every task's traffic out of its node (`docker_gwbridge`), and "host" also drops new
connections to the other nodes' addresses (see `backends/swarm/backend.py`).
"""

from __future__ import annotations

import logging
import socket

import docker
import docker.errors

from ...naming import BRIDGE_PREFIX
from ...settings import Settings
from . import labels as L
from . import spec as build

log = logging.getLogger(__name__)

WORKSPACE_BRIDGES = BRIDGE_PREFIX + "+"
# Link-local addresses (AWS, GCP, Azure, OpenStack, Oracle: 169.254.169.254), and Alibaba's.
METADATA = ["169.254.0.0/16", "100.100.100.200/32"]
# Per chain, in the order they are to be in it; each applies to traffic in from a bridge.
RULES: dict[str, list[tuple[str, list[str]]]] = {
    "metadata": [("DOCKER-USER", ["-d", address, "-j", "DROP"]) for address in METADATA],
    "host": [
        ("INPUT", ["-p", "udp", "--dport", "53", "-j", "ACCEPT"]),
        ("INPUT", ["-p", "tcp", "--dport", "53", "-j", "ACCEPT"]),
        ("INPUT", ["-m", "conntrack", "--ctstate", "NEW,INVALID", "-j", "DROP"]),
    ],
}
DEFAULT_HELPER_IMAGE = "lab-workspace-manager:latest"

# (engine, helper, rules, bridges, hosts) installed by this process already: once is enough
# (they are idempotent).
_installed: set[tuple[str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = set()


def script(blocked: list[str], bridges: list[str], hosts: list[str] | None = None) -> str:
    """A shell script that adds the rules that are not there yet (running it twice is
    running it once), each chain's rules ahead of the rules already in it, for traffic in
    from each of `bridges` (interface names or patterns, as iptables takes them). With
    "host", new connections to each of `hosts` (other machines' addresses) are dropped too."""
    lines = ["set -e"]
    for bridge in bridges:
        for what in blocked:
            rules = list(RULES[what])
            if what == "host":
                rules += [
                    (
                        "DOCKER-USER",
                        ["-d", host, "-m", "conntrack", "--ctstate", "NEW", "-j", "DROP"],
                    )
                    for host in hosts or []
                ]
            # Inserted last rule first at the head, so that they end up in their order.
            for chain, rule in reversed(rules):
                spec = " ".join(["-i", bridge, *rule])
                lines.append(
                    f"iptables -C {chain} {spec} 2>/dev/null || iptables -I {chain} 1 {spec}"
                )
    return "\n".join(lines) + "\n"


def older_bridges(client: docker.DockerClient, settings: Settings) -> list[str]:
    """The bridges of this instance's user networks made before they were named for these
    rules (Docker names those br-<id>): covered by name until they are made again."""
    bridges = []
    mine = L.selector(settings.instance_id, L.KIND_NETWORK)
    for network in client.api.networks(filters={"label": mine}):
        options = network.get("Options") or {}
        name = options.get("com.docker.network.bridge.name") or "br-" + network["Id"][:12]
        if not name.startswith(BRIDGE_PREFIX):
            bridges.append(name)
    return sorted(bridges)


def database_addresses(settings: Settings) -> list[str]:
    """The IPv4 addresses of the shared-state database (DATABASE_URL), which holds the
    installation's secrets: with "host", workspaces may not open connections to it."""
    if settings.database_url is None:
        return []
    from psycopg.conninfo import conninfo_to_dict

    try:
        hosts = str(conninfo_to_dict(settings.database_url.get_secret_value()).get("host") or "")
    except Exception:  # (DATABASE_URL is checked where it is used; here it only adds rules)
        return []
    found: set[str] = set()
    for host in filter(None, hosts.split(",")):
        if host.startswith("/"):
            continue  # a Unix socket: no workspace reaches it
        try:
            for *_, address in socket.getaddrinfo(host, None, socket.AF_INET):
                found.add(str(address[0]))
        except OSError as exc:
            log.warning("the database's host %s was not found for the egress rules: %s", host, exc)
    return sorted(a for a in found if not a.startswith("127."))


def wanted(settings: Settings) -> list[str]:
    """What the settings ask to block, each once, in their order."""
    return list(dict.fromkeys(settings.egress_block))


def helper_image(client: docker.DockerClient, settings: Settings) -> str:
    if settings.egress_helper_image:
        return settings.egress_helper_image
    if settings.manager_container:
        try:
            return str(client.api.inspect_container(settings.manager_container)["Config"]["Image"])
        except docker.errors.NotFound:
            pass
    return DEFAULT_HELPER_IMAGE


def install(
    client: docker.DockerClient,
    settings: Settings,
    *,
    engine: str | None = None,
    image: str | None = None,
    bridges: list[str] | None = None,
    hosts: list[str] | None = None,
) -> list[str]:
    """Install the rules of `settings.egress_block` on the engine of `client` (`engine`
    names it: DOCKER_HOST by default); by default for this instance's user networks' bridges,
    with the manager's image as the helper. What is blocked now (none on failure)."""
    blocked = wanted(settings)
    if not blocked:
        return []
    if bridges is None:
        bridges = [WORKSPACE_BRIDGES, *older_bridges(client, settings)]
    hosts = sorted({*(hosts or []), *database_addresses(settings)})
    image = image or helper_image(client, settings)
    if engine is None:
        engine = settings.docker_host or ""
    done = (engine, image, tuple(blocked), tuple(bridges), tuple(hosts))
    if done in _installed:
        return blocked
    try:
        client.api.inspect_image(image)
    except docker.errors.NotFound:
        log.warning(
            "workspaces' egress is NOT restricted (%s): the helper image %s is not on this "
            "engine. Set EGRESS_HELPER_IMAGE to an image with iptables that is.",
            ", ".join(blocked),
            image,
        )
        return []
    try:
        client.containers.run(
            image,
            entrypoint=["sh", "-c", script(blocked, bridges, hosts)],
            network_mode="host",
            user="0",
            cap_drop=["ALL"],
            cap_add=["NET_ADMIN", "NET_RAW"],
            security_opt=["no-new-privileges"],
            labels=build.owner_labels(settings, L.KIND_HELPER, ""),
            remove=True,
        )
    except docker.errors.ContainerError as exc:
        log.warning(
            "workspaces' egress is NOT restricted (%s): the rules could not be installed: %s",
            ", ".join(blocked),
            (exc.stderr or b"").decode(errors="replace").strip() or exc,
        )
        return []
    except docker.errors.APIError as exc:
        log.warning(
            "workspaces' egress is NOT restricted (%s): the helper image %s could not run: %s. "
            "Set EGRESS_HELPER_IMAGE to an image with iptables.",
            ", ".join(blocked),
            image,
            exc.explanation,
        )
        return []
    log.info("workspaces may not reach: %s (engine %s)", ", ".join(blocked), engine or "local")
    _installed.add(done)
    return blocked


def forget(engine: str) -> None:
    """The rules on that engine's host may be gone (its node restarted): install them again."""
    for done in [d for d in _installed if d[0] == engine]:
        _installed.discard(done)
