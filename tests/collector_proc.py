"""A real collector (``python -m agentlytics collect``) in a subprocess on a free local port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx

from .helpers import cli_env

TOKEN = "test-token-s3cret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Collector:
    """Start/stop a collector process; the warehouse file outlives restarts."""

    def __init__(
        self, workdir: Path, port: int | None = None, args: tuple[str, ...] = (), **env: str
    ) -> None:
        self.args = args  # more `collect` options
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.warehouse = workdir / "collected.duckdb"
        self.log = workdir / "collector.log"
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Collector:
        env = cli_env()
        env.update(self.env)
        log = open(self.log, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agentlytics", "collect", "--port", str(self.port),
             "--warehouse", str(self.warehouse), "--token", TOKEN, *self.args],
            env=env, stdout=log, stderr=log, cwd=self.workdir,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 30
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

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def rows(self) -> list[tuple[str, str]]:
        """(event_id, payload) of every stored row; the collector must be stopped."""
        assert self.proc is None, "stop the collector before reading its warehouse"
        if not self.warehouse.exists():
            return []
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            rows = con.execute("SELECT event_id, payload FROM events").fetchall()
            return [(r[0], r[1]) for r in rows]
        finally:
            con.close()

    def log_lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


def producer_env() -> dict[str, str]:
    env = cli_env()
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = env["PYTHONPATH"] + os.pathsep + root
    return env
