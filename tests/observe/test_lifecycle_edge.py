"""Edge synthesis of hooks, goals, compaction and steer rejections from wire messages."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from agentlytics.facts import CompactionFact, ErrorResponse, GoalFact, HookRunFact
from agentlytics.families import FAMILIES
from agentlytics.observe.decode import classify_steer_error
from agentlytics.observe.edge import WireObserver
from agentlytics.observe.goals import goal_id_for, goal_status
from agentlytics.observe.hook_runs import classify_hook_source, hook_name
from agentlytics.pipeline import Pipeline
from agentlytics.protocol.wire import JsonRpcError

C2S, S2C = "client_to_server", "server_to_client"
T = "thread-1"
INIT_RESULT = {
    "userAgent": "codex_cli_rs/0.169.0 (Debian 12.0.0; x86_64)",
    "platformOs": "linux",
    "codexHome": "/home/u/.codex",
}


def line(direction: str, msg: dict[str, Any], ts: int = 1_000) -> bytes:
    return json.dumps({"seq": 0, "ts_ms": ts, "dir": direction, "msg": msg}).encode()


def feed(observer: WireObserver, *lines: bytes) -> list[Any]:
    facts: list[Any] = []
    for raw in lines:
        facts += observer.observe_line(raw)
    return facts


def started_thread(observer: WireObserver, provider: str = "openai") -> None:
    feed(
        observer,
        line(
            C2S,
            {
                "method": "initialize",
                "id": 0,
                "params": {"clientInfo": {"name": "tui", "version": "1"}},
            },
        ),
        line(S2C, {"id": 0, "result": INIT_RESULT}),
        line(C2S, {"method": "thread/start", "id": 1, "params": {}}),
        line(
            S2C,
            {
                "id": 1,
                "result": {
                    "thread": {"id": T, "sessionId": T, "createdAt": 1, "ephemeral": False},
                    "model": "gpt-5.5",
                    "modelProvider": provider,
                },
            },
        ),
    )


def goal(
    status: str = "active", tokens: int = 0, seconds: int = 0, created: int = 100, **kw: Any
) -> dict[str, Any]:
    return {
        "threadId": T,
        "objective": kw.get("objective", "ship it"),
        "status": status,
        "tokenBudget": kw.get("budget"),
        "tokensUsed": tokens,
        "timeUsedSeconds": seconds,
        "createdAt": created,
        "updatedAt": created,
    }


def goal_updated(turn: str | None, g: dict[str, Any]) -> bytes:
    return line(
        S2C, {"method": "thread/goal/updated", "params": {"threadId": T, "turnId": turn, "goal": g}}
    )


def kinds(facts: list[Any]) -> list[tuple[str, str | None, str]]:
    return [(f.event_kind, f.turn_id, f.goal_status) for f in facts if isinstance(f, GoalFact)]


def test_goal_rules_created_usage_status_cleared() -> None:
    obs = WireObserver(0, families=FAMILIES)
    started_thread(obs)
    facts = feed(
        obs,
        goal_updated(None, goal()),
        goal_updated("turn-1", goal()),  # nothing changed: no fact
        goal_updated("turn-1", goal(tokens=10)),
        goal_updated("turn-1", goal(tokens=10, seconds=3)),
        goal_updated(None, goal("paused", tokens=10, seconds=3)),
        goal_updated("turn-2", goal("usageLimited", tokens=20, seconds=3)),
        line(S2C, {"method": "thread/goal/cleared", "params": {"threadId": T}}),
    )
    assert kinds(facts) == [
        ("created", None, "active"),
        ("usage_accounted", "turn-1", "active"),
        ("usage_accounted", "turn-1", "active"),
        ("status_changed", None, "paused"),
        ("usage_accounted", "turn-2", "paused"),
        ("status_changed", "turn-2", "usage_limited"),
        ("cleared", None, "usage_limited"),
    ]
    goals = [f for f in facts if isinstance(f, GoalFact)]
    assert {f.goal_id for f in goals} == {goal_id_for(T, 100)}
    usage = [f for f in goals if f.event_kind == "usage_accounted"]
    assert [
        (f.cumulative_tokens_accounted, f.cumulative_time_accounted_seconds) for f in usage
    ] == [
        (10, 0),
        (10, 3),
        (20, 3),
    ]
    assert all(f.cumulative_tokens_accounted is None for f in goals if f not in usage)
    assert not any(f.has_token_budget for f in goals)


def test_a_new_goal_gets_a_new_id_even_in_the_same_second() -> None:
    obs = WireObserver(0, families=FAMILIES)
    started_thread(obs)
    cleared = line(S2C, {"method": "thread/goal/cleared", "params": {"threadId": T}})
    facts = feed(
        obs,
        goal_updated(None, goal(budget=500)),
        cleared,
        goal_updated(None, goal()),  # same createdAt after a clear: a new goal
        goal_updated(None, goal(objective="another", created=100)),  # replaced objective
        goal_updated(None, goal(objective="another", created=101)),  # replaced goal
    )
    created = [f for f in facts if isinstance(f, GoalFact) and f.event_kind == "created"]
    assert len(created) == 4
    assert len({f.goal_id for f in created}) == 4
    assert created[0].has_token_budget and not created[1].has_token_budget
    clear = [f for f in facts if isinstance(f, GoalFact) and f.event_kind == "cleared"]
    assert clear[0].goal_id == created[0].goal_id


def test_goal_set_result_is_the_persisted_state_and_get_only_seeds() -> None:
    obs = WireObserver(0, families=FAMILIES)
    started_thread(obs)
    facts = feed(
        obs,
        line(C2S, {"method": "thread/goal/get", "id": 5, "params": {"threadId": T}}),
        line(S2C, {"id": 5, "result": {"goal": goal(tokens=7)}}),  # existed before: no event
        goal_updated("turn-9", goal(tokens=9)),
        line(
            C2S, {"method": "thread/goal/set", "id": 6, "params": {"threadId": T, "objective": "x"}}
        ),
        line(S2C, {"id": 6, "result": {"goal": goal(objective="x", created=200)}}),
        goal_updated(None, goal(objective="x", created=200)),  # repeats the set result
    )
    assert kinds(facts) == [("usage_accounted", "turn-9", "active"), ("created", None, "active")]


def test_clear_of_an_unknown_goal_is_a_counted_drop() -> None:
    obs = WireObserver(0, families=FAMILIES)
    assert feed(obs, line(S2C, {"method": "thread/goal/cleared", "params": {"threadId": T}})) == []
    assert obs.drops.counts["goal cleared that was never observed"] == 1


def test_goal_status_and_hook_name_spelling() -> None:
    assert [goal_status(s) for s in ("usageLimited", "budgetLimited", "complete", "newThing")] == [
        "usage_limited",
        "budget_limited",
        "complete",
        "new_thing",
    ]
    names = [
        "preToolUse",
        "permissionRequest",
        "postToolUse",
        "preCompact",
        "postCompact",
        "sessionStart",
        "sessionEnd",
        "userPromptSubmit",
        "subagentStart",
        "subagentStop",
        "stop",
        "interrupt",
    ]
    assert [hook_name(n) for n in names] == [
        "PreToolUse",
        "PermissionRequest",
        "PostToolUse",
        "PreCompact",
        "PostCompact",
        "SessionStart",
        "SessionEnd",
        "UserPromptSubmit",
        "SubagentStart",
        "SubagentStop",
        "Stop",
        "Interrupt",
    ]


def test_hook_source_from_wire_source_then_path() -> None:
    home = "/home/u/.codex"
    assert classify_hook_source("cloudRequirements", "/x", home) == "cloud_requirements"
    assert classify_hook_source("legacyManagedConfigMdm", None, home) == "legacy_managed_config_mdm"
    assert classify_hook_source("somethingNew", None, home) == "unknown"
    assert classify_hook_source(None, "/home/u/.codex/config.toml", home) == "user"
    assert classify_hook_source("unknown", "/home/u/.codex/plugins/p/hooks.json", home) == "plugin"
    assert classify_hook_source(None, "/etc/codex/requirements.toml", home) == "system"
    assert classify_hook_source(None, "/src/app/.codex/config.toml", home) == "project"
    assert classify_hook_source(None, "/opt/hooks.json", None) == "unknown"


def hook_completed(status: str, source: str | None = "user", turn: str | None = "turn-1") -> bytes:
    run: dict[str, Any] = {
        "id": "x",
        "eventName": "preToolUse",
        "handlerType": "command",
        "executionMode": "sync",
        "scope": "turn",
        "sourcePath": "/home/u/.codex/config.toml",
        "displayOrder": 0,
        "status": status,
        "startedAt": 1,
        "entries": [],
    }
    if source is not None:
        run["source"] = source
    return line(
        S2C, {"method": "hook/completed", "params": {"threadId": T, "turnId": turn, "run": run}}
    )


def test_hook_completed_facts_carry_the_thread_model_and_client() -> None:
    obs = WireObserver(0, families=FAMILIES)
    started_thread(obs)
    facts = feed(
        obs,
        hook_completed("running"),
        hook_completed("blocked", source=None, turn=None),
        hook_completed("weird"),
    )
    hooks = [f for f in facts if isinstance(f, HookRunFact)]
    assert [(h.hook_name, h.hook_source, h.status, h.tracking.turn_id) for h in hooks] == [
        ("PreToolUse", "user", "failed", "turn-1"),
        ("PreToolUse", "user", "blocked", None),
    ]
    assert hooks[0].tracking.model_slug == "gpt-5.5"
    assert hooks[0].tracking.product_client_id == "tui"
    assert obs.drops.counts["hook run with an unknown status"] == 1


def turn(kind: str, turn_id: str, status: str = "completed", **kw: Any) -> bytes:
    body = {
        "id": turn_id,
        "status": status,
        "startedAt": 10,
        "completedAt": 20,
        "durationMs": 900,
        **kw,
    }
    return line(S2C, {"method": f"turn/{kind}", "params": {"threadId": T, "turn": body}})


def compaction_item(kind: str, turn_id: str, item: str = "c-1", at: int = 10_000) -> bytes:
    body: dict[str, Any] = {"type": "contextCompaction", "id": item, "startedAtMs": 10_000}
    params: dict[str, Any] = {"threadId": T, "turnId": turn_id, "item": body}
    if kind == "started":
        params["startedAtMs"] = at
    else:
        body["completedAtMs"] = at
        params["completedAtMs"] = at
    return line(S2C, {"method": f"item/{kind}", "params": params})


def token_update(turn_id: str, last_total: int | None = None) -> bytes:
    total = {
        "totalTokens": 10,
        "inputTokens": 8,
        "cachedInputTokens": 0,
        "cacheWriteInputTokens": 0,
        "outputTokens": 2,
        "reasoningOutputTokens": 0,
    }
    last = total if last_total is None else {**total, "totalTokens": last_total}
    return line(
        S2C,
        {
            "method": "thread/tokenUsage/updated",
            "params": {
                "threadId": T,
                "turnId": turn_id,
                "tokenUsage": {"total": total, "last": last},
            },
        },
    )


def compactions(facts: list[Any]) -> list[CompactionFact]:
    return [f for f in facts if isinstance(f, CompactionFact)]


def test_auto_compaction_phase_is_pre_turn_before_any_model_response_then_mid_turn() -> None:
    obs = WireObserver(0, families=FAMILIES)
    started_thread(obs)
    facts = feed(
        obs,
        turn("started", "turn-a", "inProgress"),
        compaction_item("started", "turn-a", "c-1", 10_000),
        compaction_item("completed", "turn-a", "c-1", 10_250),
        token_update("turn-a"),
        compaction_item("started", "turn-a", "c-2", 11_000),
        compaction_item("completed", "turn-a", "c-2", 11_100),
        turn("completed", "turn-a"),
    )
    pre, mid = compactions(facts)
    assert (pre.trigger, pre.phase, pre.status, pre.reason) == (
        "auto",
        "pre_turn",
        "completed",
        "context_limit",
    )
    assert (pre.started_at, pre.completed_at, pre.duration_ms) == (10, 10, 250)
    assert (mid.phase, mid.duration_ms) == ("mid_turn", 100)
    # provider "openai": upstream compacts remotely; no usage before the first compaction → 0
    assert (pre.implementation, pre.strategy) == ("responses_compact", "memento")
    assert (pre.active_context_tokens_before, pre.active_context_tokens_after) == (0, 0)
    assert (mid.active_context_tokens_before, mid.active_context_tokens_after) == (10, 10)


@pytest.mark.parametrize(
    ("provider", "implementation"),
    [
        ("openai", "responses_compact"),
        ("azure", "responses_compact"),
        ("Azure", "responses_compact"),
        ("mock", "responses"),
        ("ollama", "responses"),
    ],
)
def test_compaction_implementation_follows_upstreams_remote_compaction_providers(
    provider: str, implementation: str
) -> None:
    """``supports_remote_compaction`` is ``is_openai() || is_azure_responses_provider(name,
    base_url)``; of that the wire has the provider id, so OpenAI and Azure (any case) compact
    remotely (``responses_compact``) and every other provider locally (``responses``)."""
    obs = WireObserver(0, families=FAMILIES)
    started_thread(obs, provider)
    facts = feed(
        obs,
        turn("started", "turn-a", "inProgress"),
        compaction_item("started", "turn-a", "c-1", 10_000),
        compaction_item("completed", "turn-a", "c-1", 10_250),
    )
    assert [f.implementation for f in compactions(facts)] == [implementation]


def test_compaction_context_tokens_are_the_last_usage_before_and_after() -> None:
    """Before = ``tokenUsage.last.totalTokens`` when the item starts; after = the last one
    reported by its completion (Codex recomputes the usage of the compacted history)."""
    obs = WireObserver(0, families=FAMILIES)
    started_thread(obs)
    facts = feed(
        obs,
        turn("started", "turn-a", "inProgress"),
        token_update("turn-a", last_total=120_000),
        compaction_item("started", "turn-a", "c-1", 10_000),
        token_update("turn-a", last_total=130_000),  # the compaction request's own usage
        token_update("turn-a", last_total=18_000),  # recomputed after the history is replaced
        compaction_item("completed", "turn-a", "c-1", 10_250),
        turn("completed", "turn-a"),
    )
    (fact,) = compactions(facts)
    assert (fact.active_context_tokens_before, fact.active_context_tokens_after) == (
        120_000,
        18_000,
    )
    assert (fact.trigger, fact.phase, fact.reason) == ("auto", "mid_turn", "context_limit")


def test_manual_compaction_failing_in_its_turn() -> None:
    obs = WireObserver(0, families=FAMILIES)
    started_thread(obs)
    error = {"message": "boom", "codexErrorInfo": {"httpConnectionFailed": {"httpStatusCode": 502}}}
    facts = feed(
        obs,
        line(C2S, {"method": "thread/compact/start", "id": 7, "params": {"threadId": T}}),
        line(S2C, {"id": 7, "result": {}}),
        turn("started", "turn-c", "inProgress"),
        compaction_item("started", "turn-c", "c-9", 15_000),
        turn("completed", "turn-c", "failed", error=error),
    )
    (fact,) = compactions(facts)
    assert (fact.trigger, fact.phase, fact.status, fact.reason) == (
        "manual",
        "standalone_turn",
        "failed",
        "user_requested",
    )
    assert (fact.codex_error_kind, fact.codex_error_http_status_code) == (
        "http_connection_failed",
        502,
    )
    assert (fact.started_at, fact.completed_at, fact.duration_ms) == (15, 20, None)
    # The compaction fact precedes the turn's completion.
    assert [type(f).__name__ for f in facts][-2:] == ["CompactionFact", "TurnCompleted"]


def test_manual_compact_turn_interrupted_before_its_item() -> None:
    obs = WireObserver(0, families=FAMILIES)
    started_thread(obs)
    facts = feed(
        obs,
        line(C2S, {"method": "thread/compact/start", "id": 7, "params": {"threadId": T}}),
        line(S2C, {"id": 7, "result": {}}),
        turn("started", "turn-c", "inProgress"),
        turn("completed", "turn-c", "interrupted"),
        turn("started", "turn-next", "inProgress"),  # the request is consumed: a normal turn
        compaction_item("started", "turn-next"),
        compaction_item("completed", "turn-next", at=10_010),
    )
    first, second = compactions(facts)
    assert (first.status, first.phase, first.started_at, first.completed_at, first.duration_ms) == (
        "interrupted",
        "standalone_turn",
        10,
        20,
        900,
    )
    assert (second.trigger, second.phase) == ("auto", "pre_turn")


def test_failed_compact_start_request_does_not_mark_the_next_turn() -> None:
    obs = WireObserver(0, families=FAMILIES)
    started_thread(obs)
    facts = feed(
        obs,
        line(C2S, {"method": "thread/compact/start", "id": 7, "params": {"threadId": T}}),
        line(S2C, {"id": 7, "error": {"code": -32600, "message": "busy"}}),
        turn("started", "turn-x", "inProgress"),
        compaction_item("started", "turn-x"),
        compaction_item("completed", "turn-x", at=10_001),
    )
    assert [f.trigger for f in compactions(facts)] == ["auto"]


def steer_error(error: dict[str, Any]) -> list[Any]:
    obs = WireObserver(0, families=FAMILIES)
    started_thread(obs)
    steer = {"threadId": T, "expectedTurnId": "turn-1", "input": [{"type": "text", "text": "x"}]}
    facts = feed(
        obs,
        line(C2S, {"method": "turn/steer", "id": 9, "params": steer}),
        line(S2C, {"id": 9, "error": error}),
    )
    return [f.error_type for f in facts if isinstance(f, ErrorResponse)]


def test_steer_errors_classified_from_their_wire_shapes() -> None:
    # §7.1 nos. 59–61 from the JSON-RPC errors Codex sends.
    not_steerable = {
        "message": "cannot steer a compact turn",
        "codexErrorInfo": {"activeTurnNotSteerable": {"turnKind": "compact"}},
        "additionalDetails": None,
    }
    assert steer_error({"code": -32600, "message": "no active turn to steer"}) == ["no_active_turn"]
    assert steer_error({"code": -32600, "message": "x", "data": not_steerable}) == [
        "non_steerable_compact"
    ]
    assert steer_error(
        {
            "code": -32602,
            "message": "Input exceeds the limit",
            "data": {"input_error_code": "input_too_large"},
        }
    ) == ["input_too_large"]
    assert steer_error(
        {"code": -32600, "message": "expected active turn id `turn-1` but found `turn-2`"}
    ) == ["expected_turn_mismatch"]
    assert steer_error({"code": -32600, "message": "input must not be empty"}) == ["empty_input"]
    assert steer_error({"code": -32603, "message": "internal error"}) == [None]
    review = msgspec.Raw(b'{"codexErrorInfo": {"activeTurnNotSteerable": {"turnKind": "review"}}}')
    assert classify_steer_error(JsonRpcError(message="x", data=review)) == "non_steerable_review"
    unknown_kind = msgspec.Raw(b'{"codexErrorInfo": {"activeTurnNotSteerable": {"turnKind": "x"}}}')
    assert classify_steer_error(JsonRpcError(message="no active turn", data=unknown_kind)) is None


def test_rejected_steer_event_end_to_end_and_steer_count() -> None:
    # §7.1 nos. 53, 58–60 through the pipeline: rejected steers do not count on the turn.
    pipeline = Pipeline()
    obs = pipeline.connection()
    out: list[Any] = []

    def push(*raw: bytes) -> None:
        for r in raw:
            out.extend(e.to_dict() for e in pipeline.observe_line(obs, r))

    for raw in [
        line(
            C2S,
            {
                "method": "initialize",
                "id": 0,
                "params": {"clientInfo": {"name": "tui", "version": "1"}},
            },
        ),
        line(S2C, {"id": 0, "result": INIT_RESULT}),
        line(C2S, {"method": "thread/start", "id": 1, "params": {}}),
        line(
            S2C,
            {
                "id": 1,
                "result": {
                    "thread": {"id": T, "sessionId": T, "createdAt": 1},
                    "model": "m",
                    "modelProvider": "p",
                },
            },
        ),
        line(C2S, {"method": "turn/start", "id": 2, "params": {"threadId": T, "input": []}}),
        line(S2C, {"id": 2, "result": {"turn": {"id": "turn-1", "status": "inProgress"}}}),
        turn("started", "turn-1", "inProgress"),
    ]:
        push(raw)
    steer = {
        "threadId": T,
        "expectedTurnId": "turn-1",
        "input": [{"type": "localImage", "path": "/a.png"}],
    }
    push(
        line(C2S, {"method": "turn/steer", "id": 3, "params": steer}, ts=1_795_000_001_500),
        line(S2C, {"id": 3, "result": {"turnId": "turn-1"}}),
        line(C2S, {"method": "turn/steer", "id": 4, "params": steer}, ts=1_795_000_002_000),
        line(
            S2C,
            {
                "id": 4,
                "error": {
                    "code": -32600,
                    "message": "x",
                    "data": {
                        "message": "review",
                        "codexErrorInfo": {"activeTurnNotSteerable": {"turnKind": "review"}},
                    },
                },
            },
        ),
        turn("completed", "turn-1"),
    )
    steers = [e["event_params"] for e in out if e["event_type"] == "codex_turn_steer_event"]
    assert [
        (s["result"], s["accepted_turn_id"], s["rejection_reason"], s["created_at"]) for s in steers
    ] == [
        ("accepted", "turn-1", None, 1_795_000_001),
        ("rejected", None, "non_steerable_review", 1_795_000_002),
    ]
    assert all(s["num_input_images"] == 1 and s["expected_turn_id"] == "turn-1" for s in steers)
    (turn_event,) = [e["event_params"] for e in out if e["event_type"] == "codex_turn_event"]
    assert turn_event["steer_count"] == 1
