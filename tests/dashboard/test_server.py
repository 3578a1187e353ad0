"""The dashboard's HTTP surface on a real server process: read-only, guarded, one-line errors."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.collector_proc import free_port
from tests.dashboard.browser import Dashboard
from tests.helpers import cli_env, run_cli

TOKEN = "dash-s3cret-token"


def test_loopback_only_read_only_and_no_foreign_hosts(captures_dashboard: Dashboard) -> None:
    url = captures_dashboard.url
    page = httpx.get(url)
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert httpx.post(url + "api/summary").status_code == 405
    assert httpx.delete(url).status_code == 405
    # DNS rebinding: a page of another site reaching 127.0.0.1 under its own name is refused.
    evil = httpx.get(url + "api/summary", headers={"Host": "attacker.example:8766"})
    assert evil.status_code == 403
    assert httpx.get(url + "api/nothing").status_code == 404
    assert httpx.get(url + "static/vendor/uPlot.LICENSE").text.startswith("The MIT License")


@pytest.mark.slow
def test_bad_input_is_a_one_line_error(captures_dashboard: Dashboard, tmp_path: Path) -> None:
    url = captures_dashboard.url
    bad = httpx.get(url + "api/summary", params={"since": "last tuesday"})
    assert bad.status_code == 400
    assert "cannot read time 'last tuesday'" in bad.json()["error"]
    assert httpx.get(url + "api/report/nope").status_code == 400
    gone = httpx.get(url + "api/session/no-such-thread").json()
    assert gone == {"error": "no session no-such-thread in this store"}
    junk = tmp_path / "junk.duckdb"
    junk.write_text("not a database\n")
    with Dashboard(junk, tmp_path) as dash:
        answer = httpx.get(dash.url + "api/summary")
        assert answer.status_code == 500
        assert answer.json()["error"].count("\n") == 0
        assert "junk.duckdb" in answer.json()["error"]


@pytest.mark.slow
def test_report_endpoint_is_the_reports_json(
    captures_dashboard: Dashboard, captures_warehouse: Path
) -> None:
    for name in ("tools", "approvals", "sessions", "goals"):
        served = httpx.get(captures_dashboard.url + f"api/report/{name}").json()
        cli = run_cli("report", name, "--warehouse", str(captures_warehouse), "--format", "json")
        assert served == json.loads(cli.stdout), name


def test_another_interface_needs_a_token() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "agentlytics", "dashboard", "--host", "0.0.0.0"],
        capture_output=True, text=True, env=cli_env(), timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: binding 0.0.0.0 makes the dashboard reachable from other machines: pass --token"
    ]


def test_a_port_in_use_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "agentlytics", "dashboard", "--port", str(port)],
            capture_output=True, text=True, env=cli_env(), timeout=60,
        )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


@pytest.mark.slow
def test_with_a_token_every_request_carries_it(
    captures_warehouse: Path, tmp_path: Path, browser: Any
) -> None:
    with Dashboard(captures_warehouse, tmp_path, "--token", TOKEN) as dash:
        url = dash.url
        for path in ("", "api/version", "api/summary", "static/app.js"):
            assert httpx.get(url + path).status_code == 401, path
            wrong = httpx.get(url + path, headers={"Authorization": "Bearer nope-nope-nope"})
            assert wrong.status_code == 401
            ok = httpx.get(url + path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert ok.status_code == 200, path
        # A browser opens the page once with ?token=…; its fetches then carry the cookie.
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(url + f"?token={TOKEN}")
            page.wait_for_selector("body[data-ready]")
            value = page.locator("[data-card=sessions]").get_attribute("data-value")
            assert json.loads(value) == 25
        finally:
            context.close()


def _serve_with_open(tmp_path: Path, browser: str) -> str:
    """What ``dashboard --open`` says on stderr, with ``BROWSER`` set (first line: the port)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentlytics", "dashboard", "--warehouse",
         str(tmp_path / "none.duckdb"), "--port", str(port), "--open"],
        env={**cli_env(), "BROWSER": browser}, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while not any("Ctrl-C stops" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(2)  # the browser is opened 0.5 s after the server announced itself
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
        reader.join(5)
    return f"port {port}\n" + "".join(lines)


@pytest.mark.slow
def test_open_says_so_when_no_browser_can_be_opened(tmp_path: Path) -> None:
    """``--open`` where no browser can be started (a server, a container) tells the user to
    open the URL by hand rather than doing nothing; with one, the browser gets the URL."""
    said = _serve_with_open(tmp_path, "/nonexistent/browser")
    port = said.splitlines()[0].split()[1]
    assert f"no web browser could be opened here: open http://127.0.0.1:{port}/ yourself" in said
    opened = tmp_path / "opened.txt"
    fake = tmp_path / "browser"
    fake.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    fake.chmod(0o755)
    said = _serve_with_open(tmp_path, str(fake))
    port = said.splitlines()[0].split()[1]
    assert opened.read_text().splitlines() == [f"http://127.0.0.1:{port}/"]
    assert "no web browser" not in said
