"""A real, throwaway PostgreSQL cluster: ``initdb`` + ``pg_ctl`` in a temp dir on a free port.

Debian's ``postgresql`` package (``.ci/run`` installs it) puts the binaries in
``/usr/lib/postgresql/NN/bin``, off ``PATH``; they are looked up there too. ``initdb`` refuses
to run as root, so as root the cluster belongs to the ``postgres`` OS user (created by the
package). Connections are password-checked over TCP (scram), so a wrong password fails as it
would against a real server.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from .collector_proc import free_port

PASSWORD = "pg-test-pw"
USER = "agentlytics"


def pg_bin(name: str) -> str | None:
    """Path of a PostgreSQL server binary (``initdb``, ``pg_ctl``), or None if not installed."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return candidates[-1] if candidates else None


def available() -> bool:
    return pg_bin("initdb") is not None and pg_bin("pg_ctl") is not None


class PgServer:
    """One cluster; ``start``/``stop``/``restart`` keep its data directory."""

    def __init__(self, **settings: str) -> None:
        initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install -y postgresql)")
        self.initdb, self.pg_ctl = initdb, pg_ctl
        self.root = Path(tempfile.mkdtemp(prefix="agentlytics-pg-"))
        self.data = self.root / "data"
        self.logfile = self.root / "server.log"
        self.port = free_port()
        self.settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "max_connections": "100",
            "shared_buffers": "128MB",
            **settings,
        }
        self._as: dict[str, Any] = {}
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._as = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self._as:
            os.chown(pwfile, self._as["user"], self._as["group"])
        self._run(
            [self.initdb, "-D", str(self.data), "-U", USER, "--pwfile", str(pwfile),
             "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
             "--locale=C.UTF-8", "--no-sync"]
        )  # fmt: skip
        with open(self.data / "postgresql.conf", "a") as conf:
            for key, value in self.settings.items():
                conf.write(f"{key} = {value}\n")

    def _run(self, args: list[str], timeout: float = 120) -> None:
        proc = subprocess.run(
            args, capture_output=True, text=True, timeout=timeout, cwd=self.root, **self._as
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {proc.stdout}{proc.stderr}")

    def url(self, database: str = "postgres", *, password: str = PASSWORD) -> str:
        return f"postgresql://{USER}:{password}@127.0.0.1:{self.port}/{database}"

    def start(self) -> PgServer:
        self._run([self.pg_ctl, "-D", str(self.data), "-l", str(self.logfile), "-w", "start"])
        return self

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run([self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop"])

    def restart(self) -> None:
        self.stop()
        self.start()

    def create_database(self, name: str) -> str:
        """A fresh database; its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def wait_until(predicate: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False
