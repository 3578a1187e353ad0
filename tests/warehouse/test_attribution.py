"""Attribution end to end: a real git repository, a real DuckDB warehouse with fingerprint
events computed from agent diffs, and commits that mix agent and hand-written lines."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from agentlytics.fingerprints.chunks import chunk_fingerprints
from agentlytics.fingerprints.diff import fingerprint_hash, fingerprint_unified_diff
from agentlytics.warehouse.attribution import AttributionError, attribute, report_json

ROOT = Path(__file__).resolve().parents[2]
REMOTE = "https://bot:ghp_abcdefghijklmnopqrstuvwx@github.com/Acme/Widgets.git"
REPO_HASH = fingerprint_hash("repo", "github.com/acme/widgets")
T1, T2 = 1_700_100_000, 1_700_250_000  # agent turns completed

TURN1 = (
    "diff --git a/src/app.py b/src/app.py\n--- a/src/app.py\n+++ b/src/app.py\n"
    "@@ -1,2 +1,7 @@\n+def load_config(path):\n+    with open(path) as fh:\n"
    "+        return json.load(fh)\n+}\n+    return None\n"
)
TURN2 = (
    "diff --git a/src/util.py b/src/util.py\n--- a/src/util.py\n+++ b/src/util.py\n"
    "@@ -1 +1,2 @@\n-old stuff here\n+def slugify(text):\n"
    "+    return text.lower().replace(' ', '-')\n"
)
OTHER_REPO = (
    "diff --git a/src/util.py b/src/util.py\n--- a/src/util.py\n+++ b/src/util.py\n"
    "@@ -0,0 +1 @@\n+CONSTANT = 42\n"
)


def fingerprint_events(
    turn: str, diff: str, completed_at: int, repo_hash: str | None
) -> list[dict[str, Any]]:
    result = fingerprint_unified_diff(diff)
    events = []
    for added, deleted, prints in chunk_fingerprints(
        result.added, result.deleted, result.fingerprints
    ):
        events.append(
            {
                "event_type": "codex_accepted_line_fingerprints",
                "event_params": {
                    "event_type": "codex.accepted_line_fingerprints",
                    "turn_id": turn,
                    "thread_id": "thread-1",
                    "product_surface": "codex",
                    "model_slug": "gpt-5.5",
                    "completed_at": completed_at,
                    "repo_hash": repo_hash,
                    "accepted_added_lines": added,
                    "accepted_deleted_lines": deleted,
                    "line_fingerprints": [{"path_hash": p, "line_hash": h} for p, h in prints],
                },
            }
        )
    return events


def write_warehouse(path: Path, events: list[dict[str, Any]]) -> None:
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE IF NOT EXISTS events(event_id VARCHAR PRIMARY KEY, event_type VARCHAR "
        "NOT NULL, thread_id VARCHAR, turn_id VARCHAR, payload JSON NOT NULL)"
    )
    for event in events:
        body = json.dumps(event, separators=(",", ":"))
        params = event["event_params"]
        con.execute(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                hashlib.sha256(body.encode()).hexdigest(),
                event["event_type"],
                params.get("thread_id"),
                params.get("turn_id"),
                body,
            ],
        )
    con.close()


class Repo:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir()
        self.git("init", "-q", "-b", "main")
        self.git("remote", "add", "origin", REMOTE)

    def git(self, *args: str, when: int | None = None, who: str = "Alice") -> str:
        env = dict(os.environ)
        env.update(
            GIT_AUTHOR_NAME=who,
            GIT_AUTHOR_EMAIL=f"{who.lower()}@example.com",
            GIT_COMMITTER_NAME=who,
            GIT_COMMITTER_EMAIL=f"{who.lower()}@example.com",
            GIT_CONFIG_GLOBAL=os.devnull,
            GIT_CONFIG_NOSYSTEM="1",
        )
        if when is not None:
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{when} +0000"
        proc = subprocess.run(
            ["git", *args], cwd=self.path, env=env, check=True, capture_output=True
        )
        return proc.stdout.decode().strip()

    def append(self, rel: str, *lines: str) -> None:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a") as fh:
            fh.write("".join(line + "\n" for line in lines))

    def commit(self, message: str, when: int, who: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message, when=when, who=who)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    turn1 = fingerprint_events("turn-1", TURN1, T1, REPO_HASH)
    # the same turn delivered as two chunks: counts on the first only
    prints = turn1[0]["event_params"]["line_fingerprints"]
    first = json.loads(json.dumps(turn1[0]))
    first["event_params"]["line_fingerprints"] = prints[:2]
    second = json.loads(json.dumps(turn1[0]))
    second["event_params"].update(accepted_added_lines=0, accepted_deleted_lines=0)
    second["event_params"]["line_fingerprints"] = prints[2:]
    events = [
        first,
        second,
        second,  # a re-delivered duplicate: same event id, stored once
        *fingerprint_events("turn-2", TURN2, T2, REPO_HASH),
        *fingerprint_events("turn-x", OTHER_REPO, T2, fingerprint_hash("repo", "x.com/a/b")),
        {"event_type": "codex_turn_event", "event_params": {"turn_id": "turn-1"}},
    ]
    assert len(prints) == 4
    warehouse = tmp_path / "agentlytics.duckdb"
    write_warehouse(warehouse, events)

    repo = Repo(tmp_path / "widgets")
    repo.append("src/app.py", "import json", "    return None")
    c1 = repo.commit("initial", 1_700_000_000, "Alice")
    repo.append(
        "src/app.py",
        "def load_config(path):",
        "    with open(path) as fh:",
        "        return json.load(fh)",
        "}",
        "",
        "    return None",
        "    return None",
        "# tuned by hand",
    )
    c2 = repo.commit("agent work", 1_700_200_000, "Bob")
    repo.append("src/util.py", "def slugify(text):", "    return text.lower().replace(' ', '-')")
    repo.append("src/util.py", "CONSTANT = 42")
    repo.append("docs/notes.md", "def load_config(path):")
    (repo.path / "assets").mkdir()
    (repo.path / "assets" / "logo.bin").write_bytes(b"\x00\x01binary\x00data\n" * 10)
    c3 = repo.commit("util", 1_700_300_000, "Alice")
    repo.git("checkout", "-q", "-b", "side")
    repo.append("src/app.py", "    with open(path) as fh:", "print('side')")
    c4 = repo.commit("side", 1_700_400_000, "Carol")
    repo.git("checkout", "-q", "main")
    (repo.path / "lib").mkdir()
    repo.git("mv", "src/util.py", "lib/util.py")
    c5 = repo.commit("rename", 1_700_500_000, "Bob")
    repo.git("merge", "-q", "--no-ff", "-m", "merge side", "side", when=1_700_600_000, who="Bob")
    return {"repo": repo.path, "warehouse": warehouse, "shas": [c1, c2, c3, c4, c5]}


def _rows(report_part: list[Any], key: str) -> dict[str, tuple[int, int, int, float | None]]:
    return {
        getattr(r, key): (r.added_lines, r.eligible_lines, r.matched_lines, r.share)
        for r in report_part
    }


def test_attribution_shares_per_commit_author_and_path(world: dict[str, Any]) -> None:
    report = attribute(world["repo"], world["warehouse"])
    c1, c2, c3, c4, c5 = world["shas"]
    assert report.repo_hash == REPO_HASH
    assert report.agent_lines_loaded == 6  # 4 from turn 1 (two chunks, one duplicate), 2 turn 2
    assert [c.sha for c in report.commits] == [c1, c2, c3, c4, c5]  # oldest first, no merge
    assert _rows(report.commits, "sha") == {
        c1: (2, 2, 0, 0.0),  # "return None" predates the agent turn (time gate)
        c2: (8, 6, 4, 4 / 6),  # 3 agent lines + one of two "return None"; "}" and "" excluded
        c3: (4, 4, 2, 0.5),  # agent text under another path does not match; binary: no lines
        c4: (2, 2, 0, 0.0),  # agent line already consumed by c2 (multiset)
        c5: (0, 0, 0, None),  # pure rename
    }
    assert {a.author: (a.commits, a.added_lines, a.eligible_lines, a.matched_lines)
            for a in report.authors} == {
        "Alice <alice@example.com>": (2, 6, 6, 2),
        "Bob <bob@example.com>": (2, 8, 6, 4),
        "Carol <carol@example.com>": (1, 2, 2, 0),
    }  # fmt: skip
    assert _rows(report.paths, "path") == {
        "src/app.py": (12, 10, 4, 0.4),
        "src/util.py": (3, 3, 2, 2 / 3),
        "docs/notes.md": (1, 1, 0, 0.0),
    }
    assert (report.totals.added_lines, report.totals.eligible_lines) == (16, 14)
    assert report.totals.matched_lines == 6


def test_range_and_time_gate(world: dict[str, Any]) -> None:
    c1, c2, c3, c4, c5 = world["shas"]
    ranged = attribute(world["repo"], world["warehouse"], since=c3)
    # c2 is outside the range, so its agent line is still available to c4
    assert _rows(ranged.commits, "sha") == {c4: (2, 2, 1, 0.5), c5: (0, 0, 0, None)}
    until = attribute(world["repo"], world["warehouse"], since=c1, until=c2)
    assert [c.sha for c in until.commits] == [c2]
    ungated = attribute(world["repo"], world["warehouse"], time_slack_s=None)
    rows = _rows(ungated.commits, "sha")
    assert rows[c1] == (2, 2, 1, 0.5)  # the old hand-written "return None" now matches
    assert rows[c2] == (8, 6, 3, 0.5)


def test_errors_are_clear(world: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(AttributionError, match="warehouse not found"):
        attribute(world["repo"], tmp_path / "missing.duckdb")
    with pytest.raises(AttributionError, match="git log failed"):
        attribute(world["repo"], world["warehouse"], since="no-such-rev")
    bare = tmp_path / "plain"
    bare.mkdir()
    with pytest.raises(AttributionError, match="not a git repository with a remote"):
        attribute(bare, world["warehouse"])
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(AttributionError, match="cannot read fingerprint events"):
        attribute(world["repo"], empty)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "agentlytics", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_cli_table_and_json_report(world: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    proc = _cli("attribute", "--repo", str(world["repo"]), "--json", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "agent share: 42.9% of 14 fingerprintable added lines" in proc.stdout
    assert "src/app.py" in proc.stdout and "Bob <bob@example.com>" in proc.stdout
    data = json.loads(out.read_text())
    expected = json.loads(report_json(attribute(world["repo"], world["warehouse"])))
    assert data == expected
    assert data["totals"] == {
        "added_lines": 16, "eligible_lines": 14, "matched_lines": 6, "share": 6 / 14,
    }  # fmt: skip
    assert data["commits"][1]["subject"] == "agent work"
    assert set(data) == {
        "repo", "repo_hash", "since", "until", "time_slack_s", "agent_lines_loaded",
        "commits", "authors", "paths", "totals",
    }  # fmt: skip
    missing = _cli("attribute", "--repo", str(world["repo"]), "--warehouse", "nope.duckdb",
                   cwd=tmp_path)  # fmt: skip
    assert missing.returncode == 2
    assert "warehouse not found" in missing.stderr


def test_report_attribution_and_overview_share(world: dict[str, Any], tmp_path: Path) -> None:
    """``report attribution`` is the same report in every format; ``report overview --repo``
    carries its share."""
    import csv
    import io

    repo, warehouse = str(world["repo"]), str(world["warehouse"])
    expected = json.loads(report_json(attribute(world["repo"], world["warehouse"])))
    as_json = _cli("report", "attribution", "--repo", repo, "--warehouse", warehouse,
                   "-f", "json", cwd=tmp_path)  # fmt: skip
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == expected
    as_csv = _cli("report", "attribution", "--repo", repo, "--warehouse", warehouse,
                  "-f", "csv", cwd=tmp_path)  # fmt: skip
    parsed = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(r["author"], int(r["matched_lines"])) for r in parsed] == [
        (a["author"], a["matched_lines"]) for a in expected["authors"]
    ]
    table = _cli("report", "attribution", "--repo", repo, "--warehouse", warehouse, cwd=tmp_path)
    assert "agent share: 42.9% of 14 fingerprintable added lines" in table.stdout
    # The world's warehouse is a bare events table (the oldest layout): upgrade it first.
    assert _cli("migrate", "--warehouse", warehouse, cwd=tmp_path).returncode == 0
    overview = _cli("report", "overview", "--repo", repo, "--warehouse", warehouse,
                    "-f", "json", cwd=tmp_path)  # fmt: skip
    assert overview.returncode == 0, overview.stderr
    assert json.loads(overview.stdout)["agent_share"] == 6 / 14
