"""A throwaway PostgreSQL server (Debian's postgresql package) for tests that ask for one.

``initdb`` into a temporary directory, ``pg_ctl start`` on a free loopback port with its socket in
that directory, one database created, and the URL handed out; stopped and removed afterwards.
PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` system user
(created by the Debian package). ``scripts/setup_env.sh`` installs the package; a machine
without it fails the test with the install command, never skips it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _binary(name: str) -> str:
    for directory in _BIN_DIRS:
        if (directory / name).exists():
            return str(directory / name)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} is not installed; run: apt-get install -y postgresql")
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_server_user() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@contextlib.contextmanager
def postgres_server(database: str = "siting") -> Iterator[str]:
    """A running server with ``database`` in it; yields its ``postgresql://`` URL (trust auth, loopback only)."""
    root = Path(tempfile.mkdtemp(prefix="siting-pg-"))
    data = root / "data"
    prefix = _as_server_user()
    if prefix:
        shutil.chown(root, "postgres", "postgres")
    port = _free_port()
    run = dict(check=True, capture_output=True, text=True)
    try:
        subprocess.run([*prefix, _binary("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                        "--encoding=UTF8", "--locale=C.UTF-8"], **run)
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200"
        subprocess.run([*prefix, _binary("pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-o", options,
                        "-w", "-t", "60", "start"], **run)
        try:
            subprocess.run([*prefix, _binary("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", database], **run)
            yield f"postgresql://postgres@127.0.0.1:{port}/{database}"
        finally:
            subprocess.run([*prefix, _binary("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, check=False)
    except subprocess.CalledProcessError as error:
        raise RuntimeError(f"PostgreSQL failed to start: {error.cmd}: {error.stderr}") from error
    finally:
        shutil.rmtree(root, ignore_errors=True)
