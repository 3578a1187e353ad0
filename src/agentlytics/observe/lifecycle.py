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

Edge state is per connection (one
:class:`~agentlytics.observe.lifecycle_state.LifecycleEdge` per observer), bounded, and reads no
clock: every time comes from the protocol or the observation stamp. Where the wire is silent
the choices are documented in ``docs/lifecycle.md``.

Each is its own module (:mod:`~agentlytics.observe.hook_runs`, :mod:`~agentlytics.observe.goals`,
:mod:`~agentlytics.observe.compaction`); this one is what the lifecycle family reads at the edge.
"""

from __future__ import annotations

from agentlytics.observe import compaction, goals, hook_runs
from agentlytics.observe.edge import EdgeHandlers
from agentlytics.observe.lifecycle_state import LifecycleEdge

EDGE = EdgeHandlers(
    notifications={
        "hook/completed": hook_runs.on_hook_completed,
        "thread/goal/updated": goals.on_goal_updated,
        "thread/goal/cleared": goals.on_goal_cleared,
    },
    client_results={
        "thread/goal/set": goals.on_goal_set_result,
        "thread/goal/get": goals.on_goal_get_result,
        "thread/compact/start": compaction.on_compact_start_result,
    },
    items=(compaction.on_item,),
    turn_started=(compaction.on_turn_started,),
    turn_completed=(compaction.on_turn_completed,),
    state=LifecycleEdge,
)
