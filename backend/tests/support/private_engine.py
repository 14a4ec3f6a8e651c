"""A second, private Docker engine for tests that must restart an engine or need its storage
set up differently. The main engine (/var/run/docker.sock) is never touched: other tests run
on it at the same time.

    engine = private_engine.start(tmp_path, filesystem="btrfs")
    try:
        engine.load_images(main_client, "lwm-test-workspace:latest")
        ... engine.client, engine.url (for DOCKER_HOST), engine.restart() ...
    finally:
        engine.close()  # dockerd stopped, file system unmounted, loop device and files gone

Everything of the engine lives in `directory` (data root, logs, the loop file), its exec root
in /run/lwm-<name> (containerd's sockets need a short path) and its socket in
/run/lwm-test-<name>.sock. Its default bridge is an interface of its own (never
`--bridge=none`: with it dockerd deletes the host's docker0 at start, and the main engine's
default network with it), and it leaves iptables alone (`--iptables=false`): user-defined
bridge networks still work, and the host
reaches containers on them; containers get addresses from a /16 of 10.240-10.249.x.x picked
by its name (256 networks of /24), so two private engines rarely share one. The main engine's
FORWARD policy is DROP and the kernel passes bridged traffic through iptables, so one rule,
removed again by `close()`, lets containers on the same private network reach each other.

`filesystem`:
  - None: the data root is a plain directory on the host's file system (overlay2 on ext4
    here): an engine without hard disk limits.
  - "btrfs": a loop file with btrfs and quotas enabled; the btrfs storage driver limits each
    container's size (`--storage-opt size=`). Needs btrfs-progs.
  - "xfs": a loop file with XFS mounted with `pquota`, overlay2 on it: container sizes and the
    local volume driver's `size` option both work. Needs xfsprogs and a kernel built with
    CONFIG_XFS_QUOTA, which the test machines' kernel is not (mount refuses `pquota`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import docker
import pytest

Filesystem = Literal["btrfs", "xfs"]
START_TIMEOUT = 60.0  # seconds for dockerd to answer
STOP_TIMEOUT = 30.0  # seconds for dockerd to stop its containers and exit


class PrivateEngine:
    def __init__(self, directory: Path, filesystem: Filesystem | None, size_gb: int) -> None:
        self.name = secrets.token_hex(3)
        self.directory = directory
        self.filesystem = filesystem
        self.size_gb = size_gb
        self.data_root = directory / "data-root"
        self.exec_root = Path(f"/run/lwm-{self.name}")
        self.socket = Path(f"/run/lwm-test-{self.name}.sock")
        self.log_path = directory / "dockerd.log"
        self.loop_device: str | None = None
        pool = 240 + int(hashlib.sha256(self.name.encode()).hexdigest(), 16) % 10
        self.address_pool = f"10.{pool}.0.0/16"
        # Outside every private engine's pool (10.240-10.249), one /24 per pool.
        self.bridge, self.bridge_address = f"lwm-br-{self.name}", f"10.239.{pool - 240}.1/24"
        self._bridge_made = False
        self._forward_rule: list[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._client: docker.DockerClient | None = None

    @property
    def url(self) -> str:
        """For DOCKER_HOST / `Settings.docker_host`."""
        return f"unix://{self.socket}"

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = docker.DockerClient(base_url=self.url, version="1.41", timeout=120)
        return self._client

    # --- life ---------------------------------------------------------------------------------
    def _prepare(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.data_root.mkdir(exist_ok=True)
        rule = ["FORWARD", "-s", self.address_pool, "-d", self.address_pool, "-j", "ACCEPT"]
        _run(["iptables", "-w", "-I", *rule])
        self._forward_rule = rule
        _run(["ip", "link", "add", self.bridge, "type", "bridge"])
        self._bridge_made = True
        _run(["ip", "addr", "add", self.bridge_address, "dev", self.bridge])
        _run(["ip", "link", "set", self.bridge, "up"])
        if self.filesystem is None:
            return
        tool = {"btrfs": "mkfs.btrfs", "xfs": "mkfs.xfs"}[self.filesystem]
        if shutil.which(tool) is None:
            package = {"btrfs": "btrfs-progs", "xfs": "xfsprogs"}[self.filesystem]
            raise RuntimeError(f"{tool} is missing: install Debian's {package}")
        image = self.directory / "disk.img"
        with image.open("wb") as file:
            file.truncate(self.size_gb * 1024**3)  # sparse: uses only what is written
        _run([tool, "-q", str(image)])
        self.loop_device = _run(["losetup", "--find", "--show", str(image)]).strip()
        options = ["-o", "pquota"] if self.filesystem == "xfs" else []
        try:
            _run(["mount", *options, self.loop_device, str(self.data_root)])
        except RuntimeError as exc:
            if self.filesystem == "xfs":
                raise RuntimeError(
                    f"{exc}. XFS with pquota needs a kernel built with CONFIG_XFS_QUOTA."
                ) from exc
            raise
        if self.filesystem == "btrfs":
            _run(["btrfs", "quota", "enable", str(self.data_root)])

    def _launch(self) -> None:
        config = self.directory / "daemon.json"
        config.write_text("{}")  # not the host's /etc/docker/daemon.json
        command = [
            "dockerd",
            f"--config-file={config}",
            f"--data-root={self.data_root}",
            f"--exec-root={self.exec_root}",
            f"--pidfile={self.exec_root}/dockerd.pid",
            f"--host={self.url}",
            f"--bridge={self.bridge}",
            "--iptables=false",
            "--ip-masq=false",
            f"--default-address-pool=base={self.address_pool},size=24",
            f"--storage-driver={'btrfs' if self.filesystem == 'btrfs' else 'overlay2'}",
        ]
        host_bridge = _HostBridge()
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise RuntimeError(f"dockerd exited at start:\n{self.log_tail()}")
                with contextlib.suppress(Exception):
                    if self.socket.exists() and self.client.ping():
                        return
                time.sleep(0.2)
            raise RuntimeError(
                f"dockerd did not answer within {START_TIMEOUT:g} s:\n{self.log_tail()}"
            )
        finally:
            host_bridge.restore()

    def stop(self) -> None:
        """Stop dockerd (its containers stop with it); its storage stays."""
        if self._client is not None:
            self._client.close()
            self._client = None
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def restart(self) -> None:
        """Stop and start dockerd on the same storage, as after a host reboot or an upgrade."""
        self.stop()
        self._launch()

    def close(self) -> None:
        """Remove everything: dockerd, its containerd, mounts, the loop device and the files.
        Safe to call after a failed start and more than once."""
        try:
            self.stop()
        finally:
            self._kill_leftover_containerd()
            for mount in _mounts_under(self.exec_root, self.data_root):
                if subprocess.run(["umount", mount], check=False, capture_output=True).returncode:
                    subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
            if self.loop_device:
                subprocess.run(["losetup", "-d", self.loop_device], check=False)
                self.loop_device = None
            if self._forward_rule:
                subprocess.run(["iptables", "-w", "-D", *self._forward_rule], check=False)
                self._forward_rule = None
            if self._bridge_made:
                subprocess.run(["ip", "link", "del", self.bridge], check=False)
                self._bridge_made = False
            shutil.rmtree(self.exec_root, ignore_errors=True)
            self.socket.unlink(missing_ok=True)
            shutil.rmtree(self.directory, ignore_errors=True)

    def _kill_leftover_containerd(self) -> None:
        """dockerd stops the containerd it started; after a SIGKILL that one may linger."""
        pidfile = self.exec_root / "containerd" / "containerd.pid"
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)

    # --- helpers ------------------------------------------------------------------------------
    def load_images(self, source: docker.DockerClient, *names: str) -> None:
        """Copy images from another engine (no registry is reachable here), as
        `docker save | docker load`, streamed."""
        for name in names:
            self.client.api.load_image(source.api.get_image(name))
            self.client.images.get(name)  # fails loudly if the load did not take

    def info(self) -> dict[str, object]:
        return dict(self.client.info())

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def start(directory: Path, filesystem: Filesystem | None = None, size_gb: int = 3) -> PrivateEngine:
    """A running private engine; on failure nothing is left behind and the error says why."""
    engine = PrivateEngine(directory, filesystem, size_gb)
    try:
        engine._prepare()
        engine._launch()
    except BaseException:
        engine.close()
        raise
    return engine


@contextlib.contextmanager
def for_tests(
    directory: Path,
    source: docker.DockerClient,
    images: tuple[str, ...],
    filesystem: Filesystem | None = None,
) -> Iterator[PrivateEngine]:
    """A private engine holding `images` (copied from `source`), closed afterwards. The
    test fails (never skips) when it cannot be started."""
    try:
        engine = start(directory, filesystem)
    except RuntimeError as exc:
        pytest.fail(f"a private Docker engine ({filesystem or 'ext4'}) could not start: {exc}")
    try:
        engine.load_images(source, *images)
        yield engine
    finally:
        engine.close()


class _HostBridge:
    """The main engine's docker0, put back if a private dockerd deleted it.

    dockerd restarting on a data root that already has a default network, with
    --default-address-pool and without live restore, deletes the interface named docker0
    whatever its own --bridge is (moby's configureNetworking, "Clear stale bridge network"):
    the main engine then cannot start containers on its default network. Noted before each
    launch; after it, made again with its addresses and the ports that were on it."""

    def __init__(self) -> None:
        addresses = _output(["ip", "-o", "-4", "addr", "show", "dev", "docker0"])
        self.addresses = re.findall(r"inet (\S+)", addresses)
        ports = _output(["ip", "-o", "link", "show", "master", "docker0"])
        self.ports = re.findall(r"^\d+: ([^:@]+)", ports, re.MULTILINE)

    def restore(self) -> None:
        if not self.addresses or _output(["ip", "link", "show", "docker0"]):
            return
        subprocess.run(["ip", "link", "add", "docker0", "type", "bridge"], check=False)
        for address in self.addresses:
            subprocess.run(["ip", "addr", "add", address, "dev", "docker0"], check=False)
        for port in self.ports:
            subprocess.run(["ip", "link", "set", port, "master", "docker0"], check=False)
        subprocess.run(["ip", "link", "set", "docker0", "up"], check=False)


def _output(command: list[str]) -> str:
    """The command's output, empty if it failed."""
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    return result.stdout if result.returncode == 0 else ""


def _run(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()}")
    return result.stdout


def loop_files() -> str:
    """`losetup --list` of this machine: which files back loop devices."""
    return _run(["losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE"])


def _mounts_under(*roots: Path) -> list[str]:
    """Mount points at or below `roots`, deepest first (so each unmounts before its parent)."""
    found = []
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            point = line.split()[4].replace("\\040", " ")
            if any(point == str(r) or point.startswith(f"{r}/") for r in roots):
                found.append(point)
    return sorted(set(found), key=lambda p: p.count("/"), reverse=True)
