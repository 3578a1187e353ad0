"""Collector processes on a PostgreSQL store (``collect --store URL``), for these tests."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

from ..collector_proc import TOKEN, Collector
from ..helpers import cli_env


class PgCollector(Collector):
    """A real ``agentlytics collect --store URL`` process (``workers`` processes on one port)."""

    def __init__(self, workdir: Path, store: str, *, workers: int = 1) -> None:
        super().__init__(workdir)
        self.store = store
        self.workers = workers

    def start(self) -> PgCollector:
        log = open(self.log, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agentlytics", "collect", "--port", str(self.port),
             "--store", self.store, "--token", TOKEN, "--workers", str(self.workers)],
            env=cli_env(), stdout=log, stderr=log, cwd=self.workdir,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"collector exited: {self.log.read_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("collector did not come up")

    def rows(self) -> list[tuple[str, str]]:
        return pg_rows(self.store)


def pg_rows(url: str) -> list[tuple[str, str]]:
    """(event_id, payload) of every stored row."""
    with psycopg.connect(url) as con:
        return [(r[0], r[1]) for r in con.execute("SELECT event_id, payload FROM events")]
