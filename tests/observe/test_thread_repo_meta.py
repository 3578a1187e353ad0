"""Repo identity at record time: ``dir: meta`` lines, replay on any machine, thread_projects.

Real git repositories in temporary directories, the real tap relaying a real child process,
the real CLI and real DuckDB files.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from agentlytics.families import FAMILIES
from agentlytics.fingerprints.remote import repo_hash_for_cwd
from agentlytics.observe.meta import capture_thread_cwd, meta_record, repo_identity
from agentlytics.observe.recorder import CaptureRecorder
from agentlytics.protocol.wire import ThreadRepo
from tests.helpers import ROOT, capture_path, cli_env, run_cli

THREAD = "01a20716-4941-70e2-8c8b-7449fdfa1e64"
#: The subagent thread of examples/subagent.jsonl (spawned by the thread of its metadata line).
SUBAGENT_CHILD = "01a20716-a378-7e41-b9da-595c62e0fd81"
EXAMPLE_REMOTE_HASH = hashlib.sha1(
    b"file-line-v1\x00repo\x00github.com/example/session"
).hexdigest()


def git_repo(path: Path, remote: str | None, branch: str = "main") -> Path:
    path.mkdir(parents=True)
    for args in (
        ["init", "-q", "-b", branch],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x"],
    ):
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True)
    if remote is not None:
        subprocess.run(["git", "remote", "add", "origin", remote], cwd=path, check=True)
    return path


def thread_start_result(cwd: str, thread: str = THREAD) -> bytes:
    return json.dumps(
        {
            "id": 1,
            "result": {
                "thread": {"id": thread, "sessionId": thread, "createdAt": 1, "ephemeral": False},
                "model": "gpt-5.5",
                "modelProvider": "mock",
                "cwd": cwd,
            },
        }
    ).encode()


def test_repo_identity_of_a_clone_a_bare_repo_and_a_plain_directory(tmp_path: Path) -> None:
    clone = git_repo(tmp_path / "clone", "git@github.com:Example/Session.git", "feature/x")
    assert repo_identity(str(clone)).__struct_fields__ == ("repo_hash", "repo_name", "branch")
    identity = repo_identity(str(clone))
    # SCP-style remote, canonicalised (github lowercased): the fingerprint path's exact hash.
    assert identity.repo_hash == EXAMPLE_REMOTE_HASH == repo_hash_for_cwd(str(clone))
    assert (identity.repo_name, identity.branch) == ("example/session", "feature/x")
    local = git_repo(tmp_path / "local-only", None)
    assert tuple(msgspec_tuple(repo_identity(str(local)))) == (None, "local-only", "main")
    plain = tmp_path / "plain"
    plain.mkdir()
    assert tuple(msgspec_tuple(repo_identity(str(plain)))) == (None, None, None)


def msgspec_tuple(identity: object) -> list[object]:
    return [getattr(identity, f) for f in identity.__struct_fields__]  # type: ignore[attr-defined]


def test_recorder_writes_one_meta_line_per_thread_after_the_line_that_named_its_cwd(
    tmp_path: Path,
) -> None:
    repo = git_repo(tmp_path / "repo", "https://github.com/example/session.git")
    rec = CaptureRecorder(tmp_path / "c.jsonl")
    rec.observe("client_to_server", b'{"method": "thread/start", "id": 1, "params": {}}', 5)
    rec.observe("server_to_client", thread_start_result(str(repo)), 6)
    started = {"method": "thread/started", "params": {"thread": {"id": THREAD, "cwd": str(repo)}}}
    rec.observe("server_to_client", json.dumps(started).encode(), 7)  # same thread: no 2nd line
    rec.close()
    lines = (tmp_path / "c.jsonl").read_bytes().splitlines()
    assert [json.loads(x)["dir"] for x in lines] == [
        "client_to_server",
        "server_to_client",
        "meta",
        "server_to_client",
    ]
    assert lines[2] == (
        b'{"seq": 2, "ts_ms": 6, "dir": "meta", "meta": {"kind":"thread_repo",'
        b'"thread_id":"' + THREAD.encode() + b'","repo_hash":"' + EXAMPLE_REMOTE_HASH.encode()
        + b'","repo_name":"example/session","branch":"main"}}'
    )  # fmt: skip
    assert [json.loads(x)["seq"] for x in lines] == [0, 1, 2, 3]


@pytest.mark.slow
def test_meta_lines_are_consumed_not_dropped_and_fill_thread_projects(tmp_path: Path) -> None:
    proc = run_cli(
        "replay", "--strict", "--warehouse", str(tmp_path / "w.duckdb"),
        *[str(p) for p in sorted((ROOT / "examples").glob("*.jsonl"))],
    )  # fmt: skip
    assert "Repo hashes: 12 thread(s) from the capture's metadata." in proc.stdout
    assert "No input dropped." in proc.stdout  # and --strict exited 0
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    rows = con.execute(
        "SELECT thread_id, repo_hash, repo_name, branch FROM thread_projects ORDER BY thread_id"
    ).fetchall()
    con.close()
    metas = [
        json.loads(line)["meta"]
        for p in sorted((ROOT / "examples").glob("*.jsonl"))
        for line in p.read_bytes().splitlines()
        if json.loads(line)["dir"] == "meta"
    ]
    # Every thread a metadata line names, and the one subagent (it takes its parent's line).
    assert len(metas) == 11 and len(rows) == 12
    assert {r[0] for r in rows} == {m["thread_id"] for m in metas} | {SUBAGENT_CHILD}
    assert {r[1:] for r in rows} == {(EXAMPLE_REMOTE_HASH, "example/session", "main")}


def fingerprint_repo_hashes(capture: Path, cwd: Path) -> tuple[list[str | None], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "agentlytics", "replay", "--events", "-", "--no-warehouse", str(capture)],
        cwd=cwd, env=cli_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    events = [json.loads(x) for x in proc.stdout.splitlines()]
    hashes = [
        e["event_params"]["repo_hash"]
        for e in events
        if e["event_type"] == "codex_accepted_line_fingerprints"
    ]
    return hashes, proc.stderr


def with_cwd(capture: Path, out: Path, cwd: str, meta: bool) -> Path:
    """The apply_patch capture as if recorded in ``cwd`` (with or without its metadata line)."""
    text = capture.read_text().replace("/home/dev/session/repo", cwd)
    lines = [x for x in text.splitlines(keepends=True) if meta or '"dir": "meta"' not in x]
    out.write_text("".join(lines))
    return out


@pytest.mark.slow
def test_replay_uses_the_recorded_repo_hash_and_falls_back_to_local_git(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", "https://github.com/someone/else.git")
    local_hash = repo_hash_for_cwd(str(repo))
    assert local_hash is not None and local_hash != EXAMPLE_REMOTE_HASH
    example = ROOT / "examples" / "apply_patch_accept.jsonl"
    recorded = with_cwd(example, tmp_path / "recorded.jsonl", str(repo), meta=True)
    bare = with_cwd(example, tmp_path / "bare.jsonl", str(repo), meta=False)
    # The recording machine's hash wins over the remote this machine has for that cwd …
    hashes, report = fingerprint_repo_hashes(recorded, tmp_path)
    assert hashes == [EXAMPLE_REMOTE_HASH] and "from the capture's metadata" in report
    # … and without metadata the replay asks this machine's git, and says so.
    hashes, report = fingerprint_repo_hashes(bare, tmp_path)
    assert hashes == [local_hash]
    assert "1 thread(s) from this machine's git remote (no metadata recorded)" in report


@pytest.mark.slow
def test_replay_on_another_machine_is_byte_identical(tmp_path: Path) -> None:
    """ "Another machine": the recorded cwd is a different repo here, or no repo at all."""
    capture = ROOT / "examples" / "apply_patch_accept.jsonl"
    here = subprocess.run(
        [sys.executable, "-m", "agentlytics", "replay", "--events", "-", "--no-warehouse", "-q", str(capture)],
        cwd=tmp_path, env=cli_env(), capture_output=True, check=True,
    ).stdout  # fmt: skip
    repo = git_repo(tmp_path / "other", "https://example.org/x/y.git")
    moved = with_cwd(capture, tmp_path / "moved.jsonl", str(repo), meta=True)
    # Same capture, its cwd now an existing repo with another remote: the cwd only reaches
    # the events through the repo hash, so the events must be the very same bytes.
    there = subprocess.run(
        [sys.executable, "-m", "agentlytics", "replay", "--events", "-", "--no-warehouse", "-q", str(moved)],
        cwd=repo, env=cli_env(), capture_output=True, check=True,
    ).stdout  # fmt: skip
    assert here == there and EXAMPLE_REMOTE_HASH.encode() in here


def test_an_unknown_meta_kind_is_skipped_and_a_malformed_one_counted() -> None:
    from agentlytics.observe.edge import WireObserver

    obs = WireObserver(0, families=FAMILIES)
    newer = b'{"seq": 0, "ts_ms": 1, "dir": "meta", "meta": {"kind": "from_the_future", "x": 1}}'
    broken = b'{"seq": 1, "ts_ms": 1, "dir": "meta", "meta": {"kind": "thread_repo"}}'
    assert obs.observe_line(newer) == [] and obs.drops.total == 0
    assert obs.observe_line(broken) == [] and obs.drops.counts == {"malformed metadata line": 1}
    meta = ThreadRepo("thread_repo", "t", None, "n", None)
    assert obs.observe_line(meta_record(2, 1, meta)) == [] and obs.drops.total == 1
    assert obs.synth.recorded_repos["t"] == meta
    assert obs.messages == 0  # metadata is not traffic


def test_capture_thread_cwd_reads_thread_responses_and_started_notifications() -> None:
    line = capture_path("two_threads").read_bytes().splitlines()[6]  # seq 6: thread/start result
    assert capture_thread_cwd(line) == (THREAD, "/home/dev/session/repo")
    assert (
        capture_thread_cwd(b'{"seq": 0, "ts_ms": 1, "dir": "server_to_client", "msg": {}}') is None
    )


# A child that answers ``thread/start`` with a thread working in $REPO, then waits for EOF.
CHILD = r"""
import json, os, sys
for line in sys.stdin.buffer:
    req = json.loads(line)
    if req.get("method") == "thread/start":
        out = {"id": req["id"], "result": {"thread": {"id": "th-tap", "sessionId": "th-tap",
               "createdAt": 1, "ephemeral": False}, "model": "m", "modelProvider": "mock",
               "cwd": os.environ["REPO"]}}
        sys.stdout.buffer.write(json.dumps(out).encode() + b"\n")
        sys.stdout.buffer.flush()
"""


def test_tap_records_meta_and_fills_thread_projects(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", "ssh://git@github.com/example/session")
    record, warehouse = tmp_path / "session.jsonl", tmp_path / "w.duckdb"
    proc = subprocess.run(
        [sys.executable, "-m", "agentlytics", "tap", "--record", str(record), "--warehouse",
         str(warehouse), "--", sys.executable, "-c", CHILD],
        input=b'{"method": "thread/start", "id": 1, "params": {}}\n',
        env={**cli_env(), "REPO": str(repo)}, capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    assert json.loads(proc.stdout)["result"]["thread"]["id"] == "th-tap"  # relayed untouched
    records = [json.loads(x) for x in record.read_bytes().splitlines()]
    assert [r["dir"] for r in records] == ["client_to_server", "server_to_client", "meta"]
    assert records[2]["meta"] == {
        "kind": "thread_repo",
        "thread_id": "th-tap",
        "repo_hash": EXAMPLE_REMOTE_HASH,
        "repo_name": "example/session",
        "branch": "main",
    }
    con = duckdb.connect(str(warehouse), read_only=True)
    assert con.execute("SELECT * FROM thread_projects").fetchall() == [
        ("th-tap", EXAMPLE_REMOTE_HASH, "example/session", "main")
    ]
    con.close()


def test_a_subagent_thread_takes_its_parents_recorded_repo(tmp_path: Path) -> None:
    """A subagent names no cwd on the wire: it works in its parent's (spec decision 4), so the
    repo the capture recorded for the parent is its repo too — not this machine's lookup of a
    directory that only the recording machine had (decision 11: a replay anywhere agrees)."""
    capture = ROOT / "examples" / "subagent.jsonl"
    metas = [json.loads(x)["meta"] for x in capture.read_bytes().splitlines() if b'"meta"' in x]
    events = [
        json.loads(x)
        for x in run_cli(
            "replay", "--events", "-", "--warehouse", str(tmp_path / "w.duckdb"), str(capture)
        ).stdout.splitlines()
    ]
    child = next(
        e["event_params"]
        for e in events
        if e["event_type"] == "codex_thread_initialized" and e["event_params"]["parent_thread_id"]
    )
    assert [m["thread_id"] for m in metas] == [child["parent_thread_id"]]  # only the parent's
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    rows = dict(con.execute("SELECT thread_id, repo_name FROM thread_projects").fetchall())
    con.close()
    assert rows == {
        child["parent_thread_id"]: "example/session",
        child["thread_id"]: "example/session",
    }
    summary = run_cli("replay", "--no-warehouse", str(capture)).stdout
    assert "Repo hashes: 2 thread(s) from the capture's metadata." in summary
