"""Hooks, goals and compaction, synthesised at the edge from the wire (spec decision 2).

Codex makes these facts in-process; on the wire we see their traces:

* **hook runs** — ``hook/completed`` carries a ``HookRunSummary`` (event name, where the hook
  was loaded from, final status). One :class:`HookRunFact` per completed run.
* **goals** — ``thread/goal/updated`` carries the goal's whole persisted state (no id); the
  edge remembers each thread's goal and turns the *difference* into goal facts:
  ``created`` (a goal not seen before), ``usage_accounted`` (tokens or time grew),
  ``status_changed`` (the stored status changed); ``thread/goal/cleared`` → ``cleared``.
* **compaction** — a ``contextCompaction`` item, in a turn of its own after a
  ``thread/compact/start`` (manual) or inside a regular turn (automatic).

Edge state is per connection (one :class:`LifecycleEdge` per observer), bounded, and reads no
clock: every time comes from the protocol or the observation stamp. Where the wire is silent
the choices are documented in ``docs/lifecycle.md``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from agentlytics.bounded import BoundedMap
from agentlytics.facts import CompactionFact, Fact, GoalFact, HookRunFact, TrackingContext
from agentlytics.observe.edge import EdgeHandlers, WireObserver
from agentlytics.observe.pending import Pending
from agentlytics.observe.synthesize import codex_error_kind
from agentlytics.protocol import types as t
from agentlytics.vocabulary import (
    CompactionImplementation,
    CompactionPhase,
    CompactionStatus,
    CompactionTrigger,
    GoalEventKind,
    HookRunStatusName,
    HookSourceName,
)

MAX_THREADS = 50_000
MAX_OPEN_COMPACTIONS = 1_024

# --- wire shapes (0.169.0 schema: HookCompletedNotification, ThreadGoal*) -----------------------


class _Camel(msgspec.Struct, rename="camel"):
    pass


class HookRunSummary(_Camel):
    event_name: str
    status: str
    id: str = ""
    handler_type: str | None = None
    execution_mode: str | None = None
    scope: str | None = None
    source_path: str | None = None
    #: Absent on older servers; the schema's default is ``unknown``.
    source: str | None = None


class HookCompletedNotification(_Camel):
    thread_id: str
    run: HookRunSummary
    turn_id: str | None = None


class ThreadGoal(_Camel):
    thread_id: str
    status: str
    created_at: int
    objective: str = ""
    token_budget: int | None = None
    tokens_used: int = 0
    time_used_seconds: int = 0


class ThreadGoalUpdatedNotification(_Camel):
    thread_id: str
    goal: ThreadGoal
    turn_id: str | None = None


class ThreadGoalResponse(_Camel):
    """``thread/goal/set`` and ``thread/goal/get`` results (``goal`` null when there is none)."""

    goal: ThreadGoal | None = None


class ThreadGoalClearedNotification(_Camel):
    thread_id: str


S = TypeVar("S", bound=msgspec.Struct)
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def _decode(raw: msgspec.Raw | None, typ: type[S]) -> S:
    """Decode with a cached typed decoder; errors propagate to the observer's counted drops."""
    decoder = _decoders.get(typ)
    if decoder is None:
        decoder = _decoders[typ] = msgspec.json.Decoder(typ)
    value: S = decoder.decode(raw if raw else b"null")
    return value


# --- per-connection edge state -------------------------------------------------------------------


@dataclass(slots=True)
class GoalView:
    """The last persisted state of a thread's goal, as the wire showed it."""

    goal_id: str
    created_at: int
    objective: str
    status: str
    has_token_budget: bool
    tokens_used: int
    time_used_seconds: int


@dataclass(slots=True)
class CompactionRun:
    """A compaction item that started and has not completed yet."""

    thread_id: str
    turn_id: str
    trigger: CompactionTrigger
    phase: CompactionPhase
    started_at_ms: int
    #: The thread's context size when the compaction began (upstream's ``begin``).
    context_tokens_before: int = 0


class LifecycleEdge:
    """What the lifecycle families remember about one connection."""

    def __init__(self, observer: WireObserver | None = None) -> None:
        self.goals: BoundedMap[str, GoalView] = BoundedMap("edge goals", MAX_THREADS)
        #: (thread, goal createdAt) → goals already given an id there (a clear then a new goal
        #: in the same second must not reuse the id).
        self.goal_generations: BoundedMap[tuple[str, int], int] = BoundedMap(
            "edge goal generations", MAX_THREADS
        )
        #: Threads whose ``thread/compact/start`` succeeded and whose compact turn has not begun.
        self.compact_requested: BoundedMap[str, None] = BoundedMap(
            "edge compact requests", MAX_THREADS
        )
        #: Standalone compact turns → whether a compaction item was seen in them.
        self.compact_turns: BoundedMap[str, bool] = BoundedMap(
            "edge compact turns", MAX_OPEN_COMPACTIONS
        )
        self.open_compactions: BoundedMap[tuple[str, str, str], CompactionRun] = BoundedMap(
            "edge open compactions", MAX_OPEN_COMPACTIONS
        )


def lifecycle_state(observer: WireObserver) -> LifecycleEdge:
    """The lifecycle edge state of one connection (the observer owns it)."""
    return observer.edge(LifecycleEdge)


# --- hooks ---------------------------------------------------------------------------------------

#: ``HookSource`` (camelCase on the wire) → the event's snake_case ``hook_source``.
HOOK_SOURCES: dict[str, HookSourceName] = {
    "system": "system",
    "user": "user",
    "project": "project",
    "mdm": "mdm",
    "sessionFlags": "session_flags",
    "plugin": "plugin",
    "cloudRequirements": "cloud_requirements",
    "cloudManagedConfig": "cloud_managed_config",
    "legacyManagedConfigFile": "legacy_managed_config_file",
    "legacyManagedConfigMdm": "legacy_managed_config_mdm",
    "unknown": "unknown",
}

#: ``HookRunStatus`` → the event's ``status``; a run still ``running`` at completion failed.
HOOK_STATUSES: dict[str, HookRunStatusName] = {
    "completed": "completed",
    "failed": "failed",
    "blocked": "blocked",
    "stopped": "stopped",
    "running": "failed",
}


def hook_name(event_name: str) -> str:
    """``HookEventName`` (camelCase) → upstream's exact PascalCase name (``preToolUse`` →
    ``PreToolUse``). Names newer than the spec's list keep the same rule."""
    return event_name[:1].upper() + event_name[1:]


def classify_hook_source(
    source: str | None, source_path: str | None, codex_home: str | None
) -> HookSourceName:
    """Where a hook was loaded from.

    The wire's ``source`` wins when it names a layer. Older servers omit it (the schema default
    is ``unknown``); then the ``sourcePath`` tells: under ``CODEX_HOME`` → ``plugin`` for the
    plugin cache, else ``user``; under ``/etc/codex`` → ``system``; a ``.codex`` directory
    anywhere else → ``project``; otherwise ``unknown``.
    """
    named = HOOK_SOURCES.get(source or "unknown", "unknown")
    if named != "unknown" or not source_path:
        return named
    path = source_path.replace("\\", "/")
    if codex_home:
        home = codex_home.replace("\\", "/").rstrip("/") + "/"
        if path.startswith(home):
            return "plugin" if path[len(home) :].startswith("plugins/") else "user"
    if path.startswith("/etc/codex/"):
        return "system"
    if "/.codex/" in path:
        return "project"
    return "unknown"


def _hook_completed(observer: WireObserver, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
    n = _decode(params, HookCompletedNotification)
    run = n.run
    synth = observer.synth
    view = synth.threads.get(n.thread_id)
    status = HOOK_STATUSES.get(run.status)
    if status is None:
        observer._drop("hook run with an unknown status", run.status)
        return []
    return [
        HookRunFact(
            tracking=TrackingContext(
                model_slug=view.model if view is not None else None,
                thread_id=n.thread_id,
                turn_id=n.turn_id,
                product_client_id=synth.client_name,
            ),
            hook_name=hook_name(run.event_name),
            hook_source=classify_hook_source(run.source, run.source_path, synth.codex_home),
            status=status,
        )
    ]


# --- goals ---------------------------------------------------------------------------------------

_GOAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://agentlytics/codex-goal")

#: ``ThreadGoalStatus`` (camelCase on the wire) → codex-state's snake_case strings.
GOAL_STATUSES = {
    "active": "active",
    "paused": "paused",
    "blocked": "blocked",
    "usageLimited": "usage_limited",
    "budgetLimited": "budget_limited",
    "complete": "complete",
}


def goal_status(status: str) -> str:
    """A wire goal status in snake_case (an unknown newer status is converted the same way)."""
    known = GOAL_STATUSES.get(status)
    if known is not None:
        return known
    return "".join("_" + c.lower() if c.isupper() else c for c in status).lstrip("_")


def goal_id_for(thread_id: str, created_at: int, generation: int = 0) -> str:
    """A stable id for a goal the wire shows without one.

    A thread has at most one goal; a goal is identified by its thread and its ``createdAt``
    (a replaced goal gets a new ``createdAt``), plus a generation when a new goal is created in
    the same second as a cleared one. A UUIDv5 of those, so replays always agree.
    """
    name = f"{thread_id}/{created_at}" + (f"/{generation}" if generation else "")
    return str(uuid.uuid5(_GOAL_NAMESPACE, name))


def _goal_fact(
    thread_id: str,
    turn_id: str | None,
    view: GoalView,
    kind: GoalEventKind,
    usage: bool = False,
) -> GoalFact:
    return GoalFact(
        thread_id=thread_id,
        turn_id=turn_id,
        goal_id=view.goal_id,
        event_kind=kind,
        goal_status=goal_status(view.status),
        has_token_budget=view.has_token_budget,
        cumulative_tokens_accounted=view.tokens_used if usage else None,
        cumulative_time_accounted_seconds=view.time_used_seconds if usage else None,
    )


def goal_changed(
    state: LifecycleEdge, thread_id: str, turn_id: str | None, goal: ThreadGoal
) -> list[Fact]:
    """The persisted goal of a thread is now ``goal``: the facts its difference makes."""
    view = state.goals.get(thread_id)
    budget = goal.token_budget is not None
    if view is None or view.created_at != goal.created_at or view.objective != goal.objective:
        key = (thread_id, goal.created_at)
        generation = state.goal_generations.get(key, -1) + 1
        state.goal_generations[key] = generation
        view = GoalView(
            goal_id=goal_id_for(thread_id, goal.created_at, generation),
            created_at=goal.created_at,
            objective=goal.objective,
            status=goal.status,
            has_token_budget=budget,
            tokens_used=goal.tokens_used,
            time_used_seconds=goal.time_used_seconds,
        )
        state.goals[thread_id] = view
        return [_goal_fact(thread_id, turn_id, view, "created")]
    facts: list[Fact] = []
    view.has_token_budget = budget
    if goal.tokens_used > view.tokens_used or goal.time_used_seconds > view.time_used_seconds:
        view.tokens_used = max(view.tokens_used, goal.tokens_used)
        view.time_used_seconds = max(view.time_used_seconds, goal.time_used_seconds)
        facts.append(_goal_fact(thread_id, turn_id, view, "usage_accounted", usage=True))
    if goal.status != view.status:
        view.status = goal.status
        facts.append(_goal_fact(thread_id, turn_id, view, "status_changed"))
    return facts


def goal_cleared(state: LifecycleEdge, thread_id: str) -> GoalFact | None:
    """The thread's goal was deleted: ``cleared`` with the id it had (never a causal turn)."""
    view = state.goals.pop(thread_id, None)
    if view is None:
        return None
    return _goal_fact(thread_id, None, view, "cleared")


def _goal_updated(observer: WireObserver, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
    n = _decode(params, ThreadGoalUpdatedNotification)
    return goal_changed(lifecycle_state(observer), n.thread_id, n.turn_id, n.goal)


def _goal_cleared(observer: WireObserver, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
    n = _decode(params, ThreadGoalClearedNotification)
    fact = goal_cleared(lifecycle_state(observer), n.thread_id)
    if fact is None:
        observer._drop("goal cleared that was never observed", n.thread_id)
        return []
    return [fact]


def _goal_set_result(
    observer: WireObserver,
    request_id: object,
    pending: Pending,
    result: msgspec.Raw | None,
    ts_ms: int,
) -> list[Fact]:
    """``thread/goal/set`` answered: the goal as persisted (the notification that follows
    repeats it and then changes nothing). Set by a client request, so no causal turn."""
    goal = _decode(result, ThreadGoalResponse).goal
    if goal is None:
        return []
    return goal_changed(lifecycle_state(observer), goal.thread_id, None, goal)


def _goal_get_result(
    observer: WireObserver,
    request_id: object,
    pending: Pending,
    result: msgspec.Raw | None,
    ts_ms: int,
) -> list[Fact]:
    """``thread/goal/get`` answered: seeds a goal created before we attached (no event)."""
    goal = _decode(result, ThreadGoalResponse).goal
    state = lifecycle_state(observer)
    if goal is not None and goal.thread_id not in state.goals:
        goal_changed(state, goal.thread_id, None, goal)
    return []


# --- compaction ----------------------------------------------------------------------------------


def _compact_start_result(
    observer: WireObserver,
    request_id: object,
    pending: Pending,
    result: msgspec.Raw | None,
    ts_ms: int,
) -> list[Fact]:
    """``thread/compact/start`` accepted: the thread's next turn is a manual compaction."""
    params = _decode(pending.params, t.ThreadIdParams)
    lifecycle_state(observer).compact_requested[params.thread_id] = None
    return []


def _turn_started(observer: WireObserver, thread_id: str, turn: t.Turn, ts_ms: int) -> list[Fact]:
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


#: Model providers whose compactions upstream runs remotely (``supports_remote_compaction`` is
#: ``is_openai()``): ``compact_remote.rs`` tags them ``ResponsesCompact``, the local task
#: ``Responses``.
_REMOTE_COMPACTION_PROVIDERS = frozenset({"openai"})


def _context(observer: WireObserver, thread_id: str) -> tuple[int, CompactionImplementation]:
    """The thread's current context size and the compaction implementation its provider gets."""
    view = observer.synth.threads.get(thread_id)
    if view is None:
        return 0, "responses"
    remote = view.model_provider in _REMOTE_COMPACTION_PROVIDERS
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


def _item(observer: WireObserver, n: t.ItemNotification, completed: bool, ts_ms: int) -> list[Fact]:
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


def _turn_completed(observer: WireObserver, thread_id: str, turn: t.Turn, ts_ms: int) -> list[Fact]:
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


# --- what the lifecycle family reads -----------------------------------------------------------

EDGE = EdgeHandlers(
    notifications={
        "hook/completed": _hook_completed,
        "thread/goal/updated": _goal_updated,
        "thread/goal/cleared": _goal_cleared,
    },
    client_results={
        "thread/goal/set": _goal_set_result,
        "thread/goal/get": _goal_get_result,
        "thread/compact/start": _compact_start_result,
    },
    items=(_item,),
    turn_started=(_turn_started,),
    turn_completed=(_turn_completed,),
    state=LifecycleEdge,
)
