"""A throwaway PostgreSQL cluster (Debian's PostgreSQL 15), as a subprocess on a free port;
stopped and its data removed afterwards."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.support.manager_image import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _run_as_postgres(*command: str) -> None:
    subprocess.run(
        ["runuser", "-u", "postgres", "--", *command],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@contextlib.contextmanager
def postgres(address: str = "127.0.0.1", clients: str | None = None) -> Iterator[str]:
    """A throwaway cluster listening on `address`; yields its connection URI (user and
    password "postgres"). Connections come from loopback only, or from the network
    `clients` too (e.g. "10.0.0.0/24", with the password)."""
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError("PostgreSQL 15 is not installed: apt-get install postgresql")
    data = Path(tempfile.mkdtemp(prefix="lwm-pg-"))
    shutil.chown(data, "postgres")
    port = free_port()
    _run_as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust")
    if clients:
        with open(data / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {clients} scram-sha-256\n")
    listen = address if address == "127.0.0.1" else f"127.0.0.1,{address}"
    options = f"-c listen_addresses={listen} -p {port} -k {data} -c max_connections=300"
    _run_as_postgres(
        str(PG_BIN / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(data / "pg.log"),
        "-w",
        "start",
    )
    try:
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "-q",
                "-c",
                "ALTER USER postgres PASSWORD 'postgres';",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        yield f"postgresql://postgres:postgres@{address}:{port}/postgres"
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            _run_as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop")
        shutil.rmtree(data, ignore_errors=True)
