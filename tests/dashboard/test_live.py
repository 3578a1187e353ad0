"""Live: an open page shows what a separate writer process stores, within 2 s, without a
reload, and reading never makes the writer fail."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from tests.collector_proc import TOKEN, Collector
from tests.dashboard.browser import Dashboard
from tests.dashboard.conftest import PageErrors
from tests.helpers import all_captures, capture_path, cli_env, replay_events, run_cli

LIVE_WITHIN_S = 2.0


def _threads(*captures: Path) -> set[str]:
    return {
        e["event_params"]["thread_id"]
        for e in replay_events(*captures)
        if e["event_type"] in ("codex_thread_initialized", "codex_turn_event")
    }


def _settle(page: Any, dash: Dashboard) -> None:
    """Until the page shows the store as it is now (it reads nothing more until it changes).

    Without this a page still reading after the last write could hold the file just when the
    next writer opens it; on main, replay waits for such a hold (up to 10 s) instead of failing.
    """
    version = httpx.get(dash.url + "api/version").json()["version"]
    page.wait_for_function("v => document.body.dataset.version === v", arg=version)


def _sessions_card(page: Any) -> int:
    return int(json.loads(page.locator("[data-card=sessions]").get_attribute("data-value")))


@pytest.mark.slow
def test_a_session_stored_by_another_process_shows_within_two_seconds(
    page: Any, tmp_path: Path
) -> None:
    warehouse = tmp_path / "live.duckdb"
    later = [capture_path("two_threads"), capture_path("subagent")]
    first = [p for p in all_captures() if p not in later]
    with Dashboard(warehouse, tmp_path) as dash:
        errors = PageErrors(page, dash.url.rstrip("/"))
        page.goto(dash.url)
        page.wait_for_selector("body[data-ready]")
        # Nothing stored yet: the page says what to run, and keeps watching.
        assert page.locator("#empty").is_visible()
        run_cli("replay", "--quiet", "--warehouse", str(warehouse), *map(str, first))
        seen = _threads(*first)
        page.wait_for_function(
            "n => JSON.parse(document.querySelector('[data-card=sessions]').dataset.value) === n",
            arg=len(seen),
            timeout=10_000,
        )
        _settle(page, dash)
        delays = []
        for batch in (later[:1], later[1:]):
            run_cli("replay", "--quiet", "--warehouse", str(warehouse), *map(str, batch))
            # Stored = the writer's last write to the file (its process exits later still).
            stored_at = max(p.stat().st_mtime for p in tmp_path.glob("live.duckdb*"))
            seen |= _threads(*batch)
            page.wait_for_function(
                "n => JSON.parse(document.querySelector('[data-card=sessions]').dataset.value) === n",
                arg=len(seen),
                timeout=10_000,
            )
            delays.append(time.time() - stored_at)
            # The new sessions are rows of the list, too.
            rows = page.locator("[data-table=sessions] tbody tr")
            assert {rows.nth(i).get_attribute("data-thread") for i in range(rows.count())} == seen
            _settle(page, dash)
        print(f"live delays after each write: {', '.join(f'{d:.2f} s' for d in delays)}")
        assert max(delays) < LIVE_WITHIN_S, delays
        assert _sessions_card(page) == len(seen) == 25
        assert page.locator("#empty").is_hidden()
        # While a writer holds the file the page may be told "busy" (HTTP 503) and retries;
        # nothing else may go wrong.
        assert [m for m in errors.messages if "status of 503" not in m] == []


@pytest.mark.slow
def test_while_a_collector_writes_the_page_shows_each_batch_within_two_seconds(
    page: Any, tmp_path: Path
) -> None:
    """The long-lived writer: ``collect`` holds the warehouse the whole time (DuckDB then lets
    no other process open it); the dashboard reads through the collector, and the collector
    stores every event sent to it while the page polls."""
    later = [capture_path("two_threads"), capture_path("subagent")]
    first = [p for p in all_captures() if p not in later]
    collector = Collector(tmp_path / "collector").start()
    try:
        warehouse = collector.warehouse
        with Dashboard(warehouse, tmp_path) as dash:
            errors = PageErrors(page, dash.url.rstrip("/"))
            page.goto(dash.url)
            page.wait_for_selector("body[data-ready]")
            assert page.locator("#empty").is_visible()
            seen: set[str] = set()
            delays = []
            for batch in (first, later[:1], later[1:]):
                run_cli(
                    "replay", "--quiet", "--no-warehouse", "--strict", "--send", collector.url,
                    "--token", TOKEN, "--spool", str(tmp_path / "spool"), *map(str, batch),
                )  # fmt: skip
                # `replay --send` returns once the collector acknowledged: it has stored.
                stored_at = max(p.stat().st_mtime for p in warehouse.parent.glob("*.duckdb*"))
                seen |= _threads(*batch)
                page.wait_for_function(
                    "n => JSON.parse(document.querySelector('[data-card=sessions]')"
                    ".dataset.value) === n",
                    arg=len(seen),
                    timeout=10_000,
                )
                delays.append(time.time() - stored_at)
                rows = page.locator("[data-table=sessions] tbody tr")
                assert {
                    rows.nth(i).get_attribute("data-thread") for i in range(rows.count())
                } == seen
            print(f"live delays behind the collector: {', '.join(f'{d:.2f} s' for d in delays)}")
            assert max(delays) < LIVE_WITHIN_S, delays
            assert page.locator("#empty").is_hidden()
            # The collector is never in the page's way: no "busy", no error, ever.
            assert errors.messages == []
    finally:
        collector.stop()
    # … and the page was never in the collector's way: it stored every event, once.
    expected = {e["event_type"] for e in replay_events(*first, *later)}
    rows = collector.rows()
    assert len(rows) == len(replay_events(*first, *later))
    assert {json.loads(p)["event_type"] for _, p in rows} == expected
    assert not [
        line for line in collector.log_lines() if '"status":2' not in line and "POST" in line
    ]


@pytest.mark.slow
def test_while_a_tap_writes_the_page_shows_its_session_within_two_seconds(
    page: Any, tmp_path: Path
) -> None:
    """``tap --warehouse`` relays a live session (a scripted app-server replaying a real
    capture) and holds the warehouse until its client goes; the open page shows the session
    meanwhile, and the tap's warehouse gets every event."""
    from tests.observe.test_tap import _SCRIPTED_SERVER

    source = capture_path("shell_accept")
    records = [json.loads(x) for x in source.read_text().splitlines()]
    client_lines = [json.dumps(r["msg"]) + "\n" for r in records if r["dir"] == "client_to_server"]
    warehouse = tmp_path / "tap.duckdb"
    with Dashboard(warehouse, tmp_path) as dash:
        errors = PageErrors(page, dash.url.rstrip("/"))
        page.goto(dash.url)
        page.wait_for_selector("body[data-ready]")
        assert page.locator("#empty").is_visible()
        tap = subprocess.Popen(
            [sys.executable, "-m", "agentlytics", "tap", "--warehouse", str(warehouse), "--",
             sys.executable, "-c", _SCRIPTED_SERVER, str(source)],
            env={**cli_env(), "AGENTLYTICS_SPOOL": str(tmp_path / "spool")},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
        )  # fmt: skip
        assert tap.stdin is not None and tap.stdout is not None
        relayed = threading.Thread(target=tap.stdout.read, daemon=True)
        relayed.start()
        try:
            for line in client_lines:
                tap.stdin.write(line.encode())
                tap.stdin.flush()
                time.sleep(0.01)
            # The session is over but the tap still runs (its client has not gone): it holds
            # the warehouse, and the page reads it through the tap.
            page.wait_for_function(
                "n => JSON.parse(document.querySelector('[data-card=sessions]')"
                ".dataset.value) === n",
                arg=1,
                timeout=10_000,
            )
            delay = time.time() - max(p.stat().st_mtime for p in tmp_path.glob("tap.duckdb*"))
            assert tap.poll() is None
            thread = next(iter(_threads(source)))
            assert (
                page.locator("[data-table=sessions] tbody tr").get_attribute("data-thread")
                == thread
            )
        finally:
            tap.stdin.close()
            relayed.join(30)
            code = tap.wait(60)
        print(f"live delay behind the tap: {delay:.2f} s")
        assert code == 0, tap.stderr.read() if tap.stderr else ""
        assert delay < LIVE_WITHIN_S
        assert errors.messages == []
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        stored = sorted(r[0] for r in con.execute("SELECT event_type FROM events").fetchall())
    finally:
        con.close()
    assert stored == sorted(e["event_type"] for e in replay_events(source))
