"""Projects: names stay local, a team store answers ``--project`` by repo hash.

The bundled examples carry ``thread_repo`` metadata (repo ``example/session``). Replayed into a
local warehouse they fill ``thread_projects``; sent to a real collector, nothing but the hash
ever leaves, so the team store must find a project's threads from the delivered events.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from tests.collector_proc import TOKEN, Collector
from tests.helpers import ROOT, run_cli

EXAMPLES = sorted(str(p) for p in (ROOT / "examples").glob("*.jsonl"))


def _metas() -> list[dict[str, str]]:
    return [
        json.loads(line)["meta"]
        for p in EXAMPLES
        for line in Path(p).read_bytes().splitlines()
        if json.loads(line)["dir"] == "meta"
    ]


def _sessions(warehouse: Path, *args: str) -> set[str]:
    out = run_cli(
        "report", "sessions", "--warehouse", str(warehouse), "-f", "json", "--limit", "0", *args
    ).stdout
    return {r["thread_id"] for r in json.loads(out)}


@pytest.mark.slow
def test_names_stay_local_and_a_team_store_filters_by_repo_hash(tmp_path: Path) -> None:
    metas = _metas()
    (repo_hash,) = {m["repo_hash"] for m in metas}
    (name,) = {m["repo_name"] for m in metas}
    local = tmp_path / "local.duckdb"
    run_cli("replay", "--warehouse", str(local), *EXAMPLES)
    collector = Collector(tmp_path / "team").start()
    try:
        run_cli(
            "replay", "--no-warehouse", "-q", "--send", collector.url, "--token", TOKEN,
            "--spool", str(tmp_path / "spool"), *EXAMPLES,
        )  # fmt: skip
    finally:
        collector.stop()
    # Never delivered: no stored byte names the repository or its branch.
    payloads = [payload for _, payload in collector.rows()]
    assert payloads and not any(name in p or '"main"' in p for p in payloads)
    con = duckdb.connect(str(collector.warehouse), read_only=True)
    assert con.execute("SELECT count(*) FROM thread_projects").fetchone() == (0,)
    con.close()
    # The hash reaches the team store only in accepted-line fingerprints: their threads.
    fingerprinted = {
        json.loads(p)["event_params"]["thread_id"]
        for p in payloads
        if json.loads(p)["event_type"] == "codex_accepted_line_fingerprints"
        and json.loads(p)["event_params"]["repo_hash"] == repo_hash
    }
    assert len(fingerprinted) == 1
    assert _sessions(collector.warehouse, "--project", repo_hash) == fingerprinted
    assert _sessions(collector.warehouse, "--project", name) == set()
    assert _sessions(collector.warehouse, "--project", "0" * 40) == set()
    # Locally, name and hash both select every thread the captures recorded, and the subagent
    # threads those spawned (a subagent names no cwd on the wire: it takes its parent's repo).
    recorded = {m["thread_id"] for m in metas}
    events = run_cli("replay", "--events", "-", "--no-warehouse", *EXAMPLES).stdout
    recorded |= {
        e["event_params"]["thread_id"]
        for e in map(json.loads, events.splitlines())
        if e["event_type"] == "codex_thread_initialized"
        and e["event_params"]["parent_thread_id"] in recorded
    }
    assert _sessions(local, "--project", name) == recorded
    assert _sessions(local, "--project", repo_hash) == recorded
