"""The OTLP sink against a real OTLP/HTTP receiver on 127.0.0.1 (protobuf bodies decoded with
opentelemetry-proto): one log record per event of the real captures, with the event's name,
time and attributes; metrics equal to numbers computed here from the events on their own, and
to the warehouse reports; no hash or fingerprint ever leaves."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from agentlytics.replay import replay
from agentlytics.sinks.duckdb import DuckDBSink
from agentlytics.sinks.otlp import OtlpSink, signal_url
from tests.helpers import ROOT, all_captures, replay_events
from tests.otlp_receiver import Receiver, totals

#: The documented GenAI renames (docs/otlp.md), written out again here on purpose.
RENAMED = {
    "thread_id": "gen_ai.conversation.id",
    "model": "gen_ai.request.model",
    "model_slug": "gen_ai.request.model",
    "model_provider": "gen_ai.provider.name",
    "input_tokens": "gen_ai.usage.input_tokens",
    "output_tokens": "gen_ai.usage.output_tokens",
    "cached_input_tokens": "gen_ai.usage.cache_read.input_tokens",
    "cache_write_input_tokens": "gen_ai.usage.cache_creation.input_tokens",
    "reasoning_output_tokens": "gen_ai.usage.reasoning.output_tokens",
}
TOOLS = {
    "codex_command_execution_event": "command_execution",
    "codex_file_change_event": "file_change",
    "codex_mcp_tool_call_event": "mcp_tool_call",
    "codex_dynamic_tool_call_event": "dynamic_tool_call",
    "codex_collab_agent_tool_call_event": "collab_agent_tool_call",
    "codex_web_search_event": "web_search",
    "codex_image_generation_event": "image_generation",
}
TOOL_RENAMED = {"tool_name": "gen_ai.tool.name", "item_id": "gen_ai.tool.call.id"}
FAMILY_RENAMED = {
    **{t: TOOL_RENAMED for t in TOOLS},
    "codex_collab_agent_tool_call_event": {
        **TOOL_RENAMED,
        "requested_model": "gen_ai.request.model",
    },
    "codex_guardian_review": {
        "guardian_model": "gen_ai.request.model",
        "guardian_model_provider_id": "gen_ai.provider.name",
    },
}


def _event_id(body: dict[str, Any]) -> str:
    import hashlib

    import msgspec

    return hashlib.sha256(msgspec.json.encode(body)).hexdigest()


def _expected_time_ns(params: dict[str, Any]) -> int:
    for name in ("completed_at_ms", "occurred_at_ms"):
        if params.get(name):
            return int(params[name]) * 1_000_000
    for name in ("completed_at", "created_at"):
        if params.get(name):
            return int(params[name]) * 1_000_000_000
    if params.get("started_at_ms"):
        return int(params["started_at_ms"]) * 1_000_000
    if params.get("started_at"):
        return int(params["started_at"]) * 1_000_000_000
    return 0


@pytest.fixture(scope="module")
def exported(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[list[dict[str, Any]], Receiver, OtlpSink, Any]:
    """Every capture replayed into an OTLP sink and a DuckDB warehouse, side by side; the
    warehouse's reports (the replay summary and the query layer's) for comparison."""
    import msgspec

    from agentlytics.query import Filters, daily, open_store, tools
    from agentlytics.query.store import DuckDBStore
    from agentlytics.query.summary import replay_summary

    path = tmp_path_factory.mktemp("otlp") / "warehouse.duckdb"
    receiver = Receiver().start()
    sink = OtlpSink(receiver.url)
    store = DuckDBSink(path)
    try:
        replay(all_captures(), [sink, store])
        sink.close()
        # The replay summary's tables, as replay prints them (rows as tuples of their fields).
        summary = replay_summary(DuckDBStore.on_connection(store.warehouse.con, str(path)))
        sections: dict[str, Any] = {
            s.title: [msgspec.structs.astuple(r) for r in s.rows] for s in summary.sections
        }
    finally:
        store.close()
        receiver.stop()
    query = open_store(str(path))
    try:
        sections["query.daily"] = daily(query, Filters(), by_model=True)
        sections["query.tools"] = tools(query, Filters())
    finally:
        query.close()
    events = [e for c in all_captures() for e in replay_events(c)]
    return events, receiver, sink, sections


def test_one_log_record_per_event_with_its_name_time_and_attributes(
    exported: tuple[list[dict[str, Any]], Receiver, OtlpSink, Any],
) -> None:
    events, receiver, sink, _ = exported
    records = receiver.records()
    assert len(events) == 94
    assert len(records) == len(events) == sink.records
    by_id = {r["attributes"]["agentlytics.event_id"]: r for r in records}
    assert len(by_id) == len(records)  # each event exactly once
    families = Counter()
    for event in events:
        event_type, params = event["event_type"], event["event_params"]
        record = by_id[_event_id(event)]
        families[event_type] += 1
        assert record["event_name"] == event_type
        assert record["body"] == event_type
        assert record["severity_number"] == 9  # INFO
        assert record["time_unix_nano"] == _expected_time_ns(params)
        assert record["observed_time_unix_nano"] > 0
        assert record["scope"] == "agentlytics"
        attrs = record["attributes"]
        renames = {**RENAMED, **FAMILY_RENAMED.get(event_type, {})}
        for key, value in params.items():
            if key in ("app_server_client", "runtime", "repo_hash", "line_fingerprints"):
                assert key not in attrs
                continue
            name = renames.get(key, key)
            if value is None:
                assert name not in attrs or name != key
            elif isinstance(value, dict):
                for sub, leaf in value.items():
                    if leaf is not None and not isinstance(leaf, dict | list):
                        assert attrs[f"{name}.{sub}"] == leaf, (event_type, key, sub)
            elif isinstance(value, list):
                if all(isinstance(v, str) for v in value):
                    assert attrs[name] == value
            else:
                assert attrs[name] == value, (event_type, key)
        client = params.get("app_server_client")
        resource = record["resource"]
        assert resource["service.name"] == "agentlytics"
        if client is not None:
            assert resource["codex.client.product_client_id"] == client["product_client_id"]
            assert resource["codex.client.name"] == client["client_name"]
            assert resource["codex.client.rpc_transport"] == client["rpc_transport"]
            runtime = params["runtime"]
            assert resource["codex.runtime.version"] == runtime["codex_rs_version"]
            assert resource["os.version"] == runtime["runtime_os_version"]
            assert resource["codex.runtime.arch"] == runtime["runtime_arch"]
            assert resource["os.type"] == {"linux": "linux", "macos": "darwin"}.get(
                runtime["runtime_os"], resource.get("os.type")
            )
        else:
            assert not any(k.startswith("codex.client.") for k in resource)
        if event_type == "codex_accepted_line_fingerprints":
            assert attrs["line_fingerprint_count"] == len(params["line_fingerprints"])
        if event_type == "skill_invocation":
            assert attrs["skill_id"] == event["skill_id"]
    # every family of the captures came through, the fingerprint chunks included
    assert families["codex_accepted_line_fingerprints"] == 2
    assert families["codex_turn_event"] == 26


def test_no_hash_or_fingerprint_leaves_and_nothing_was_withheld(
    exported: tuple[list[dict[str, Any]], Receiver, OtlpSink, Any],
) -> None:
    events, receiver, sink, _ = exported
    hashes = set()
    for event in events:
        for fp in event["event_params"].get("line_fingerprints") or []:
            hashes |= {fp["line_hash"], fp["path_hash"]}
        if event["event_params"].get("repo_hash"):
            hashes.add(event["event_params"]["repo_hash"])
    assert hashes  # the captures do carry fingerprints
    wire = json.dumps(receiver.records())
    assert not any(h in wire for h in hashes)
    assert "line_hash" not in wire and "path_hash" not in wire and "repo_hash" not in wire
    # the real captures hold nothing the audit forbids, so nothing had to be withheld
    assert sink.redacted == 0
    assert all("agentlytics.redacted_attributes" not in r["attributes"] for r in receiver.records())


def _prices() -> dict[str, dict[str, float]]:
    """The bundled price table, read from its file (USD per 1M tokens)."""
    import tomllib

    text = (ROOT / "src" / "agentlytics" / "query" / "prices.toml").read_text()
    models: dict[str, dict[str, float]] = tomllib.loads(text)["models"]
    return models


def _expected_metrics(events: list[dict[str, Any]]) -> dict[tuple[str, frozenset[Any]], Any]:
    """The derived metrics, recomputed from the events (docs/otlp.md)."""
    prices = _prices()
    counters: dict[tuple[str, frozenset[Any]], float] = Counter()
    histograms: dict[tuple[str, frozenset[Any]], list[float]] = defaultdict(list)

    def key(name: str, **attrs: Any) -> tuple[str, frozenset[Any]]:
        return name, frozenset((k.replace("__", "."), v) for k, v in attrs.items() if v is not None)

    for event in events:
        t, p = event["event_type"], event["event_params"]
        if t in TOOLS:
            attrs = {
                "codex__tool__kind": TOOLS[t],
                "gen_ai__tool__name": p["tool_name"],
                "codex__tool__outcome": p["terminal_status"],
            }
            counters[key("codex.tool.calls", **attrs)] += 1
            if p["duration_ms"] is not None:
                histograms[key("codex.tool.duration", **attrs)].append(p["duration_ms"] / 1000)
        elif t == "codex_review_event":
            attrs = {
                "codex__review__subject": p["subject_kind"],
                "codex__review__reviewer": p["reviewer"],
                "codex__review__outcome": p["status"],
            }
            counters[key("codex.reviews", **attrs)] += 1
            if p["duration_ms"] is not None:
                histograms[key("codex.review.duration", **attrs)].append(p["duration_ms"] / 1000)
        elif t == "codex_turn_event":
            status = p["status"]
            counters[
                key("codex.turns", codex__turn__status=status, gen_ai__request__model=p["model"])
            ] += 1
            if p["duration_ms"] is not None:
                histograms[key("codex.turn.duration", codex__turn__status=status)].append(
                    p["duration_ms"] / 1000
                )
            inp, cached = p["input_tokens"] or 0, p["cached_input_tokens"] or 0
            out, reasoning = p["output_tokens"] or 0, p["reasoning_output_tokens"] or 0
            price = prices.get(p["model"])
            if inp + out and price is None:
                counters[key("codex.turns.unpriced", gen_ai__request__model=p["model"])] += 1
            elif inp + out:
                usd = (
                    (inp - cached) * price["input"]
                    + cached * price["cached_input"]
                    + (out - reasoning) * price["output"]
                    + reasoning * price["reasoning"]
                ) / 1e6
                counters[key("codex.cost.usd", gen_ai__request__model=p["model"])] += usd
        if t in ("codex_turn_event", "codex_guardian_review"):
            model = p["model"] if t == "codex_turn_event" else p["guardian_model"]
            source = "turn" if t == "codex_turn_event" else "guardian_review"
            for field, kind in (
                ("input_tokens", "input"),
                ("cached_input_tokens", "cached_input"),
                ("cache_write_input_tokens", "cache_write_input"),
                ("output_tokens", "output"),
                ("reasoning_output_tokens", "reasoning_output"),
            ):
                if p[field]:
                    counters[
                        key(
                            "codex.tokens",
                            gen_ai__request__model=model,
                            gen_ai__token__type=kind,
                            codex__token__source=source,
                        )
                    ] += p[field]
        elif t == "codex_goal_event":
            counters[
                key(
                    "codex.goal.events",
                    codex__goal__event_kind=p["event_kind"],
                    codex__goal__status=p["goal_status"],
                )
            ] += 1
        elif t == "codex_hook_run":
            counters[
                key(
                    "codex.hook.runs",
                    codex__hook__name=p["hook_name"],
                    codex__hook__source=p["hook_source"],
                    codex__hook__status=p["status"],
                )
            ] += 1
        elif t == "codex_compaction_event":
            counters[
                key(
                    "codex.compactions",
                    codex__compaction__trigger=p["trigger"],
                    codex__compaction__phase=p["phase"],
                    codex__compaction__status=p["status"],
                )
            ] += 1
    out: dict[tuple[str, frozenset[Any]], Any] = dict(counters)
    for k, values in histograms.items():
        out[k] = (len(values), sum(values))
    return out


def test_metrics_equal_the_numbers_of_the_events(
    exported: tuple[list[dict[str, Any]], Receiver, OtlpSink, Any],
) -> None:
    events, receiver, _, _ = exported
    expected = _expected_metrics(events)
    got = totals(receiver)
    assert set(got) == set(expected)
    for k, value in expected.items():
        if isinstance(value, tuple):
            assert got[k][0] == value[0], k
            assert got[k][1] == pytest.approx(value[1], rel=1e-12), k
        elif k[0] == "codex.cost.usd":
            assert got[k] == pytest.approx(value, rel=1e-12), k
        else:
            assert got[k] == value, k
    assert any(name == "codex.cost.usd" for name, _ in got)  # the captures' model is priced
    # spot checks a reader can verify by eye in tests/golden
    tool_calls = sum(v for (n, _), v in got.items() if n == "codex.tool.calls")
    assert tool_calls == sum(1 for e in events if e["event_type"] in TOOLS) == 18
    turns = sum(v for (n, _), v in got.items() if n == "codex.turns")
    assert turns == 26
    hooks = sum(v for (n, _), v in got.items() if n == "codex.hook.runs")
    assert hooks == 6
    # cumulative, monotonic counters, one point per series per export
    for point in receiver.last_metrics().values():
        assert point["temporality"] == 2  # AGGREGATION_TEMPORALITY_CUMULATIVE
        if point["kind"] == "sum":
            assert point["monotonic"]


def test_metrics_equal_the_warehouse_reports(
    exported: tuple[list[dict[str, Any]], Receiver, OtlpSink, Any],
) -> None:
    _, receiver, _, sections = exported
    got = totals(receiver)

    def total(name: str, **match: Any) -> float:
        want = {(k.replace("__", "."), v) for k, v in match.items()}
        return sum(
            v[0] if isinstance(v, tuple) else v
            for (n, attrs), v in got.items()
            if n == name and want <= attrs
        )

    tools = sections["Tool calls by kind"]
    assert tools
    for kind, tool, calls, failed, *_ in tools:
        assert total("codex.tool.calls", codex__tool__kind=kind, gen_ai__tool__name=tool) == calls
        done = total(
            "codex.tool.calls",
            codex__tool__kind=kind,
            gen_ai__tool__name=tool,
            codex__tool__outcome="completed",
        )
        assert calls - done == failed
    reviews = sections["Reviews by subject and reviewer"]
    assert reviews
    for subject, reviewer, count, approved, *_ in reviews:
        attrs = {"codex__review__subject": subject, "codex__review__reviewer": reviewer}
        assert total("codex.reviews", **attrs) == count
        assert total("codex.reviews", codex__review__outcome="approved", **attrs) == approved
    turns = sections["Turns by status"]
    for status, count, *_ in turns:
        assert total("codex.turns", codex__turn__status=status) == count
    # the query layer's reports (agentlytics report tools / daily --breakdown model)
    for row in sections["query.tools"]:
        calls = total(
            "codex.tool.calls", codex__tool__kind=row.kind, gen_ai__tool__name=row.tool_name
        )
        assert calls == row.calls
    by_model: dict[str, list[Any]] = defaultdict(list)
    for row in sections["query.daily"]:
        by_model[row.model].append(row)
    assert by_model
    for model, rows in by_model.items():
        m = {"gen_ai__request__model": model, "codex__token__source": "turn"}
        assert total("codex.turns", gen_ai__request__model=model) == sum(r.turns for r in rows)
        for field, kind in (
            ("input_tokens", "input"),
            ("cached_input_tokens", "cached_input"),
            ("output_tokens", "output"),
            ("reasoning_output_tokens", "reasoning_output"),
        ):
            got_tokens = total("codex.tokens", gen_ai__token__type=kind, **m)
            assert got_tokens == sum(getattr(r, field) for r in rows), (model, kind)
        costs = [r.cost_usd for r in rows]
        if None in costs:
            assert total("codex.turns.unpriced", gen_ai__request__model=model) > 0
        else:
            cost = total("codex.cost.usd", gen_ai__request__model=model)
            assert cost == pytest.approx(sum(costs), rel=1e-9) and cost > 0


def test_signal_urls_follow_the_otlp_http_convention() -> None:
    assert signal_url("http://127.0.0.1:4318", "logs") == "http://127.0.0.1:4318/v1/logs"
    assert signal_url("http://h:4318/", "metrics") == "http://h:4318/v1/metrics"
    assert signal_url("https://h/otlp/v1/logs", "metrics") == "https://h/otlp/v1/metrics"


def test_headers_and_compression_reach_the_receiver(tmp_path: Path) -> None:
    with Receiver() as receiver:
        sink = OtlpSink(
            receiver.url, headers={"x-api-key": "k-123"}, compression="none", metrics=False
        )
        replay(all_captures()[:1], [sink])
        sink.close()
    assert receiver.headers and all(h["x-api-key"] == "k-123" for h in receiver.headers)
    assert all("Content-Encoding" not in h for h in receiver.headers)
    assert all(h["Content-Type"] == "application/x-protobuf" for h in receiver.headers)
    assert [path for path, _ in receiver.statuses] == ["/v1/logs"]  # metrics off
