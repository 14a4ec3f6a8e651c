#!/usr/bin/env python3
"""Build, check, test and run the ML Lab Workspace Manager.

    python3 build.py --run      build the image and start the manager on http://localhost:8080
    python3 build.py --test     run every test suite against the real Docker engine
    python3 build.py --test --fresh   the same on a new, empty engine (what a new machine has)
    python3 build.py --make     build the image (lab-workspace-manager:latest)
    python3 build.py --check    lint and type checks
    python3 build.py --dev      run the backend from source (development)
    python3 build.py --images   only build the images the tests use
    python3 build.py --bench    run the benchmarks and print their table (benchmarks/)
    python3 build.py --reliability   the long reliability runs (pytest marker `long`)

Each command first checks what it needs from the machine (tools/prerequisites.py): a Docker
engine that answers, then its tools. As root on Debian or Ubuntu what is missing is installed
and the engine started; elsewhere it stops at once with the command that fixes it.

Works without a container registry: a missing `debian:bookworm-slim` is pulled if possible,
else made locally with debootstrap (air-gapped sites and these CI machines).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tools import prerequisites
from tools.fresh_engine import fresh_engine
from tools.prerequisites import BASE_IMAGE, quiet

ROOT = Path(__file__).resolve().parent
BACKEND = ROOT / "backend"
TEST_IMAGES = {
    # tag: Dockerfile under docker/test-images
    "lwm-test-workspace:latest": "Dockerfile",
    "lwm-test-crash:latest": "Dockerfile.crash",
    "lwm-test-oom:latest": "Dockerfile.oom",
    "lwm-test-echo:latest": "Dockerfile.echo",
    "lwm-test-attacker:latest": "Dockerfile.attacker",
}


def run(*command: str, cwd: Path = ROOT, check: bool = True, **kwargs: object) -> int:
    print("+", " ".join(command), flush=True)
    return subprocess.run(command, cwd=cwd, check=check, **kwargs).returncode  # type: ignore[call-overload]


def image_exists(tag: str) -> bool:
    return quiet("docker", "image", "inspect", tag)


def ensure_base_image() -> None:
    if image_exists(BASE_IMAGE) or quiet("docker", "pull", BASE_IMAGE):
        return
    if shutil.which("debootstrap") is None:
        sys.exit(f"{BASE_IMAGE} cannot be pulled and debootstrap is missing: "
                 "apt-get install debootstrap, or load the image with 'docker load'.")
    print(f"{BASE_IMAGE} cannot be pulled; making it with debootstrap", flush=True)
    with tempfile.TemporaryDirectory() as rootfs:
        run("debootstrap", "--variant=minbase", "bookworm", rootfs,
            "http://deb.debian.org/debian", stdout=subprocess.DEVNULL)
        slim_down(Path(rootfs))
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        run("docker", "import", "-", BASE_IMAGE, stdin=tar.stdout)
        if tar.wait() != 0:
            sys.exit("packing the debootstrap root file system failed")


# What Debian's own slim images leave out (documentation, manuals, translations), for this
# image and for every package installed into images built on it.
SLIM_DPKG_CONFIG = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
"""


def slim_down(rootfs: Path) -> None:
    (rootfs / "etc/dpkg/dpkg.cfg.d/slim").write_text(SLIM_DPKG_CONFIG)
    (rootfs / "etc/apt/apt.conf.d/no-cache").write_text(
        'APT::Keep-Downloaded-Packages "false";\n'
    )
    for pattern in ("usr/share/man/*", "usr/share/info/*", "usr/share/locale/*",
                    "var/lib/apt/lists/*", "var/cache/apt/*.bin", "var/cache/apt/archives/*.deb"):
        for path in rootfs.glob(pattern):
            if path.name != "locale.alias":
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    for path in (rootfs / "usr/share/doc").glob("*/*"):
        if path.name != "copyright":
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def ensure_test_images() -> None:
    ensure_base_image()
    context = ROOT / "docker" / "test-images"
    for tag, dockerfile in TEST_IMAGES.items():
        run("docker", "build", "-q", "-t", tag, "-f", str(context / dockerfile), str(context),
            stdout=subprocess.DEVNULL)


CONTAXY_VENV = ROOT / ".venv-contaxy"
# contaxy pins old libraries: its own virtualenv. cachetools is a dependency it forgets;
# bcrypt 5 breaks passlib's bcrypt backend, which contaxy's logins use.
CONTAXY_REQUIREMENTS = ["contaxy[server]==0.0.23", "cachetools", "bcrypt==4.0.1"]


def ensure_contaxy() -> None:
    """The real ML Lab backend the ML Lab-mode tests run against."""
    if (CONTAXY_VENV / "bin" / "uvicorn").exists():
        return
    run(sys.executable, "-m", "venv", str(CONTAXY_VENV))
    run(str(CONTAXY_VENV / "bin" / "pip"), "install", "--quiet", *CONTAXY_REQUIREMENTS)


WEBAPP = ROOT / "webapp"


def has_webapp() -> bool:
    return (WEBAPP / "package.json").exists()


def webapp_scripts() -> dict[str, str]:
    scripts: dict[str, str] = json.loads((WEBAPP / "package.json").read_text()).get("scripts", {})
    return scripts


def npm(*args: str, check: bool = True) -> int:
    # CI=true: one-shot runs (vitest never waits in watch mode), no prompts.
    return run("npm", *args, cwd=WEBAPP, check=check, env={**os.environ, "CI": "true"})


def ensure_node_modules() -> None:
    """`npm ci`, when node_modules is missing or package-lock.json changed since the last one."""
    if shutil.which("npm") is None:
        sys.exit("The web app needs Node.js 20 and npm (Debian's nodejs 18 is too old).")
    digest = hashlib.sha256((WEBAPP / "package-lock.json").read_bytes()).hexdigest()
    # Inside node_modules, so deleting node_modules forgets it too.
    stamp = WEBAPP / "node_modules" / ".lwm-package-lock.sha256"
    if stamp.exists() and stamp.read_text() == digest:
        return
    npm("ci", "--no-audit", "--no-fund")
    stamp.write_text(digest)


def build_webapp() -> None:
    """webapp/dist, which the image serves at /app/ (the API client is generated first)."""
    if not has_webapp():
        return
    ensure_node_modules()
    npm("run", "build")


def test_webapp() -> int:
    """The web app's own checks: lint (and type check, where lint does not), component tests."""
    if not has_webapp():
        return 0
    ensure_node_modules()
    scripts = webapp_scripts()
    failed = 0
    for script in ("lint", "typecheck", "test"):
        if script == "typecheck" and "tsc" in scripts.get("lint", ""):
            continue
        if script in scripts:
            failed |= npm("run", script, check=False)
    return failed


IMAGE = "lab-workspace-manager:latest"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def export_requirements() -> None:
    """backend/requirements.txt, for the image, from Pipfile.lock (runtime packages only)."""
    result = subprocess.run(
        [sys.executable, "-m", "pipenv", "requirements"], cwd=ROOT, check=True,
        capture_output=True, text=True, env={**os.environ, "PIPENV_VERBOSITY": "-1"},
    )
    lines = [
        line for line in result.stdout.splitlines()
        if line and not line.startswith(("-e", "-i", "#"))
    ]
    text = "# Generated by build.py from Pipfile.lock: do not edit.\n" + "\n".join(lines) + "\n"
    (BACKEND / "requirements.txt").write_text(text)


def build_image() -> None:
    ensure_base_image()
    ensure_python_dependencies()
    export_requirements()
    build_webapp()
    # pip inside the build trusts what the host trusts (proxies that inspect TLS).
    ca_copy = ROOT / "docker" / "build-ca.crt"
    if HOST_CA_BUNDLE.exists():
        shutil.copy(HOST_CA_BUNDLE, ca_copy)
    try:
        run("docker", "build", "-q", "-t", IMAGE, ".")
    finally:
        ca_copy.unlink(missing_ok=True)
    size = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Size}}", IMAGE],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    print(f"built {IMAGE}: {int(size) / 1e6:.0f} MB", flush=True)


def pipenv(*args: str, cwd: Path = ROOT) -> int:
    env = {**os.environ, "PIPENV_VERBOSITY": "-1", "PIPENV_PIPFILE": str(ROOT / "Pipfile")}
    return run(sys.executable, "-m", "pipenv", *args, cwd=cwd, env=env, check=False)


def ensure_python_dependencies() -> None:
    if not quiet(sys.executable, "-m", "pipenv", "--version"):
        run(sys.executable, "-m", "pip", "install", "--quiet", "pipenv")
    if pipenv("install", "--dev", "--deploy") != 0:
        sys.exit("pipenv install failed")


def test(pytest_args: list[str]) -> int:
    ensure_python_dependencies()
    ensure_test_images()
    ensure_contaxy()
    build_image()
    failed = test_webapp()
    # The browser tests (tests/browser) drive the web app in the image built above.
    return failed | pipenv("run", "pytest", *pytest_args, cwd=BACKEND)


def reliability(pytest_args: list[str]) -> int:
    """The reliability runs too long for --test (backend/tests/reliability/README.md)."""
    ensure_python_dependencies()
    ensure_test_images()
    ensure_contaxy()
    build_image()
    return pipenv("run", "pytest", "-m", "long", "-s", "tests/reliability", *pytest_args,
                  cwd=BACKEND)


def bench(bench_args: list[str]) -> int:
    """The benchmarks, on the same images as the tests (benchmarks/run.py has the options)."""
    ensure_python_dependencies()
    ensure_test_images()
    build_image()
    os.environ["PYTHONPATH"] = str(BACKEND)  # the benchmarks reuse the tests' helpers
    return pipenv("run", "python", "-m", "benchmarks.run", *bench_args)


def check() -> int:
    ensure_python_dependencies()
    failed = pipenv("run", "ruff", "check", ".", cwd=BACKEND)
    failed |= pipenv("run", "ruff", "format", "--check", ".", cwd=BACKEND)
    failed |= pipenv("run", "mypy", "lab_workspace_manager", cwd=BACKEND)
    if has_webapp() and "lint" in webapp_scripts():
        ensure_node_modules()
        failed |= npm("run", "lint", check=False)
    return failed


def develop() -> int:
    ensure_python_dependencies()
    os.environ.setdefault("PORT", "8080")
    return pipenv("run", "python", "-m", "lab_workspace_manager.app")


def compose_command() -> list[str]:
    if quiet("docker", "compose", "version"):
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    sys.exit("Neither 'docker compose' nor 'docker-compose' is installed.")


def start() -> int:
    """The image, standalone, as docker-compose.yml describes it."""
    build_image()
    status = run(*compose_command(), "up", "-d", "--no-build", "manager", check=False)
    if status == 0:
        print(
            "\nThe manager runs at http://localhost:8080 . Sign in with the administrator token:"
            "\n  the ADMIN_TOKEN you set, or the one it generated: "
            "docker logs lab-workspace-manager 2>&1 | grep 'administrator token'",
            flush=True,
        )
    return status


COMMANDS = ("make", "images", "check", "test", "bench", "reliability", "run", "dev")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--make", action="store_true", help="build the container image")
    parser.add_argument("--run", action="store_true", help="start the manager on port 8080")
    parser.add_argument("--dev", action="store_true", help="run the backend from source")
    parser.add_argument("--test", action="store_true", help="run all tests")
    parser.add_argument("--fresh", action="store_true",
                        help="with --test: on a new Docker engine with an empty data root")
    parser.add_argument("--check", action="store_true", help="lint and type checks")
    parser.add_argument("--images", action="store_true", help="build the test images")
    parser.add_argument("--bench", action="store_true", help="run the benchmarks")
    parser.add_argument("--reliability", action="store_true", help="the long reliability runs")
    args, rest = parser.parse_known_args()
    chosen = [command for command in COMMANDS if getattr(args, command)]
    if not chosen:
        parser.print_help()
        sys.exit(2)
    if args.fresh and chosen != ["test"]:
        sys.exit("--fresh goes with --test alone")
    # Every prerequisite before any long step: a missing one is said within seconds.
    if args.fresh:
        # No engine yet, so no base image either: debootstrap is installed with the rest.
        prerequisites.ensure("test", engine=False)
        with fresh_engine():
            sys.exit(test(rest))
    for command in chosen:
        prerequisites.ensure(command)
    steps = {
        "make": build_image, "images": ensure_test_images, "check": check,
        "test": lambda: test(rest), "bench": lambda: bench(rest),
        "reliability": lambda: reliability(rest), "run": start, "dev": develop,
    }
    status = 0
    for command in chosen:
        status |= steps[command]() or 0
    sys.exit(status)


if __name__ == "__main__":
    main()
