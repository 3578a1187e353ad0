"""The real Codex app-server (0.171.0, installed from npm) driven through ``agentlytics tap``.

One test also runs 0.169.0, the release the first captures were recorded with.

Each test runs a scripted session (fake model on 127.0.0.1, isolated CODEX_HOME, one-commit git
repo) through ``python -m agentlytics tap --record cap.jsonl -- codex app-server`` and checks
that the capture holds exactly the traffic the client exchanged, in the order the protocol
demands. Every wait is bounded; each session takes about a second or two.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.helpers import replay_events_bytes

from agentlytics.fingerprints.audit import KnownSecrets, audit_events
from support.codex import CODEX_VERSION, PREVIOUS_CODEX_VERSION, CodexUnavailable, codex_bin
from support.scenarios import SCENARIOS, ScenarioRun, run_scenario

pytestmark = pytest.mark.codex

Msg = dict[str, Any]
C2S, S2C = "client_to_server", "server_to_client"


def live_events_path(capture: Path) -> Path:
    """Where the tap writes the events it emits live for a scenario (``--events PATH``)."""
    return capture.with_suffix(".events.jsonl")


def _codex(version: str) -> str:
    try:
        return codex_bin(version)
    except CodexUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def codex() -> str:
    return _codex(CODEX_VERSION)


@pytest.fixture
def run(codex: str, tmp_path: Path) -> Iterator[Callable[..., ScenarioRun]]:
    runs: list[ScenarioRun] = []

    def go(name: str, binary: str | None = None) -> ScenarioRun:
        capture = tmp_path / f"{name}.jsonl"
        tap_args = ("--events", str(live_events_path(capture)))
        result = run_scenario(binary or codex, SCENARIOS[name], capture, tap_args=tap_args)
        runs.append(result)
        return result

    yield go
    for r in runs:
        r.cleanup()


_RECORD_HEAD = re.compile(rb'^\{"seq": (\d+), "ts_ms": (\d+), "dir": "(\w+)", "msg": ')


@dataclass
class Record:
    seq: int
    dir: str
    msg: Msg
    wire: bytes  # the bytes of msg as embedded in the capture


def read_meta(capture: Path) -> list[dict[str, Any]]:
    """The capture's ``dir: meta`` records, whole."""
    records = [json.loads(x) for x in capture.read_bytes().splitlines()]
    return [r for r in records if r["dir"] == "meta"]


def read_records(capture: Path) -> list[Record]:
    """The capture's message records (metadata lines are checked by :func:`read_meta`)."""
    out = []
    for line in capture.read_bytes().splitlines():
        if b'"dir": "meta"' in line[:60]:
            continue
        head = _RECORD_HEAD.match(line)
        assert head, f"not a msg record: {line[:200]!r}"
        assert line.endswith(b"}")
        rec = json.loads(line)
        out.append(Record(rec["seq"], rec["dir"], rec["msg"], line[head.end() : -1]))
    return out


def assert_capture_is_the_traffic(r: ScenarioRun) -> list[Record]:
    """The tap recorded, byte for byte, every line the client sent and received, in order."""
    recs = read_records(r.capture)
    metas = read_meta(r.capture)
    assert sorted([x.seq for x in recs] + [m["seq"] for m in metas]) == list(
        range(len(recs) + len(metas))
    )
    assert [x.wire for x in recs if x.dir == C2S] == r.client.sent
    assert [x.wire for x in recs if x.dir == S2C] == r.client.received
    # One thread, in the workspace's one-commit repo (no remote): its repo, recorded once,
    # right after the thread/start result that named its cwd.
    started = next(x for x in recs if x.dir == S2C and "thread" in x.msg.get("result", {}))
    assert [m["meta"] for m in metas] == [
        {
            "kind": "thread_repo",
            "thread_id": started.msg["result"]["thread"]["id"],
            "repo_hash": None,
            "repo_name": r.ws.repo.name,
            "branch": "main",  # make_repo: git init -b main
        }
    ]
    assert metas[0]["seq"] == started.seq + 1
    return recs


@dataclass
class Want:
    dir: str
    desc: str
    pred: Callable[[Msg], bool]


def request(method: str) -> Want:
    return Want(C2S, method, lambda m: m.get("method") == method and "id" in m)


def client_note(method: str) -> Want:
    return Want(C2S, method, lambda m: m.get("method") == method and "id" not in m)


def server(method: str, where: Callable[[Msg], bool] = lambda p: True, desc: str = "") -> Want:
    return Want(
        S2C,
        f"{method} {desc}".strip(),
        lambda m: m.get("method") == method and where(m.get("params") or {}),
    )


def result(dir: str, where: Callable[[Any], bool], desc: str) -> Want:
    return Want(dir, desc, lambda m: "method" not in m and "result" in m and where(m["result"]))


def item(kind: str, status: str | None = None) -> Callable[[Msg], bool]:
    return lambda p: p["item"]["type"] == kind and (status is None or p["item"]["status"] == status)


def turn_status(status: str) -> Callable[[Msg], bool]:
    return lambda p: p["turn"]["status"] == status


def assert_in_order(recs: list[Record], wants: list[Want]) -> list[Record]:
    """Each wanted message appears, after the previous one; returns the matches."""
    found, i = [], 0
    for want in wants:
        while i < len(recs) and not (recs[i].dir == want.dir and want.pred(recs[i].msg)):
            i += 1
        if i == len(recs):
            seen = [(x.seq, x.dir[0], x.msg.get("method") or f"#{x.msg.get('id')}") for x in recs]
            after = [w.desc for w in wants[: len(found)]]
            pytest.fail(f"missing {want.dir} {want.desc!r} after {after}\ncapture: {seen}")
        found.append(recs[i])
        i += 1
    return found


def opening(version: str = CODEX_VERSION) -> list[Want]:
    """Handshake, thread and turn start, as every scenario opens."""
    return [
        request("initialize"),
        result(
            S2C,
            lambda r: r["userAgent"].startswith(f"agentlytics-tests/{version}"),
            "initialize result",
        ),
        client_note("initialized"),
        request("thread/start"),
        result(S2C, lambda r: "thread" in r, "thread/start result"),
        request("turn/start"),
        result(S2C, lambda r: r["turn"]["status"] == "inProgress", "turn/start result"),
        server("turn/started"),
    ]


def assert_clean_run(r: ScenarioRun) -> None:
    assert r.exit_code == 0, "the tap should exit with codex's status 0 after stdin closes"
    assert r.model_misses == [], "codex asked the model something the script did not cover"
    assert r.unused_replies == []
    assert r.client.handler_errors == []


def assert_approval_answered(recs: list[Record], method: str, decision: str) -> None:
    """The client's answer carries the id of the server's approval request, then it resolves."""
    asks = [x for x in recs if x.dir == S2C and x.msg.get("method") == method]
    assert len(asks) == 1
    rid = asks[0].msg["id"]
    answers = [x for x in recs if x.dir == C2S and x.msg.get("id") == rid and "result" in x.msg]
    assert [a.msg["result"] for a in answers] == [{"decision": decision}]
    resolved = [x for x in recs if x.msg.get("method") == "serverRequest/resolved"]
    assert [x.msg["params"]["requestId"] for x in resolved] == [rid]
    assert asks[0].seq < answers[0].seq < resolved[0].seq


def assert_live_equals_replay(capture: Path) -> list[dict[str, Any]]:
    """The events the tap emitted live equal, byte for byte, those of replaying its recording."""
    live = live_events_path(capture).read_bytes().splitlines()
    assert live, "the tap emitted no events live"
    replayed = replay_events_bytes(capture)
    assert replayed == live
    events = [json.loads(e) for e in live]
    assert {"codex_thread_initialized", "codex_turn_event"} <= {e["event_type"] for e in events}
    known = KnownSecrets()
    known.add_capture(capture)
    assert audit_events(events, known) == []  # nothing of the session's code or paths leaks
    return events


@pytest.mark.parametrize("version", [CODEX_VERSION, PREVIOUS_CODEX_VERSION])
def test_command_approval_accepted(run: Callable[..., ScenarioRun], version: str) -> None:
    r = run("shell_accept", _codex(version))
    assert_clean_run(r)
    recs = assert_capture_is_the_traffic(r)
    assert_in_order(
        recs,
        [
            *opening(version),
            server("item/started", item("commandExecution", "inProgress")),
            Want(
                S2C,
                "requestApproval",
                lambda m: m.get("method") == "item/commandExecution/requestApproval" and "id" in m,
            ),
            result(C2S, lambda res: res == {"decision": "accept"}, "accept"),
            server("serverRequest/resolved"),
            server("item/completed", item("commandExecution", "completed"), "commandExecution"),
            server("item/completed", item("agentMessage"), "agentMessage"),
            server("turn/completed", turn_status("completed"), "completed"),
        ],
    )
    assert_approval_answered(recs, "item/commandExecution/requestApproval", "accept")
    done = [
        x.msg["params"]["item"]
        for x in recs
        if x.msg.get("method") == "item/completed"
        and x.msg["params"]["item"]["type"] == "commandExecution"
    ]
    assert done[0]["exitCode"] == 0 and "tapped" in done[0]["aggregatedOutput"]
    assert (r.ws.repo / "note.txt").read_text() == "tapped\n"
    assert_live_equals_replay(r.capture)


def test_command_approval_declined(run: Callable[..., ScenarioRun]) -> None:
    r = run("shell_decline")
    assert_clean_run(r)
    recs = assert_capture_is_the_traffic(r)
    assert_in_order(
        recs,
        [
            *opening(),
            server("item/commandExecution/requestApproval"),
            result(C2S, lambda res: res == {"decision": "decline"}, "decline"),
            server("serverRequest/resolved"),
            server("item/completed", item("commandExecution", "declined"), "declined"),
            server("item/completed", item("agentMessage"), "agentMessage"),
            server("turn/completed", turn_status("completed"), "completed"),
        ],
    )
    assert_approval_answered(recs, "item/commandExecution/requestApproval", "decline")
    assert not (r.ws.repo / "note.txt").exists()
    # The model was told the command was not run (its second request carries the output).
    assert len(r.model_requests) == 2
    assert_live_equals_replay(r.capture)


def test_file_change_accepted(run: Callable[..., ScenarioRun]) -> None:
    r = run("apply_patch_accept")
    assert_clean_run(r)
    recs = assert_capture_is_the_traffic(r)
    found = assert_in_order(
        recs,
        [
            *opening(),
            server("item/started", item("fileChange", "inProgress"), "fileChange"),
            server("item/fileChange/requestApproval"),
            result(C2S, lambda res: res == {"decision": "accept"}, "accept"),
            server("serverRequest/resolved"),
            server("item/completed", item("fileChange", "completed"), "fileChange"),
            server("turn/diff/updated", lambda p: "notes.md" in p["diff"], "with notes.md"),
            server("turn/completed", turn_status("completed"), "completed"),
        ],
    )
    assert_approval_answered(recs, "item/fileChange/requestApproval", "accept")
    changes = found[-3].msg["params"]["item"]["changes"]
    assert sorted(c["path"].rsplit("/", 1)[-1] for c in changes) == ["hello.py", "notes.md"]
    assert (r.ws.repo / "hello.py").read_text() == 'print("hello, world")\n'
    assert (r.ws.repo / "notes.md").read_text() == "# Notes\nWritten through the tap.\n"
    assert_live_equals_replay(r.capture)


def test_turn_interrupted(run: Callable[..., ScenarioRun]) -> None:
    r = run("interrupt")
    assert_clean_run(r)
    recs = assert_capture_is_the_traffic(r)
    found = assert_in_order(
        recs,
        [
            *opening(),
            server("item/completed", item("agentMessage"), "agentMessage"),
            request("turn/interrupt"),
            result(S2C, lambda res: res == {}, "interrupt result"),
            server("turn/completed", turn_status("interrupted"), "interrupted"),
        ],
    )
    interrupt = found[-3].msg
    assert interrupt["params"]["turnId"] == found[-1].msg["params"]["turn"]["id"]
    assert not any(
        x.msg.get("method") == "turn/completed"
        and x.msg["params"]["turn"]["status"] != "interrupted"
        for x in recs
    )
    assert_live_equals_replay(r.capture)


def test_thread_archived_and_unarchived(run: Callable[..., ScenarioRun]) -> None:
    r = run("thread_archive")
    assert_clean_run(r)
    recs = assert_capture_is_the_traffic(r)
    assert_in_order(
        recs,
        [
            *opening(),
            server("turn/completed", turn_status("completed"), "completed"),
            request("thread/archive"),
            result(S2C, lambda res: res == {}, "archive result"),
            server("thread/archived"),
            request("thread/unarchive"),
            result(S2C, lambda res: "thread" in res, "unarchive result"),
            server("thread/unarchived"),
        ],
    )
    events = assert_live_equals_replay(r.capture)
    archive = [e["event_params"] for e in events if e["event_type"] == "codex_thread_archive_event"]
    assert [a["action"] for a in archive] == ["archived", "unarchived"]
