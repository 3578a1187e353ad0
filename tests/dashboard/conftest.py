"""Fixtures for the dashboard tests: a real Chromium, real warehouses, a real server process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.browser import Dashboard, chromium_path, launch
from tests.helpers import all_captures, run_cli

if chromium_path() is None:  # pragma: no cover - CI installs it (.ci/run)
    pytest.skip(
        "chromium is not installed: `apt-get install -y chromium` (.ci/run does this)",
        allow_module_level=True,
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole session (each test gets its own context)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def captures_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse of every real capture, stored by the real ``replay`` command."""
    path = tmp_path_factory.mktemp("wh") / "captures.duckdb"
    run_cli("replay", "--quiet", "--warehouse", str(path), *map(str, all_captures()))
    return path


@pytest.fixture(scope="session")
def captures_dashboard(
    captures_warehouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dashboard]:
    """A dashboard process on :func:`captures_warehouse` (shared; nothing writes it)."""
    with Dashboard(captures_warehouse, tmp_path_factory.mktemp("dash")) as dash:
        yield dash


class PageErrors:
    """Console errors, uncaught exceptions and failed or off-origin requests of one page."""

    def __init__(self, page: Any, origin: str) -> None:
        self.messages: list[str] = []
        self.origin = origin
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.messages.append(f"pageerror: {exc}"))
        page.on("requestfailed", lambda req: self.messages.append(f"failed: {req.url}"))
        page.on("request", self._request)

    def _console(self, msg: Any) -> None:
        if msg.type in ("error", "warning"):
            self.messages.append(f"console.{msg.type}: {msg.text}")

    def _request(self, req: Any) -> None:
        if not req.url.startswith(self.origin):
            self.messages.append(f"off-origin request: {req.url}")


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()
