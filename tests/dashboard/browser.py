"""The real Chromium (Debian's ``chromium``) driven by playwright, and a dashboard process.

Playwright only controls the browser: it is launched from the system binary, never downloaded.
Shared by the dashboard tests and ``bench/bench_dashboard.py``.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.collector_proc import free_port
from tests.helpers import cli_env

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """The system Chromium, or None when it is not installed."""
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def launch(playwright: Any) -> Any:
    """A headless Chromium from the system binary."""
    path = chromium_path()
    assert path is not None, "chromium is not installed (apt-get install -y chromium)"
    return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)


class Dashboard:
    """``python -m agentlytics dashboard`` in a subprocess on a free port."""

    def __init__(self, warehouse: Path | str, workdir: Path, *extra: str) -> None:
        self.warehouse = str(warehouse)
        self.port = free_port()
        self.log = workdir / f"dashboard-{self.port}.log"
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self, *, headers: dict[str, str] | None = None) -> Dashboard:
        log = open(self.log, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agentlytics", "dashboard", "--warehouse", self.warehouse,
             "--port", str(self.port), *self.extra],
            env=cli_env(), stdout=log, stderr=log,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dashboard exited: {self.log.read_text()}")
            try:
                httpx.get(self.url + "api/version", headers=headers, timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("dashboard did not come up")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> Dashboard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
