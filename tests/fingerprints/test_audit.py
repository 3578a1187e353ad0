"""Privacy audit: clean fingerprint events pass; raw lines, paths, URLs, credentials fail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentlytics.fingerprints.audit import Finding, KnownSecrets, audit_events
from agentlytics.fingerprints.chunks import chunk_fingerprints
from agentlytics.fingerprints.diff import fingerprint_hash, fingerprint_unified_diff

ROOT = Path(__file__).resolve().parents[2]
CAPTURE = ROOT / "tests" / "data" / "captures" / "apply_patch_accept.jsonl"


def _last_diff() -> str:
    diff = ""
    for line in CAPTURE.read_text().splitlines():
        msg = json.loads(line)["msg"]
        if msg.get("method") == "turn/diff/updated":
            diff = msg["params"]["diff"]
    return diff


def clean_events() -> list[dict[str, Any]]:
    result = fingerprint_unified_diff(_last_diff())
    return [
        {
            "event_type": "codex_accepted_line_fingerprints",
            "event_params": {
                "event_type": "codex.accepted_line_fingerprints",
                "turn_id": "01a20716-3684-7d80-8f0f-1fa50e64137e",
                "thread_id": "01a20716-366b-7a33-a6a0-d557ded0052c",
                "product_surface": "codex",
                "model_slug": "gpt-5.5",
                "completed_at": 1795415230,
                "repo_hash": fingerprint_hash("repo", "github.com/openai/codex"),
                "accepted_added_lines": added,
                "accepted_deleted_lines": deleted,
                "line_fingerprints": [{"path_hash": p, "line_hash": h} for p, h in prints],
            },
        }
        for added, deleted, prints in chunk_fingerprints(
            result.added, result.deleted, result.fingerprints
        )
    ]


def capture_secrets() -> KnownSecrets:
    known = KnownSecrets()
    known.add_capture(CAPTURE)
    return known


def test_clean_events_pass_with_and_without_capture() -> None:
    events = clean_events()
    assert audit_events(events) == []
    known = capture_secrets()
    assert 'print("hello, world")' in known.values
    assert "notes.md" in known.values and "hello.py" in known.values
    assert "/home/dev/session/repo" in known.values
    assert audit_events(events, known) == []


def _with(field: str, value: Any) -> list[dict[str, Any]]:
    events = clean_events()
    events[0]["event_params"][field] = value
    return events


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("model_slug", 'print("hello, world")', "equals a raw diff line"),
        ("model_slug", 'x = print("hello, world") + 1', "contains a raw diff line"),
        ("model_slug", "Written by the agent.", "equals a raw diff line"),
        ("model_slug", "notes.md", "equals a path from a diff header"),
        ("model_slug", "/home/dev/session/repo", "equals a local cwd"),
    ],
)
def test_capture_content_is_found(field: str, value: str, reason: str) -> None:
    findings = audit_events(_with(field, value), capture_secrets())
    assert Finding(0, "codex_accepted_line_fingerprints", f"event_params.{field}", reason) in (
        findings
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("https://user:pw@github.com/acme/x.git", "URL with credentials (userinfo)"),
        ("https://user:pw@github.com/acme/x.git", "remote URL"),
        ("git@github.com:acme/widgets.git", "remote URL"),
        ("token ghp_0123456789abcdefghijABCDEFGHIJ", "GitHub token"),
        ("sk-proj-abcdefghijklmnop1234", "API secret key (sk-…)"),
        ("Authorization: Bearer abc.def.ghi123", "bearer token"),
        ("/Users/alice/src/app.py", "absolute path"),
        ("C:\\Users\\alice", "absolute path"),
        ("~/secrets.txt", "absolute path"),
        ("diff --git a/x b/x\n+secret", "diff text"),
        # Issue 20, defect 11: what the audit used to pass.
        ("https://user:pa/ss@github.com/acme/x.git", "URL with credentials (userinfo)"),
        ("file:///home/alice/src/widgets", "local file URL (file://)"),
        ("a/b/c.py", "relative path"),
        ("src/secret_plan.md", "relative path"),
        ("../../home/alice/notes.txt", "relative path"),
        ("./deploy.sh", "relative path"),
    ],
)
def test_generic_patterns_are_found(value: str, reason: str) -> None:
    findings = audit_events(_with("model_slug", value))
    assert reason in {f.reason for f in findings}, findings


@pytest.mark.parametrize(
    "value",
    ["gpt-5.5", "codex-tui", "0.169.0", "application/json", "2024/01/02", "openai/gpt-oss-120b"],
)
def test_ordinary_values_pass(value: str) -> None:
    assert audit_events(_with("model_slug", value)) == []


def test_raw_values_in_hash_fields_are_found() -> None:
    events = clean_events()
    events[0]["event_params"]["line_fingerprints"][1]["path_hash"] = "notes.md"
    events[0]["event_params"]["repo_hash"] = "github.com/openai/codex"
    findings = audit_events(events, capture_secrets())
    fields = {(f.field, f.reason) for f in findings}
    assert (
        "event_params.line_fingerprints[1].path_hash",
        "hash field is not a 40-hex SHA-1 (raw value?)",
    ) in fields
    assert ("event_params.line_fingerprints[1].path_hash", "equals a path from a diff header") in (
        fields
    )
    assert ("event_params.repo_hash", "hash field is not a 40-hex SHA-1 (raw value?)") in fields
    assert str(findings[0]).startswith("event #0 (codex_accepted_line_fingerprints) ")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run(
        [sys.executable, "-m", "agentlytics", "audit", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _write(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def test_cli_exit_codes(tmp_path: Path) -> None:
    clean = _write(tmp_path / "clean.jsonl", clean_events())
    ok = _cli(str(clean), "--capture", str(CAPTURE), cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("audit OK: 1 events")

    leaky = _write(tmp_path / "leaky.jsonl", _with("model_slug", "Written by the agent."))
    bad = _cli(str(leaky), "--capture", str(CAPTURE), cwd=tmp_path)
    assert bad.returncode == 1
    assert (
        "event #0 (codex_accepted_line_fingerprints) event_params.model_slug: "
        "equals a raw diff line" in bad.stdout
    )
    assert _cli(str(leaky), cwd=tmp_path).returncode == 0  # needs the capture to know the line

    secret = _cli(str(clean), "--secret", "gpt-5.5", cwd=tmp_path)
    assert secret.returncode == 1 and "equals a given secret" in secret.stdout

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"event_type": "x", "event_params": {}}\nnot json\n')
    unreadable = _cli(str(broken), cwd=tmp_path)
    assert unreadable.returncode == 1 and "line 2" in unreadable.stdout

    assert _cli(str(tmp_path / "missing.jsonl"), cwd=tmp_path).returncode == 2


@pytest.mark.parametrize("field", ["thread_id", "turn_id"])
@pytest.mark.parametrize("value", ["src/app", "..\\notes", "work/acme/widgets"])
def test_a_path_planted_in_a_fingerprint_id_is_found(field: str, value: str) -> None:
    reasons = {f.reason for f in audit_events(_with(field, value))}
    assert reasons & {"relative path", "path separator in an id"}, reasons


def test_credentials_and_local_urls_are_found_even_where_urls_are_allowed() -> None:
    def skill(url: str) -> list[dict[str, Any]]:
        params = {"skill_id": "0" * 40, "repo_url": url}
        return [{"event_type": "skill_invocation", "event_params": params}]

    assert audit_events(skill("https://github.com/acme/widgets")) == []
    for url, reason in [
        ("https://user:pa/ss@github.com/acme/widgets", "URL with credentials (userinfo)"),
        ("file:///home/alice/widgets", "local file URL (file://)"),
        ("/home/alice/widgets", "absolute path"),
        ("../widgets", "relative path"),
    ]:
        assert reason in {f.reason for f in audit_events(skill(url))}, url
