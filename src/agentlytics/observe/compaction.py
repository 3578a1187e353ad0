"""Compaction at the edge: a ``contextCompaction`` item → one :class:`CompactionFact`.

The item runs in a turn of its own after a ``thread/compact/start`` (manual) or inside a
regular turn (automatic); a compaction its turn ended before it completed failed (or was
interrupted with the turn).
"""

from __future__ import annotations

import msgspec

from agentlytics.facts import CompactionFact, Fact
from agentlytics.observe.decode import decode_as
from agentlytics.observe.edge import WireObserver
from agentlytics.observe.lifecycle_state import CompactionRun, LifecycleEdge, lifecycle_state
from agentlytics.observe.pending import Pending
from agentlytics.observe.synthesize import codex_error_kind
from agentlytics.protocol import types as t
from agentlytics.vocabulary import (
    CompactionImplementation,
    CompactionPhase,
    CompactionStatus,
    CompactionTrigger,
)


def on_compact_start_result(
    observer: WireObserver,
    request_id: object,
    pending: Pending,
    result: msgspec.Raw | None,
    ts_ms: int,
) -> list[Fact]:
    """``thread/compact/start`` accepted: the thread's next turn is a manual compaction."""
    params = decode_as(pending.params, t.ThreadIdParams)
    lifecycle_state(observer).compact_requested[params.thread_id] = None
    return []


def on_turn_started(observer: WireObserver, thread_id: str, turn: t.Turn, ts_ms: int) -> list[Fact]:
    state = lifecycle_state(observer)
    if thread_id in state.compact_requested:
        del state.compact_requested[thread_id]
        state.compact_turns[turn.id] = False
    return []


def _phase(
    observer: WireObserver, state: LifecycleEdge, thread_id: str, turn_id: str
) -> tuple[CompactionTrigger, CompactionPhase]:
    """Manual in its own turn; automatic before the turn's first model response (``pre_turn``,
    no token usage reported for the turn yet) or after one (``mid_turn``)."""
    if turn_id in state.compact_turns:
        return "manual", "standalone_turn"
    view = observer.synth.threads.get(thread_id)
    active = view.active.get(turn_id) if view is not None else None
    sampled = active is not None and active.last_total is not None
    return "auto", "mid_turn" if sampled else "pre_turn"


def _compacts_remotely(provider: str | None) -> bool:
    """Upstream's ``ModelProviderInfo::supports_remote_compaction`` (``is_openai() ||
    is_azure_responses_provider(name, base_url)``, the latter ``name`` equal to ``azure`` in any
    case) read off the provider id the wire gives; its base URL is not on the wire.
    ``compact_remote.rs`` tags such compactions ``ResponsesCompact``, the local task
    ``Responses``."""
    return provider is not None and (provider == "openai" or provider.lower() == "azure")


def _context(observer: WireObserver, thread_id: str) -> tuple[int, CompactionImplementation]:
    """The thread's current context size and the compaction implementation its provider gets."""
    view = observer.synth.threads.get(thread_id)
    if view is None:
        return 0, "responses"
    remote = _compacts_remotely(view.model_provider)
    return view.context_tokens, "responses_compact" if remote else "responses"


def _run(
    observer: WireObserver,
    thread_id: str,
    turn_id: str,
    trigger: CompactionTrigger,
    phase: CompactionPhase,
    started_at_ms: int,
) -> CompactionRun:
    before, _ = _context(observer, thread_id)
    return CompactionRun(thread_id, turn_id, trigger, phase, started_at_ms, before)


def _fact(
    observer: WireObserver,
    run: CompactionRun,
    status: CompactionStatus,
    completed_at_ms: int | None,
    completed_at_s: int | None = None,
    error: tuple[str, int | None] | None = None,
) -> CompactionFact:
    duration = (
        completed_at_ms - run.started_at_ms
        if completed_at_ms is not None and completed_at_ms >= run.started_at_ms
        else None
    )
    if completed_at_s is None:
        completed_at_s = completed_at_ms // 1000 if completed_at_ms is not None else 0
    after, implementation = _context(observer, run.thread_id)
    return CompactionFact(
        thread_id=run.thread_id,
        turn_id=run.turn_id,
        trigger=run.trigger,
        phase=run.phase,
        status=status,
        started_at=max(run.started_at_ms // 1000, 0),
        completed_at=max(completed_at_s, 0),
        duration_ms=duration,
        reason="user_requested" if run.trigger == "manual" else "context_limit",
        implementation=implementation,
        strategy="memento",
        codex_error_kind=error[0] if error else None,
        codex_error_http_status_code=error[1] if error else None,
        active_context_tokens_before=run.context_tokens_before,
        active_context_tokens_after=after,
    )


def on_item(
    observer: WireObserver, n: t.ItemNotification, completed: bool, ts_ms: int
) -> list[Fact]:
    item = n.item
    if not isinstance(item, t.ContextCompactionItem):
        return []
    state = lifecycle_state(observer)
    key = (n.thread_id, n.turn_id, item.id)
    if n.turn_id in state.compact_turns:
        state.compact_turns[n.turn_id] = True
    if not completed:
        trigger, phase = _phase(observer, state, n.thread_id, n.turn_id)
        started = n.started_at_ms if n.started_at_ms is not None else item.started_at_ms
        state.open_compactions[key] = _run(
            observer,
            n.thread_id,
            n.turn_id,
            trigger,
            phase,
            started if started is not None else ts_ms,
        )
        return []
    run = state.open_compactions.pop(key, None)
    if run is None:  # completion without an observed start: the item carries its start time
        trigger, phase = _phase(observer, state, n.thread_id, n.turn_id)
        started = item.started_at_ms if item.started_at_ms is not None else ts_ms
        run = _run(observer, n.thread_id, n.turn_id, trigger, phase, started)
    done = n.completed_at_ms if n.completed_at_ms is not None else item.completed_at_ms
    return [_fact(observer, run, "completed", done if done is not None else ts_ms)]


_TURN_FAILURE: dict[str | None, CompactionStatus] = {"interrupted": "interrupted"}


def on_turn_completed(
    observer: WireObserver, thread_id: str, turn: t.Turn, ts_ms: int
) -> list[Fact]:
    """Compactions the turn ended before they completed failed (or were interrupted with it);
    a manual compact turn that failed before its item started is reported too."""
    state = lifecycle_state(observer)
    facts: list[Fact] = []
    error = codex_error_kind(turn.error.codex_error_info) if turn.error is not None else None
    status = _TURN_FAILURE.get(turn.status, "failed")
    completed_s = turn.completed_at if turn.completed_at is not None else ts_ms // 1000
    for key in [k for k in state.open_compactions if k[0] == thread_id and k[1] == turn.id]:
        run = state.open_compactions.pop(key)
        facts.append(_fact(observer, run, status, None, completed_s, error))
    saw_item = state.compact_turns.pop(turn.id, None)
    if saw_item is False and turn.status in ("failed", "interrupted"):
        started_s = turn.started_at if turn.started_at is not None else completed_s
        run = _run(observer, thread_id, turn.id, "manual", "standalone_turn", started_s * 1000)
        fact = _fact(observer, run, status, None, completed_s, error)
        ms = turn.duration_ms
        duration = ms if ms is not None and ms >= 0 else None
        facts.append(msgspec.structs.replace(fact, duration_ms=duration))
    return facts
