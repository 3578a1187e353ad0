"""Finishing a review (spec §5.4): its item's summary, then its event — or the event held.

``command_source`` (decision 7, our extension) names the path the reviewed command took, as its
tool event's ``tool_name`` does: the guardian action's ``source``, or the command item's final
``source``. Codex answers approvals before the command runs and first announces the item with
the placeholder source ``agent`` (``item/started``, no process id); the real source
(``unifiedExecStartup``, …) only arrives on ``item/completed``. So a user review of a command that
is still running is *held* and emitted when the item completes (just before its tool event), or
when its turn, thread or connection ends (with the last source seen). The item, turn, thread and
connection handlers here are those releases.
"""

from __future__ import annotations

import msgspec

from agentlytics.events.envelope import TrackEvent, track
from agentlytics.events.reviews import (
    CommandSource,
    Reviewer,
    ReviewEvent,
    ReviewResolution,
    ReviewStatus,
)
from agentlytics.facts import (
    ConnectionClosed,
    ItemCompleted,
    ItemStarted,
    ThreadClosed,
    TurnCompleted,
)
from agentlytics.protocol import types as t
from agentlytics.reducer.state import (
    MAX_HELD_REVIEWS,
    MAX_ITEMS_PER_TURN,
    HeldReview,
    ItemReviewSummary,
    PendingReview,
    ReducerState,
    ToolItemInfo,
)
from agentlytics.vocabulary import FinalApprovalOutcome

#: Subjects counted on their item's tool event (§5.4); permissions and network access never are.
DENORMALIZED_SUBJECTS = frozenset({"command_execution", "file_change", "mcp_tool_call"})

#: A command item's ``source`` → the review's ``command_source`` (same table as ``tool_name``).
COMMAND_SOURCE: dict[str, CommandSource] = {
    "agent": "shell",
    "userShell": "user_shell",
    "unifiedExecStartup": "unified_exec",
    "unifiedExecInteraction": "unified_exec",
}

_GUARDIAN_OUTCOME: dict[str, FinalApprovalOutcome] = {
    "approved": "guardian_approved",
    "denied": "guardian_denied",
}


def final_approval_outcome(reviewer: str, status: str, resolution: str) -> FinalApprovalOutcome:
    """§5.4: the outcome a finished review leaves on its item."""
    if reviewer == "guardian":
        return _GUARDIAN_OUTCOME.get(status, "guardian_aborted")
    if status == "approved":
        return "user_approved_for_session" if resolution == "session_approval" else "user_approved"
    return "user_denied" if status == "denied" else "user_aborted"


def complete(
    state: ReducerState,
    review: PendingReview,
    reviewer: Reviewer,
    status: ReviewStatus,
    resolution: ReviewResolution,
    completed_at_ms: int,
    connection_id: int | None,
    command_source: CommandSource | None,
) -> list[TrackEvent]:
    """Summary first (even when the event is dropped, §1.7), then the event — or hold it."""
    if review.denormalize and review.item_id is not None:
        key = (review.thread_id, review.turn_id, review.item_id)
        summary = state.item_reviews.get(key)
        if summary is None:
            summary = state.item_reviews[key] = ItemReviewSummary()
        summary.review_count += 1
        if reviewer == "guardian":
            summary.guardian_review_count += 1
        else:
            summary.user_review_count += 1
        summary.final_approval_outcome = final_approval_outcome(reviewer, status, resolution)
        summary.requested_additional_permissions |= review.requested_additional_permissions
        summary.requested_network_access |= review.requested_network_access
    scope = state.thread_scope(review.thread_id, "review")
    if scope is None:
        return []
    duration = completed_at_ms - review.started_at_ms
    event = ReviewEvent(
        thread_id=scope.thread_id,
        turn_id=review.turn_id,
        item_id=review.item_id,
        review_id=review.review_id,
        app_server_client=scope.app_server_client,
        runtime=scope.runtime,
        thread_source=scope.thread_source,
        subagent_source=scope.subagent_source,
        parent_thread_id=scope.parent_thread_id,
        subject_kind=review.subject_kind,
        subject_name=review.subject_name,
        reviewer=reviewer,
        trigger=review.trigger,
        status=status,
        resolution=resolution,
        started_at_ms=review.started_at_ms,
        completed_at_ms=completed_at_ms,
        duration_ms=duration if duration >= 0 else None,
        command_source=command_source,
    )
    if not review.command_item or review.item_id is None:
        return [track(event)]
    item = _item_info(state, review.thread_id, review.turn_id, review.item_id)
    if item is None or not item.open:
        return [_review_event(event, item.source if item else None)]
    key = (review.thread_id, review.turn_id, review.item_id)
    state.held_reviews.setdefault(key, []).append(HeldReview(event, connection_id))
    if len(state.held_reviews) > MAX_HELD_REVIEWS:
        state.evictions["held reviews (emitted early)"] += 1
        oldest = next(iter(state.held_reviews))
        return _release(state, oldest, None)
    return []


def _review_event(event: ReviewEvent, item_source: str | None) -> TrackEvent:
    """A command review with its item's ``command_source`` (decision 7)."""
    source = COMMAND_SOURCE.get(item_source) if item_source is not None else None
    return track(msgspec.structs.replace(event, command_source=source))


def _item_info(
    state: ReducerState, thread_id: str, turn_id: str, item_id: str
) -> ToolItemInfo | None:
    items = state.turn_items.get((thread_id, turn_id))
    return items.get(item_id) if items is not None else None


def _release(
    state: ReducerState, key: tuple[str, str, str], item_source: str | None
) -> list[TrackEvent]:
    """Emit the reviews held for an item, with its final source (else the last one seen)."""
    held = state.held_reviews.pop(key, None)
    if not held:
        return []
    if item_source is None:
        item = _item_info(state, *key)
        item_source = item.source if item is not None else None
    return [_review_event(h.event, item_source) for h in held]


# --- item and lifecycle tracking -----------------------------------------------------------------


def on_item_started(state: ReducerState, fact: ItemStarted) -> list[TrackEvent]:
    item = fact.item
    if isinstance(item, t.CommandExecutionItem):
        info = ToolItemInfo("commandExecution", source=item.source)
    elif isinstance(item, t.McpToolCallItem):
        info = ToolItemInfo("mcpToolCall", server=item.server, tool=item.tool)
    else:
        return []
    turn_key = (fact.thread_id, fact.turn_id)
    items = state.turn_items.get(turn_key)
    if items is None:
        items = state.turn_items[turn_key] = {}
    if fact.item_id not in items and len(items) >= MAX_ITEMS_PER_TURN:
        del items[next(iter(items))]
        state.evictions["review turn items (per turn)"] += 1
    items[fact.item_id] = info
    return []


def on_item_completed(state: ReducerState, fact: ItemCompleted) -> list[TrackEvent]:
    """Runs before the tool event is built: held reviews of the item go out first."""
    item = fact.item
    info = _item_info(state, fact.thread_id, fact.turn_id, fact.item_id)
    source = item.source if isinstance(item, t.CommandExecutionItem) else None
    if info is not None:
        info.open = False
        if source is not None:
            info.source = source
    if not state.held_reviews:
        return []
    return _release(state, (fact.thread_id, fact.turn_id, fact.item_id), source)


def on_turn_completed(state: ReducerState, fact: TurnCompleted) -> list[TrackEvent]:
    """The turn's still-held reviews go out (before its turn event); its item records leave."""
    thread_id, turn_id = fact.thread_id, fact.turn.id
    events: list[TrackEvent] = []
    for key in [k for k in state.held_reviews if k[0] == thread_id and k[1] == turn_id]:
        events += _release(state, key, None)
    state.turn_items.pop((thread_id, turn_id), None)
    return events


def on_thread_closed(state: ReducerState, fact: ThreadClosed) -> list[TrackEvent]:
    events: list[TrackEvent] = []
    for key in [k for k in state.held_reviews if k[0] == fact.thread_id]:
        events += _release(state, key, None)
    for review_key in [
        k for k, v in state.pending_reviews.items() if v.thread_id == fact.thread_id
    ]:
        del state.pending_reviews[review_key]
        state.drop("review: request unanswered when its thread closed")
    return events


def on_connection_closed(state: ReducerState, fact: ConnectionClosed) -> list[TrackEvent]:
    events: list[TrackEvent] = []
    for key in [
        k
        for k, held in state.held_reviews.items()
        if any(h.connection_id == fact.connection_id for h in held)
    ]:
        events += _release(state, key, None)
    for review_key in [k for k in state.pending_reviews if k[0] == fact.connection_id]:
        del state.pending_reviews[review_key]
        state.drop("review: request unanswered when its connection closed")
    return events
