"""The dashboard over a PostgreSQL team store: the same page answers, live, through the same
query layer (a real server process over a real, throwaway PostgreSQL cluster)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from agentlytics.events.envelope import Envelope
from agentlytics.replay import replay
from agentlytics.warehouse import postgres
from agentlytics.warehouse.store import batch_columns

from ..dashboard.browser import Dashboard
from ..helpers import ROOT, capture_path, run_cli


def _envelopes(*captures: Path) -> list[Envelope]:
    events: list[Envelope] = []

    class Collect:
        def write(self, batch: list[Envelope]) -> None:
            events.extend(batch)

        def close(self) -> None:
            pass

    replay(list(captures), [Collect()])
    return events


def _store(url: str, *captures: Path) -> None:
    with postgres.connect(url) as con:
        postgres.insert_columns(con, batch_columns(_envelopes(*captures)))


def _report(url: str, *args: str) -> Any:
    return json.loads(run_cli("report", *args, "--warehouse", url, "--format", "json").stdout)


def test_the_dashboard_reads_a_team_store_live(pg_url: str, tmp_path: Path) -> None:
    postgres.migrate_url(pg_url)
    examples = sorted((ROOT / "examples").glob("*.jsonl"))
    first = [p for p in examples if p.name != "subagent.jsonl"]
    _store(pg_url, *first)
    with Dashboard(pg_url, tmp_path) as dash:
        summary = httpx.get(dash.url + "api/summary", timeout=30).json()
        overview = _report(pg_url, "overview")
        head = summary["headline"]
        assert (head["sessions"], head["turns"], head["total_tokens"]) == (
            overview["threads"], overview["turns"], overview["total_tokens"]
        )  # fmt: skip
        assert head["cost_usd"] == overview["cost_usd"]
        assert summary["tools"] == _report(pg_url, "tools")
        assert summary["store"].startswith("postgresql://") and "pg-test-pw" not in summary["store"]
        sessions = httpx.get(dash.url + "api/sessions", timeout=30).json()["sessions"]
        assert sessions == _report(pg_url, "sessions")
        one = httpx.get(dash.url + f"api/session/{sessions[0]['thread_id']}", timeout=30).json()
        assert one["thread_id"] == sessions[0]["thread_id"] and one["spans"]

        # Live: the version is the store's event count; a new capture stored by another
        # connection shows within 2 s.
        before = httpx.get(dash.url + "api/version").json()["version"]
        assert before == f"events:{overview['events']}"
        _store(pg_url, capture_path("subagent"))
        stored_at = time.monotonic()
        while httpx.get(dash.url + "api/version").json()["version"] == before:
            assert time.monotonic() - stored_at < 2.0
            time.sleep(0.1)
        grown = httpx.get(dash.url + "api/summary", timeout=30).json()["headline"]
        assert grown["sessions"] == _report(pg_url, "overview")["threads"] == head["sessions"] + 2
        # Read-only on a database too.
        assert httpx.post(dash.url + "api/summary").status_code == 405
