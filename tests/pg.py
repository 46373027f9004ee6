"""A throwaway PostgreSQL cluster for tests: ``initdb`` + ``pg_ctl`` in a temporary folder.

The server listens on a unix socket only (``listen_addresses=''``), inside the folder, so nothing
is reachable from outside and parallel runs cannot collide. PostgreSQL refuses to run as root;
under root the cluster is created and run as an unprivileged user (``postgres`` if it exists,
else ``nobody``) through ``runuser``/``setpriv``, with the folder handed to that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_BIN_CANDIDATES = ("/usr/local/bin", "/usr/lib/postgresql/15/bin")
START_TIMEOUT_S = 30


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can be started here (the reason says why)."""


def find_pg_bin() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``."""
    on_path = shutil.which("initdb")
    for folder in (*PG_BIN_CANDIDATES, *([str(Path(on_path).parent)] if on_path else [])):
        path = Path(folder)
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            return path
    raise PostgresUnavailable("no PostgreSQL server binaries (initdb, pg_ctl) found")


def _drop_root_prefix(folder: Path) -> list[str]:
    """Command prefix that runs a command as an unprivileged user when we are root ([] otherwise)."""
    if os.geteuid() != 0:
        return []
    for name in ("postgres", "nobody"):
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        os.chown(folder, user.pw_uid, user.pw_gid)
        if runuser := shutil.which("runuser"):
            return [runuser, "-u", name, "--"]
        if setpriv := shutil.which("setpriv"):
            return [setpriv, f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--"]
        raise PostgresUnavailable("running as root, and neither runuser nor setpriv exists to drop privileges")
    raise PostgresUnavailable("running as root, and no unprivileged user (postgres, nobody) exists")


def _free_port() -> int:
    """A port number no local TCP server uses (names the socket file; nothing listens on TCP)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_postgres() -> Iterator[str]:
    """Start a fresh cluster; yields its SQLAlchemy URL (``postgresql+psycopg://``), stops and deletes it after.

    Raises:
        PostgresUnavailable: no server binaries or no way to run them here.
        RuntimeError: the server did not start (with the end of its log).
    """
    bindir = find_pg_bin()
    # A short folder: a unix socket path must stay under ~100 bytes.
    folder = Path(tempfile.mkdtemp(prefix="shop-pg-"))
    try:
        prefix = _drop_root_prefix(folder)
        data, log, port = folder / "data", folder / "server.log", _free_port()

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=START_TIMEOUT_S)

        init = run(
            str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
            "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr.strip()[-800:]}")
        options = f"-k {folder} -p {port} -c listen_addresses='' -F -c max_connections=80"
        start = run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
        if start.returncode != 0:
            tail = log.read_text(errors="replace")[-800:] if log.exists() else start.stderr
            raise RuntimeError(f"PostgreSQL did not start: {tail.strip()}")
        try:
            yield f"postgresql+psycopg://postgres@/postgres?host={folder}&port={port}"
        finally:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
