"""What each build.py command needs from the machine, checked before any long step.

Order matters: a Docker engine that answers comes first (everything else is wasted without
it), then the tools of the command at hand. As root on Debian or Ubuntu whatever is missing
is installed with apt and the engine is started when nothing runs it (these machines have no
systemd); anywhere else the check stops at once and prints the command that fixes it.

    ensure("test")   # or "run", "bench", "make", "images", "check", "dev", "reliability"
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DOCKERD_LOG = Path("/var/log/dockerd.log")
ENGINE_START_TIMEOUT = 60.0  # seconds for a dockerd we started to answer
# Vite 8 needs Node 20.19 or newer; the lock file is npm 11's.
NODE_MINIMUM = (20, 19)
NPM_MAJOR = 11


@dataclass(frozen=True)
class Tool:
    """A program a command needs: found by `present`, installed by the apt `package`."""

    name: str
    package: str
    why: str
    present: Callable[[], bool]


def _command(name: str) -> Callable[[], bool]:
    return lambda: shutil.which(name) is not None


def _file(path: str) -> Callable[[], bool]:
    return lambda: Path(path).exists()


def _compose() -> bool:
    plugin = quiet("docker", "compose", "version", timeout=20)
    return plugin or shutil.which("docker-compose") is not None


COMPOSE = Tool("Docker Compose", "docker-compose", "starts the manager", _compose)
BASE_IMAGE = "debian:bookworm-slim"
DEBOOTSTRAP = Tool(
    "debootstrap", "debootstrap",
    f"makes {BASE_IMAGE} where no registry can be reached",
    lambda: shutil.which("debootstrap") is not None
    or quiet("docker", "image", "inspect", BASE_IMAGE, timeout=20),
)
POSTGRESQL = Tool(
    "PostgreSQL 15", "postgresql", "the database of the real ML Lab the tests start",
    _file("/usr/lib/postgresql/15/bin/initdb"),
)
CHROMIUM = Tool("Chromium", "chromium", "the browser tests", _file("/usr/bin/chromium"))
BTRFS = Tool("btrfs-progs", "btrfs-progs", "hard disk limit tests", _command("mkfs.btrfs"))
REGISTRY = Tool(
    "docker-registry", "docker-registry", "image pull tests", _command("docker-registry")
)
PROMETHEUS = Tool(
    "Prometheus", "prometheus", "the test that scrapes the manager's metrics",
    _command("prometheus"),
)
WRK = Tool("wrk", "wrk", "the proxy and API throughput benchmarks", _command("wrk"))
DOCKERD = Tool("the Docker engine (dockerd)", "docker.io", "runs everything", _command("dockerd"))
IPTABLES = Tool("iptables", "iptables", "private test engines' network rules", _command("iptables"))

# Which tools each command needs, besides an engine (all but check/dev) and Node (the web app).
TOOLS: dict[str, list[Tool]] = {
    "make": [DEBOOTSTRAP],
    "images": [DEBOOTSTRAP],
    "run": [COMPOSE, DEBOOTSTRAP],
    "test": [DEBOOTSTRAP, POSTGRESQL, CHROMIUM, BTRFS, REGISTRY, IPTABLES, PROMETHEUS],
    "reliability": [DEBOOTSTRAP, POSTGRESQL, IPTABLES],
    "bench": [DEBOOTSTRAP, WRK, IPTABLES],
    "check": [],
    "dev": [],
}
NEEDS_ENGINE = {"make", "images", "run", "test", "reliability", "bench"}
NEEDS_NODE = {"make", "run", "test", "reliability", "bench", "check"}


class Missing(SystemExit):
    """A prerequisite that is missing and cannot be installed here: says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(f"\n{message}\n")


def ensure(command: str, engine: bool = True) -> None:
    """Everything `command` needs, in order; exits with the fix when something is missing.
    `engine=False`: all but the engine (`--fresh` starts one of its own)."""
    if engine and command in NEEDS_ENGINE:
        ensure_engine()
    ensure_tools(TOOLS[command])
    if command in NEEDS_NODE:
        ensure_node()


# --- the Docker engine --------------------------------------------------------------------
def engine_answers() -> bool:
    return quiet("docker", "info", timeout=20)


def ensure_engine() -> None:
    if engine_answers():
        return
    ensure_dockerd_installed()
    if engine_answers():  # the package's own service may have started it
        return
    start_engine()


def ensure_dockerd_installed() -> None:
    if shutil.which("dockerd") is not None:
        return
    problem = (
        "No Docker engine answers, and dockerd is missing (the docker command alone is a client)."
        if shutil.which("docker") else "No Docker engine is installed."
    )
    _install_or_explain([DOCKERD], problem)


def start_engine() -> None:
    """Start dockerd the way the machine does it, or explain how."""
    if os.environ.get("DOCKER_HOST"):
        raise Missing(
            f"No Docker engine answers at DOCKER_HOST={os.environ['DOCKER_HOST']}: start that "
            "engine, or unset DOCKER_HOST to use (and start) the local one."
        )
    if Path("/run/systemd/system").exists():
        fix = "systemctl start docker"
        started = os.geteuid() == 0 and quiet("systemctl", "start", "docker", timeout=120)
        if started and wait_for_engine(None):
            return
    else:
        fix = f"setsid dockerd >{DOCKERD_LOG} 2>&1 &"
        if os.geteuid() == 0 and shutil.which("dockerd"):
            print(f"No Docker engine answers: starting one ({fix})", flush=True)
            process = launch_dockerd()
            if wait_for_engine(process):
                return
            raise Missing(
                f"dockerd was started but did not answer within {ENGINE_START_TIMEOUT:g} s. "
                f"The end of {DOCKERD_LOG}:\n{_tail(DOCKERD_LOG)}"
            )
    raise Missing(
        "No Docker engine answers (`docker info` fails). Start it as root:\n"
        f"    {fix}\n"
        "or, with a rootless or remote engine, set DOCKER_HOST to its socket."
    )


def launch_dockerd(*arguments: str) -> subprocess.Popen[bytes]:
    """dockerd in a session of its own (it outlives this script), logging to DOCKERD_LOG."""
    with DOCKERD_LOG.open("ab") as log:
        return subprocess.Popen(
            ["dockerd", *arguments], stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )


def wait_for_engine(process: subprocess.Popen[bytes] | None) -> bool:
    deadline = time.monotonic() + ENGINE_START_TIMEOUT
    while time.monotonic() < deadline:
        if engine_answers():
            print("The Docker engine answers.", flush=True)
            return True
        if process is not None and process.poll() is not None:
            return False
        time.sleep(1)
    return False


# --- tools --------------------------------------------------------------------------------
def ensure_tools(tools: list[Tool]) -> None:
    missing = [tool for tool in tools if not tool.present()]
    if missing:
        _install_or_explain(missing, "Missing: " + ", ".join(
            f"{tool.name} ({tool.why})" for tool in missing
        ) + ".")


def ensure_node() -> None:
    """Node.js 20.19+ and npm 11 for the web app. Debian's nodejs (18) is too old, so Node
    itself is never installed from apt; npm is upgraded with npm when it is too old."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise Missing(
            "Node.js 20.19 or newer with npm is needed to build the web app and is missing.\n"
            "Install it from https://nodejs.org (Debian 12's nodejs 18 is too old)."
        )
    version = _output("node", "--version").lstrip("v").split(".")
    if tuple(int(part) for part in version[:2]) < NODE_MINIMUM:
        raise Missing(
            f"Node.js {'.'.join(version)} is too old for the web app (Vite 8 needs "
            f"{NODE_MINIMUM[0]}.{NODE_MINIMUM[1]} or newer): install a newer Node.js."
        )
    if int(_output("npm", "--version").split(".")[0]) < NPM_MAJOR:
        fix = ["npm", "install", "-g", "--quiet", f"npm@{NPM_MAJOR}"]
        if os.geteuid() != 0:
            raise Missing(f"npm {NPM_MAJOR} is needed: {' '.join(fix)}")
        for attempt in range(3):  # the registry sometimes drops a large download
            if subprocess.run(fix, check=False).returncode == 0:
                return
            time.sleep(5 * (attempt + 1))
        raise Missing(f"upgrading npm failed: {' '.join(fix)}")


def _install_or_explain(tools: list[Tool], problem: str) -> None:
    packages = sorted({tool.package for tool in tools})
    fix = f"apt-get update && apt-get install -y {' '.join(packages)}"
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise Missing(f"{problem}\nInstall with:\n    {fix}\n(as root on Debian or Ubuntu)")
    print(f"{problem} Installing: {' '.join(packages)}", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
    result = subprocess.run(
        ["apt-get", "install", "-y", "-qq", *packages],
        env=env, stdout=subprocess.DEVNULL, check=False,
    )
    still_missing = [tool.name for tool in tools if not tool.present()]
    if result.returncode != 0 or still_missing:
        raise Missing(f"Installing {' '.join(packages)} failed. Try by hand:\n    {fix}")


# --- small helpers ------------------------------------------------------------------------
def quiet(*command: str, timeout: float | None = None) -> bool:
    """True if the command succeeds (within `timeout` seconds); its output is not shown."""
    try:
        result = subprocess.run(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def _output(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


if __name__ == "__main__":
    ensure(sys.argv[1] if len(sys.argv) > 1 else "test")
