"""The hash-only rule for the OTLP export: ``audit --otlp`` checks exactly what the sink sends,
and the sink withholds what the audit forbids."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from agentlytics.fingerprints.audit import KnownSecrets
from agentlytics.otel.audit import audit_exported, audit_otlp
from agentlytics.otel.mapping import export_event
from agentlytics.replay import replay
from agentlytics.sinks.otlp import OtlpSink
from tests.helpers import all_captures, capture_path, replay_events, run_cli
from tests.otlp_receiver import Receiver


@pytest.mark.parametrize("capture", all_captures(), ids=lambda p: p.stem)
def test_the_otlp_export_of_every_capture_passes_the_audit(capture: Path) -> None:
    known = KnownSecrets()
    known.add_capture(capture)
    events = replay_events(capture)
    assert audit_otlp(events, known) == []


def test_the_otlp_audit_sees_a_known_secret_in_an_exported_attribute() -> None:
    capture = capture_path("apply_patch_accept")
    known = KnownSecrets()
    known.add_capture(capture)
    events = replay_events(capture)
    leaked = dict(events[-1])
    leaked["event_params"] = {**leaked["event_params"], "model_slug": 'print("hello, world")'}
    findings = audit_otlp([*events, leaked], known)
    assert [(f.index, f.field, f.reason) for f in findings] == [
        (len(events), "gen_ai.request.model", "equals a raw diff line")
    ]


def test_the_otlp_audit_flags_fingerprint_data_in_an_export() -> None:
    # The sink's mapping never exports them ...
    event = {
        "event_type": "codex_accepted_line_fingerprints",
        "event_params": {
            "repo_hash": "c" * 40,
            "line_fingerprints": [{"line_hash": "a" * 40, "path_hash": "b" * 40}],
        },
    }
    exported = export_event(event)
    assert exported.attributes == {"line_fingerprint_count": 1}
    assert audit_otlp([event]) == []
    # ... and an export that carried them (a mapping bug) fails the audit.
    leaky = msgspec.structs.replace(
        exported,
        attributes={"line_fingerprints.0.line_hash": "a" * 40, "repo_hash": "c" * 40},
    )
    findings = audit_exported([(0, leaky)])
    assert [(f.field, f.reason) for f in findings] == [
        ("line_fingerprints.0.line_hash", "hash or fingerprint exported"),
        ("repo_hash", "hash or fingerprint exported"),
    ]


def _leaky_event() -> dict[str, Any]:
    event = next(
        e
        for e in replay_events(capture_path("shell_accept"))
        if "tool_name" in e.get("event_params", {})
    )
    params = dict(event["event_params"])
    params["cell_id"] = "/home/alice/src/secret-project/main.py"
    params["script_path"] = "https://alice:hunter2@git.example.com/repo.git"
    params["plugin_id"] = "fine"
    return {**event, "event_params": params}


def test_the_sink_withholds_what_the_audit_forbids_and_names_it() -> None:
    event = _leaky_event()
    exported = export_event(event)
    assert "cell_id" not in exported.attributes and "script_path" not in exported.attributes
    assert exported.attributes["plugin_id"] == "fine"
    assert exported.attributes["agentlytics.redacted_attributes"] == ["cell_id", "script_path"]
    # the rest of the event is unchanged
    assert exported.attributes["gen_ai.tool.name"] == event["event_params"]["tool_name"]
    assert audit_otlp([event]) == []


def test_withheld_attributes_never_reach_the_receiver(tmp_path: Path) -> None:
    from agentlytics.events.envelope import Envelope, event_id_for

    body = msgspec.json.encode(_leaky_event())
    envelope = Envelope(
        event_id_for(body), "codex_command_execution_event", body, None, None, False
    )
    with Receiver() as receiver:
        sink = OtlpSink(receiver.url)
        sink.write([envelope])
        sink.close()
    wire = json.dumps(receiver.records())
    assert "alice" not in wire and "hunter2" not in wire
    assert sink.redacted == 2


def test_audit_otlp_cli_passes_real_events_and_fails_a_leak(tmp_path: Path) -> None:
    capture = capture_path("apply_patch_accept")
    events = tmp_path / "events.jsonl"
    run_cli("replay", "--no-warehouse", "-q", "--events", str(events), str(capture))
    ok = run_cli("audit", "--otlp", str(events), "--capture", str(capture))
    assert ok.stdout.startswith("audit OK: 5 events")
    lines = events.read_text().splitlines()
    leaked = json.loads(lines[-1])
    leaked["event_params"]["model_slug"] = 'print("hello, world")'
    events.write_text("\n".join([*lines, json.dumps(leaked)]) + "\n")
    bad = run_cli("audit", "--otlp", str(events), "--capture", str(capture), check=False)
    assert bad.returncode == 1
    assert "gen_ai.request.model: equals a raw diff line" in bad.stdout


def test_replay_into_the_sink_then_audit_the_wire(tmp_path: Path) -> None:
    """The decoded records of every capture, audited as events: nothing forbidden arrived."""
    from agentlytics.fingerprints.audit import audit_events

    with Receiver() as receiver:
        sink = OtlpSink(receiver.url, metrics=False)
        replay(all_captures(), [sink])
        sink.close()
    known = KnownSecrets()
    for capture in all_captures():
        known.add_capture(capture)
    as_events = [
        {
            "event_type": r["event_name"],
            "event_params": {**r["attributes"], "resource": r["resource"]},
        }
        for r in receiver.records()
    ]
    assert len(as_events) == 94
    assert audit_events(as_events, known) == []


def test_metric_attributes_obey_the_same_checks(tmp_path: Path) -> None:
    """A tool, hook or model name the audit forbids is left out of the derived metrics' point
    attributes as it is withheld from the log record: the metrics are attributes too."""
    from agentlytics.events.envelope import Envelope, event_id_for
    from agentlytics.otel.metrics import measurements

    event = _leaky_event()
    leak = "/home/alice/src/secret-project/bin/tool"
    event["event_params"] = {**event["event_params"], "tool_name": leak}
    assert "gen_ai.tool.name" not in export_event(event).attributes
    for m in measurements(event["event_type"], event["event_params"]):
        assert "gen_ai.tool.name" not in m.attributes, m
        assert m.attributes["codex.tool.kind"] == "command_execution"
    body = msgspec.json.encode(event)
    envelope = Envelope(
        event_id_for(body), "codex_command_execution_event", body, None, None, False
    )
    with Receiver() as receiver:
        sink = OtlpSink(receiver.url)
        sink.write([envelope])
        sink.close()
    assert receiver.metrics  # the call was measured ...
    assert "alice" not in str(receiver.metrics) and "alice" not in json.dumps(receiver.records())
    assert audit_otlp([event]) == []  # ... and the audit of what the sink sends passes


def test_the_otlp_audit_checks_metric_attributes_too() -> None:
    """A known secret (one of the capture's diff lines) as a tool name is found in the log
    record and in the metric points it adds to."""
    capture = capture_path("apply_patch_accept")
    known = KnownSecrets()
    known.add_capture(capture)
    events = replay_events(capture)
    index, tool = next(
        (i, e) for i, e in enumerate(events) if e["event_type"] == "codex_file_change_event"
    )
    leaked = {
        **tool,
        "event_params": {**tool["event_params"], "tool_name": 'print("hello, world")'},
    }
    findings = audit_otlp([*events, leaked], known)
    assert index < len(events)
    assert sorted((f.index, f.field, f.reason) for f in findings) == [
        (len(events), "gen_ai.tool.name", "equals a raw diff line"),
        (len(events), "metric codex.tool.calls: gen_ai.tool.name", "equals a raw diff line"),
        (len(events), "metric codex.tool.duration: gen_ai.tool.name", "equals a raw diff line"),
    ]
