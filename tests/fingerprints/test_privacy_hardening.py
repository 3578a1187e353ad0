"""Privacy fixes of issue 20: remote URLs (defect 11), keyed hashes (defect 12), guardian
programs (defect 10)."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentlytics.client import AnalyticsClient
from agentlytics.facts import TrackingContext
from agentlytics.fingerprints import diff as fp
from agentlytics.fingerprints.audit import audit_events
from agentlytics.fingerprints.remote import public_remote_url, strip_url_credentials
from agentlytics.observe.skills import HostSkill, SkillInvocation, SkillRepoCache
from helpers import capture_path, replay_events

URLS = [
    # (remote as configured, what an event may carry)
    ("https://user:pa/ss@github.com/acme/widgets.git", "https://github.com/acme/widgets.git"),
    ("https://user:p@ss:w/rd@example.com:8443/o/r", "https://example.com:8443/o/r"),
    ("https://ghp_tokenvalue123@github.com/acme/x?token=abc#frag", "https://github.com/acme/x"),
    ("http://oauth2:glpat-abc@gitlab.example.com/g/p.git", "http://gitlab.example.com/g/p.git"),
    ("https://github.com/acme/widgets.git", "https://github.com/acme/widgets.git"),
    ("ssh://git@github.com:22/acme/widgets.git", "ssh://github.com:22/acme/widgets.git"),
    ("ssh://deploy:hunter2@[2001:db8::1]/srv/repo", "ssh://[2001:db8::1]/srv/repo"),
    ("git@github.com:acme/widgets.git", "github.com:acme/widgets.git"),
    ("alice@host.example:repos/x.git", "host.example:repos/x.git"),
    ("git://git.kernel.org/pub/scm/git/git.git", "git://git.kernel.org/pub/scm/git/git.git"),
    ("file:///home/alice/src/widgets", None),
    ("FILE://localhost/home/alice/widgets", None),
    ("/home/alice/src/widgets", None),
    ("../widgets", None),
    ("./widgets.git", None),
    ("widgets", None),
    ("~/src/widgets", None),
    ("C:\\Users\\alice\\widgets", None),
    ("C:/Users/alice/widgets", None),
    ("", None),
]


@pytest.mark.parametrize(("remote", "public"), URLS)
def test_every_remote_form_loses_its_credentials_and_local_ones_are_dropped(
    remote: str, public: str | None
) -> None:
    assert public_remote_url(remote) == public
    if public is not None:
        assert audit_events(_skill_event(public)) == []


def test_a_password_with_a_slash_is_stripped_before_hashing() -> None:
    """Defect 11: ``https://user:pa/ss@host/…`` kept its credentials."""
    assert (
        strip_url_credentials("https://user:pa/ss@host.example/o/r") == "https://host.example/o/r"
    )


def _skill_event(url: str | None) -> list[dict[str, Any]]:
    params = {"skill_id": "0" * 40, "repo_url": url}
    return [{"event_type": "skill_invocation", "event_params": params}]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        ("https://user:pa/ss@example.com/org/repo.git", "https://example.com/org/repo.git"),
        ("file:///srv/git/repo.git", None),
        ("/srv/git/repo.git", None),
    ],
)
def test_skill_events_carry_only_public_remote_urls(
    tmp_path: Path, origin: str, expected: str | None
) -> None:
    repo = tmp_path / "repo"
    skill = repo / ".codex" / "skills" / "doc"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text("# doc\n")
    _git(repo, "init", "-q")
    _git(repo, "remote", "add", "origin", origin)
    got: list[bytes] = []

    class Keep:
        def write(self, batch: Any) -> None:
            got.extend(e.body for e in batch)

        def close(self) -> None:
            pass

    client = AnalyticsClient(sinks=[Keep()], skill_repos=SkillRepoCache())
    tracking = TrackingContext(
        model_slug="gpt-5", thread_id="t", turn_id="u", product_client_id="codex_cli_rs"
    )
    client.track_skill_invocations(
        tracking, [SkillInvocation("doc", HostSkill(str(skill / "SKILL.md"), "repo"))]
    )
    client.close()
    (event,) = [json.loads(b) for b in got]
    assert event["event_params"]["repo_url"] == expected
    assert audit_events([event]) == []


# --- keyed hashes -------------------------------------------------------------------------------

KEY = "team-secret-0123456789abcdef"


@pytest.fixture
def keyed() -> Iterator[None]:
    fp.set_fingerprint_key(KEY)
    try:
        yield
    finally:
        fp.set_fingerprint_key(None)


DIFF = (
    "diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n@@ -1 +1,3 @@\n"
    "-old line here\n+import os\n+print('hello world')\n+    return value\n"
)


def test_default_hashes_stay_upstream_sha1() -> None:
    result = fp.fingerprint_unified_diff(DIFF)
    path = hashlib.sha1(b"file-line-v1\x00path\x00app.py").hexdigest()
    line = hashlib.sha1(b"file-line-v1\x00line\x00print('hello world')").hexdigest()
    assert (path, line) in result.fingerprints


def test_keyed_hashes_are_hmac_sha256_of_the_same_input(keyed: None) -> None:
    result = fp.fingerprint_unified_diff(DIFF)

    def mac(data: bytes) -> str:
        return hmac.new(KEY.encode(), data, hashlib.sha256).hexdigest()

    path = mac(b"file-line-v1\x00path\x00app.py")
    assert result.fingerprints == [
        (path, mac(b"file-line-v1\x00line\x00" + line))
        for line in (b"import os", b"print('hello world')", b"return value")
    ]
    assert (result.added, result.deleted) == (3, 1)
    # The same answers from the reference scanner and for attribution's single-line hash.
    assert fp.fingerprint_unified_diff_python(DIFF).fingerprints == result.fingerprints
    assert fp.line_hash("import os") == result.fingerprints[0][1]
    # The repo hash stays upstream's (it joins across installations).
    assert (
        fp.fingerprint_hash("repo", "github.com/acme/x")
        == hashlib.sha1(b"file-line-v1\x00repo\x00github.com/acme/x").hexdigest()
    )


def test_keyed_replay_passes_the_audit_and_differs_from_the_default(keyed: None) -> None:
    capture = capture_path("apply_patch_accept")
    keyed_events = replay_events(capture)
    fp.set_fingerprint_key(None)
    plain_events = replay_events(capture)
    assert len(keyed_events) == len(plain_events)

    def prints(events: list[dict[str, Any]]) -> list[dict[str, str]]:
        return [
            f
            for e in events
            if e["event_type"] == "codex_accepted_line_fingerprints"
            for f in e["event_params"]["line_fingerprints"]
        ]

    assert prints(keyed_events) and all(len(f["line_hash"]) == 64 for f in prints(keyed_events))
    assert {f["line_hash"] for f in prints(keyed_events)}.isdisjoint(
        f["line_hash"] for f in prints(plain_events)
    )
    assert audit_events(keyed_events) == []


def test_the_cli_reads_the_key_from_the_configuration(tmp_path: Path) -> None:
    from helpers import run_cli

    config = tmp_path / "agentlytics.toml"
    config.write_text(f'[fingerprints]\nkey = "{KEY}"\n')
    events = tmp_path / "events.jsonl"
    capture = capture_path("apply_patch_accept")
    run_cli("replay", "--config", str(config), "--no-warehouse", "-q", "--events", str(events),
            str(capture))  # fmt: skip
    got = [json.loads(line) for line in events.read_text().splitlines()]
    fp.set_fingerprint_key(KEY)
    try:
        assert got == replay_events(capture)
    finally:
        fp.set_fingerprint_key(None)


# --- guardian programs --------------------------------------------------------------------------


def test_no_guardian_review_carries_a_program_path() -> None:
    """Defect 10: ``reviewed_action.program`` copied an absolute script path."""
    from agentlytics.drops import Drops
    from agentlytics.observe.edge import WireObserver
    from agentlytics.pipeline import Pipeline

    lines = capture_path("auto_review_allow").read_text().splitlines()
    program = "/home/alice/secret-project/deploy.sh"
    planted = []
    for raw in lines:
        record = json.loads(raw)
        params = record["msg"].get("params")
        if isinstance(params, dict) and isinstance(params.get("action"), dict):
            params["action"] = {
                "type": "execve",
                "source": "shell",
                "program": program,
                "argv": [program, "--prod"],
                "cwd": "/home/alice",
            }
        planted.append(json.dumps(record).encode())
    pipeline = Pipeline()
    observer: WireObserver = pipeline.connection()
    assert isinstance(observer.drops, Drops)
    events = [e.to_dict() for raw in planted for e in pipeline.observe_line(observer, raw)]
    actions = [
        e["event_params"]["reviewed_action"]
        for e in events
        if "reviewed_action" in e["event_params"]
    ]
    assert actions and all(a == {"type": "execve", "source": "shell", "program": "",
                                 "additional_permissions": None} for a in actions)  # fmt: skip
    assert program not in json.dumps(events)
