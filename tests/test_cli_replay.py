"""`agentlytics replay` end to end through the real CLI, as a user runs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb

from tests.helpers import ROOT, all_captures, capture_path, run_cli


def test_events_to_stdout_are_only_event_lines() -> None:
    proc = run_cli("replay", "--events", "-", "--no-warehouse", str(capture_path("shell_accept")))
    lines = proc.stdout.splitlines()
    assert lines, "no events printed"
    for raw in lines:
        event = json.loads(raw)
        assert list(event) == ["event_type", "event_params"]
    assert [json.loads(x)["event_type"] for x in lines] == [
        "codex_thread_initialized",
        "codex_review_event",
        "codex_command_execution_event",
        "codex_turn_event",
    ]
    assert "Events by type" in proc.stderr  # the report goes to stderr, never stdout


def test_default_warehouse_is_idempotent(tmp_cwd: Path) -> None:
    captures = [str(p) for p in all_captures()]
    first = run_cli("replay", *captures, cwd=tmp_cwd)
    db = tmp_cwd / "agentlytics.duckdb"
    assert db.exists()
    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone()
        turns = con.execute("SELECT count(*) FROM turns").fetchone()
    assert stored is not None and stored[0] == stored[1] > 0
    completed_turns = sum(
        json.loads(line)["msg"].get("method") == "turn/completed"
        for p in all_captures()
        for line in p.read_text().splitlines()
    )
    assert turns == (completed_turns,)
    assert "Events by type" in first.stdout and "Turns by status" in first.stdout
    assert "Tool calls by kind" in first.stdout
    second = run_cli("replay", *captures, cwd=tmp_cwd)
    assert f" 0 new in agentlytics.duckdb ({stored[0]} stored in all)" in " ".join(
        second.stdout.split()
    )
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM events").fetchone() == (stored[0],)


def test_bad_lines_are_counted_and_strict_fails(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    good = capture_path("shell_decline").read_text().splitlines()
    broken.write_text(
        "\n".join(
            [
                good[0],
                "{oops",
                *good[1:],
                '{"ts_ms": 1, "dir": "server_to_client", "msg": {"method": "bogus/method"}}',
            ]
        )
        + "\n"
    )
    proc = run_cli("replay", "--no-warehouse", str(broken))
    assert "malformed line" in proc.stdout and "unknown server notification method" in proc.stdout
    assert "codex_turn_event" in proc.stdout  # the rest of the capture still replayed
    strict = run_cli("replay", "--no-warehouse", "--strict", str(broken), check=False)
    assert strict.returncode == 1
    clean = run_cli(
        "replay", "--no-warehouse", "--strict", str(capture_path("shell_decline")), check=False
    )
    assert clean.returncode == 0 and "No input dropped." in clean.stdout


def test_missing_capture_is_a_clear_error() -> None:
    proc = run_cli("replay", "--no-warehouse", "does-not-exist.jsonl", check=False)
    assert proc.returncode == 2
    assert "no such capture file" in proc.stderr


def test_events_file_and_python_dash_m(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    run_cli("replay", "--events", str(out), "--no-warehouse", "-q", str(capture_path("web_search")))
    events = [json.loads(x) for x in out.read_text().splitlines()]
    assert "codex_web_search_event" in {e["event_type"] for e in events}


def test_readme_main_job_examples_replay(tmp_cwd: Path) -> None:
    # The README's first command replays examples/*.jsonl into ./agentlytics.duckdb.
    examples = sorted((ROOT / "examples").glob("*.jsonl"))
    assert examples
    for example in examples:
        shutil.copy(example, tmp_cwd / example.name)
    proc = run_cli("replay", *[p.name for p in examples], cwd=tmp_cwd)
    assert "Tool calls by kind" in proc.stdout
    assert (tmp_cwd / "agentlytics.duckdb").exists()


def test_piped_summary_never_cuts_a_name() -> None:
    """Issue 15: piped, the replay's tables are as wide as their content (``command_ex…``)."""
    proc = run_cli("replay", "--no-warehouse", *map(str, sorted(ROOT.glob("examples/*.jsonl"))))
    assert "…" not in proc.stdout
    for name in ("command_execution", "unified_exec", "apply_patch", "mcp_tool_call"):
        assert f" {name} " in proc.stdout
