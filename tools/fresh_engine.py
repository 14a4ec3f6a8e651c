"""`build.py --test --fresh`: the run on a Docker engine that has never been used.

CI runs on a machine that earlier sessions used: its engine's data root still holds their
images, networks and volumes, and a test that leans on them passes there and fails on a new
machine. This starts dockerd at the usual socket on an empty data root of its own (no images,
no networks but the defaults, no volumes), runs the command, then stops that engine and
deletes its data root. The machine's own engine must not be running: one socket, one engine.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tools.prerequisites import (
    DOCKERD_LOG,
    ENGINE_START_TIMEOUT,
    Missing,
    engine_answers,
    ensure_dockerd_installed,
    launch_dockerd,
    wait_for_engine,
)

STOP_TIMEOUT = 60  # seconds for dockerd to stop its containers


@contextlib.contextmanager
def fresh_engine() -> Iterator[None]:
    ensure_dockerd_installed()
    if engine_answers():
        raise Missing(
            "--fresh starts a Docker engine of its own, on an empty data root, at the usual "
            "socket, and an engine already answers there. Stop that engine first "
            "(systemctl stop docker, or kill its dockerd), or run without --fresh."
        )
    data_root = Path(tempfile.mkdtemp(prefix="lwm-fresh-engine-", dir="/var/lib"))
    print(f"--fresh: a new Docker engine on the empty data root {data_root}", flush=True)
    process = launch_dockerd(f"--data-root={data_root}")
    try:
        if not wait_for_engine(process):
            raise Missing(f"the fresh dockerd did not answer within {ENGINE_START_TIMEOUT:g} s; "
                          f"see {DOCKERD_LOG}")
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        _unmount_below(data_root)
        shutil.rmtree(data_root, ignore_errors=True)


def _unmount_below(root: Path) -> None:
    """Whatever dockerd left mounted in its data root (overlay layers, volumes' tmpfs)."""
    with open("/proc/self/mountinfo") as mountinfo:
        points = [line.split()[4] for line in mountinfo]
    for point in sorted((p for p in points if p.startswith(f"{root}/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
