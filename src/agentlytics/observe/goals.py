"""Goals at the edge: the difference between a thread's persisted goal states → goal facts.

``thread/goal/updated`` carries the goal's whole persisted state (no id); the edge remembers
each thread's goal and turns the *difference* into goal facts: ``created`` (a goal not seen
before), ``usage_accounted`` (tokens or time grew), ``status_changed`` (the stored status
changed); ``thread/goal/cleared`` → ``cleared``. ``thread/goal/set`` and ``thread/goal/get``
answers feed the same difference.
"""

from __future__ import annotations

import uuid

import msgspec

from agentlytics.facts import Fact, GoalFact
from agentlytics.observe.decode import decode_as
from agentlytics.observe.edge import WireObserver
from agentlytics.observe.lifecycle_state import GoalView, LifecycleEdge, lifecycle_state
from agentlytics.observe.pending import Pending
from agentlytics.vocabulary import GoalEventKind

# --- wire shapes (0.169.0 schema: ThreadGoal*) --------------------------------------------------


class _Camel(msgspec.Struct, rename="camel"):
    pass


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


def on_goal_updated(observer: WireObserver, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
    n = decode_as(params, ThreadGoalUpdatedNotification)
    return goal_changed(lifecycle_state(observer), n.thread_id, n.turn_id, n.goal)


def on_goal_cleared(observer: WireObserver, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
    n = decode_as(params, ThreadGoalClearedNotification)
    fact = goal_cleared(lifecycle_state(observer), n.thread_id)
    if fact is None:
        observer._drop("goal cleared that was never observed", n.thread_id)
        return []
    return [fact]


def on_goal_set_result(
    observer: WireObserver,
    request_id: object,
    pending: Pending,
    result: msgspec.Raw | None,
    ts_ms: int,
) -> list[Fact]:
    """``thread/goal/set`` answered: the goal as persisted (the notification that follows
    repeats it and then changes nothing). Set by a client request, so no causal turn."""
    goal = decode_as(result, ThreadGoalResponse).goal
    if goal is None:
        return []
    return goal_changed(lifecycle_state(observer), goal.thread_id, None, goal)


def on_goal_get_result(
    observer: WireObserver,
    request_id: object,
    pending: Pending,
    result: msgspec.Raw | None,
    ts_ms: int,
) -> list[Fact]:
    """``thread/goal/get`` answered: seeds a goal created before we attached (no event)."""
    goal = decode_as(result, ThreadGoalResponse).goal
    state = lifecycle_state(observer)
    if goal is not None and goal.thread_id not in state.goals:
        goal_changed(state, goal.thread_id, None, goal)
    return []
