"""codex_accepted_line_fingerprints after the turn event (spec §4.22, §6, reducer.md §7.1 20-22)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import msgspec

from agentlytics.facts import TurnDiffUpdated
from agentlytics.families import FAMILIES
from agentlytics.fingerprints.diff import fingerprint_hash
from agentlytics.observe.edge import WireObserver
from agentlytics.reducer.core import Reducer
from tests.reducer.builders import resolved_config, run, turn_completed, turn_prerequisites

DIFF = (
    "diff --git a/src/lib.rs b/src/lib.rs\n"
    "--- a/src/lib.rs\n"
    "+++ b/src/lib.rs\n"
    "@@ -1,3 +1,5 @@\n"
    "-old line\n"
    "+fn useful() {\n"
    "+}\n"
    "+    return user.id;\n"
    " context\n"
)


def completed_with(diffs: list[str], **config: Any) -> list[dict[str, Any]]:
    reducer = Reducer(FAMILIES)
    turn_prerequisites(reducer, config=False)
    run(reducer, resolved_config("thread-2", "turn-2", **config))
    for diff in diffs:
        assert run(reducer, TurnDiffUpdated("thread-2", "turn-2", diff)) == []
    completed = turn_completed("thread-2", "turn-2")
    completed = msgspec.structs.replace(completed, observed_at_ms=1_710_000_000_999)
    return run(reducer, completed)


def test_event_follows_turn_event_with_exact_shape() -> None:
    events = completed_with([DIFF], repo_hash="ab" * 20)
    assert [e["event_type"] for e in events] == [
        "codex_turn_event",
        "codex_accepted_line_fingerprints",
    ]
    path = fingerprint_hash("path", "src/lib.rs")
    assert msgspec.json.encode(events[1]) == msgspec.json.encode(
        {
            "event_type": "codex_accepted_line_fingerprints",
            "event_params": {
                "event_type": "codex.accepted_line_fingerprints",
                "turn_id": "turn-2",
                "thread_id": "thread-2",
                "product_surface": "codex",
                "model_slug": "gpt-5",
                "completed_at": 1_710_000_000,
                "repo_hash": "ab" * 20,
                "accepted_added_lines": 3,
                "accepted_deleted_lines": 1,
                "line_fingerprints": [
                    {"path_hash": path, "line_hash": "998e977f88e4d7596efb5b2bcbc9d6b5d563530d"},
                    {"path_hash": path, "line_hash": "75748444cc82682e434401d345daea2f97b6f657"},
                ],
            },
        }
    )


def test_latest_diff_wins_and_is_not_summed() -> None:
    # §7.1 no. 22: two successive diffs each adding one line → one event, added 1.
    one = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -0,0 +1 @@\n+print('hello')\n"
    events = completed_with([one, one])
    (fp,) = [
        e["event_params"] for e in events if e["event_type"] == "codex_accepted_line_fingerprints"
    ]
    assert (
        fp["accepted_added_lines"],
        fp["accepted_deleted_lines"],
        len(fp["line_fingerprints"]),
    ) == (1, 0, 1)


def test_large_diff_is_chunked_with_counts_on_first_chunk_only() -> None:
    # §7.1 no. 21 with V-main fingerprints: 20,000 added lines → two chunks (18,549 + 1,451).
    lines = "".join(f"+value_{i} = compute({i})\n" for i in range(20_000))
    diff = (
        f"diff --git a/big.py b/big.py\n--- /dev/null\n+++ b/big.py\n@@ -0,0 +1,20000 @@\n{lines}"
    )
    events = completed_with([diff])
    chunks = [e for e in events if e["event_type"] == "codex_accepted_line_fingerprints"]
    assert [len(c["event_params"]["line_fingerprints"]) for c in chunks] == [18_549, 1_451]
    assert [c["event_params"]["accepted_added_lines"] for c in chunks] == [20_000, 0]
    for chunk in chunks:
        assert len(msgspec.json.encode(chunk)) <= 2 * 1024 * 1024


def test_no_event_without_counted_lines() -> None:
    assert [e["event_type"] for e in completed_with([])] == ["codex_turn_event"]
    outside = "+stray line outside any hunk\ndiff --git a/x b/x\n"
    assert [e["event_type"] for e in completed_with([outside])] == ["codex_turn_event"]


def test_fingerprint_chunks_are_isolated_envelopes() -> None:
    from agentlytics.pipeline import Pipeline

    pipeline = Pipeline()
    reducer = pipeline.reducer
    turn_prerequisites(reducer, config=False)
    run(reducer, resolved_config("thread-2", "turn-2"), TurnDiffUpdated("thread-2", "turn-2", DIFF))
    envelopes = pipeline.ingest([turn_completed("thread-2", "turn-2")])
    assert [(e.event_type, e.isolated) for e in envelopes] == [
        ("codex_turn_event", False),
        ("codex_accepted_line_fingerprints", True),
    ]


def test_repo_hash_is_looked_up_at_the_edge(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "remote",
            "add",
            "origin",
            "https://user:s3cret@github.com/OpenAI/Codex.git",
        ],
        check=True,
    )
    lookups: list[str] = []

    def lookup(cwd: str) -> str | None:
        lookups.append(cwd)
        from agentlytics.fingerprints.remote import repo_hash_for_cwd

        return repo_hash_for_cwd(cwd)

    observer = WireObserver(0, families=FAMILIES)
    observer.synth.repo_hash = lookup
    import json

    from agentlytics.facts import TurnResolvedConfig

    def line(direction: str, msg: dict[str, Any]) -> bytes:
        return json.dumps({"ts_ms": 1, "dir": direction, "msg": msg}).encode()

    thread = {"id": "th", "sessionId": "s", "ephemeral": False, "createdAt": 1, "turns": []}
    start = {
        "thread": thread,
        "model": "m",
        "modelProvider": "p",
        "approvalPolicy": "never",
        "approvalsReviewer": "user",
        "sandbox": {"type": "readOnly"},
        "cwd": str(repo),
    }
    observer.observe_line(
        line("client_to_server", {"method": "thread/start", "id": 1, "params": {}})
    )
    observer.observe_line(line("server_to_client", {"id": 1, "result": start}))
    turn = {"id": "t", "status": "inProgress", "items": []}
    facts = observer.observe_line(
        line(
            "server_to_client",
            {"method": "turn/started", "params": {"threadId": "th", "turn": turn}},
        )
    )
    (config,) = [f for f in facts if isinstance(f, TurnResolvedConfig)]
    assert config.repo_hash == fingerprint_hash("repo", "github.com/openai/codex")
    assert lookups == [str(repo)]
