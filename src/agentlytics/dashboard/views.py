"""The JSON documents the page reads, composed from the query layer's reports.

No SQL here: every figure is a report's row (``msgspec.to_builtins`` of it, the same JSON as
``agentlytics report … --format json``), or a sum of such rows. What is composed here:

* ``headline``: the overview report's totals, plus the approval rate over its approvals rows;
* ``approval_latency``: the query layer's review-latency histogram (``approval_latency``);
* a session's ``spans``: its turns, tool calls and reviews placed on one time axis.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from agentlytics.dashboard.reader import Reader, is_file_store
from agentlytics.query import FilterError, Filters
from agentlytics.query import reports as query
from agentlytics.query.rows import Overview, SessionDetail, SubagentNode

#: Rows of the sessions list (newest first) and of the slowest calls.
SESSIONS_LIMIT = 200
SLOWEST_LIMIT = 10
#: Goals shown (largest first, by tokens accounted).
GOALS_LIMIT = 50
FILTER_KEYS = ("since", "until", "model", "project", "client")


class BadRequest(Exception):
    """A request the page (or a user editing the URL) got wrong; one line, HTTP 400."""


def parse_filters(params: Mapping[str, str]) -> Filters:
    """The query layer's filters from the page's query string (empty = not filtered)."""
    given = {k: params.get(k, "").strip() or None for k in FILTER_KEYS}
    try:
        return Filters.parse(
            since=given["since"],
            until=given["until"],
            model=given["model"],
            project=given["project"],
            client=given["client"],
        )
    except FilterError as exc:
        raise BadRequest(str(exc)) from None


def _rows(rows: Any) -> Any:
    return msgspec.to_builtins(rows)


def missing(label: str) -> dict[str, Any]:
    """The answer for a store that does not exist yet: every section empty."""
    return {
        "version": "missing",
        "store": label,
        "headline": _headline(None, []),
        "daily": [],
        "unpriced_models": [],
        "tools": [],
        "slowest": [],
        "approvals": [],
        "approval_latency": [],
        "options": {"models": []},
        "sessions": [],
        "goals": [],
        "hooks": [],
        "compactions": [],
    }


def _headline(overview: Overview | None, approvals: list[Any]) -> dict[str, Any]:
    reviews = sum(r.reviews for r in approvals)
    approved = sum(r.approved for r in approvals)
    if overview is None:
        return {
            "events": 0,
            "sessions": 0,
            "turns": 0,
            "tool_calls": 0,
            "total_tokens": 0,
            "cost_usd": 0.0,
            "reviews": 0,
            "approved": 0,
            "approval_rate": None,
            "agent_share": None,
            "agent_share_note": None,
            "accepted_agent_lines": 0,
            "unpriced_models": [],
        }
    return {
        "events": overview.events,
        "sessions": overview.threads,
        "turns": overview.turns,
        "tool_calls": overview.tool_calls,
        "total_tokens": overview.total_tokens,
        "cost_usd": overview.cost_usd,
        "reviews": reviews,
        "approved": approved,
        "approval_rate": approved / reviews if reviews else None,
        "agent_share": overview.agent_share,
        "accepted_agent_lines": overview.accepted_agent_lines,
        "unpriced_models": overview.unpriced_models,
    }


def agent_share(reader: Reader, repo: Path) -> tuple[float | None, str | None]:
    """The agent's share of ``repo``'s added lines (attribution against the store's accepted
    line fingerprints), and why there is none when there is none."""
    from agentlytics.warehouse.attribution import AttributionError, attribute

    if not is_file_store(reader.location):
        return None, "attribution reads a local warehouse file"
    try:
        totals = attribute(repo, Path(reader.location)).totals
    except AttributionError as exc:
        return None, str(exc)
    return totals.share, None if totals.share is not None else "no fingerprintable added lines"


def summary(
    reader: Reader, params: Mapping[str, str], version: str, repo: Path | None = None
) -> dict[str, Any]:
    """The headline, usage over time, tools and approvals for one set of filters.

    The sessions list and the lifecycle tables are separate requests (:func:`sessions`,
    :func:`lifecycle`): the page asks for all three at once, so they are answered side by side
    and each section is drawn as soon as its answer is in.
    """
    filters = parse_filters(params)
    share, share_note = agent_share(reader, repo) if repo is not None else (None, None)
    with reader.store() as store:
        overview = query.overview(store, filters, agent_share=share)
        daily = query.daily(store, filters, by_model=True)
        slowest = query.slowest_calls(store, filters, SLOWEST_LIMIT)
        latency = query.approval_latency(store, filters)
    models = sorted({r.model for r in daily if r.model is not None})
    return {
        "version": version,
        "store": reader.label(),
        "headline": {**_headline(overview, overview.approvals), "agent_share_note": share_note},
        "daily": _rows(daily),
        "unpriced_models": overview.unpriced_models,
        "tools": _rows(overview.tools),
        "slowest": _rows(slowest),
        "approvals": _rows(overview.approvals),
        "approval_latency": _rows(latency),
        "options": {"models": models},
    }


def sessions(reader: Reader, params: Mapping[str, str]) -> dict[str, Any]:
    """The newest :data:`SESSIONS_LIMIT` sessions (one row per thread)."""
    filters = parse_filters(params)
    with reader.store() as store:
        rows = query.sessions(store, filters, limit=SESSIONS_LIMIT)
    return {"sessions": _rows(rows), "limit": SESSIONS_LIMIT}


def lifecycle(reader: Reader, params: Mapping[str, str]) -> dict[str, Any]:
    """Goals (the :data:`GOALS_LIMIT` largest), hooks and compactions."""
    filters = parse_filters(params)
    with reader.store() as store:
        goals = query.goals(store, filters, limit=GOALS_LIMIT)
        hooks = query.hooks(store, filters)
        compactions = query.compactions(store, filters)
    return {
        "goals": _rows(goals),
        "goals_limit": GOALS_LIMIT,
        "hooks": _rows(hooks),
        "compactions": _rows(compactions),
    }


def _ms(iso: str | None) -> int | None:
    """Epoch ms of the query layer's ISO 8601 UTC text."""
    if iso is None:
        return None
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def spans(detail: SessionDetail) -> list[dict[str, Any]]:
    """The session's turns, tool calls and reviews as spans on one time axis (epoch ms).

    A turn's start is stored to the second; it is placed at the earliest millisecond that
    second allows while still holding its tool calls (start ≤ first call, start + duration ≥
    last call's end). A review row has no time of its own: it is drawn at the start of the
    reviewed call of its kind (the approval is asked before the call runs), in order.
    """
    out: list[dict[str, Any]] = []
    for turn in detail.turns:
        second = _ms(turn.started_at)
        calls = [(c, _ms(c.started_at)) for c in turn.tools]
        timed = [(c, s) for c, s in calls if s is not None]
        start = second
        if second is not None and timed and turn.duration_ms is not None:
            first = min(s for _, s in timed)
            last_end = max(s + max(0, c.duration_ms or 0) for c, s in timed)
            low, high = max(second, last_end - turn.duration_ms), min(second + 999, first)
            start = low if low <= high else second
        if start is not None:
            out.append(
                {
                    "lane": "turn",
                    "start_ms": start,
                    "duration_ms": turn.duration_ms,
                    "label": f"turn {turn.turn_id} ({turn.status or 'in progress'}, "
                    f"{turn.total_tokens:,} tokens)",
                    "ok": turn.status == "completed",
                }
            )
        reviewed: dict[str, list[int]] = {}
        for c, s in timed:
            out.append(
                {
                    "lane": "tool",
                    "start_ms": s,
                    "duration_ms": c.duration_ms,
                    "label": f"{c.kind} {c.tool_name} ({c.terminal_status})",
                    "ok": c.terminal_status == "completed",
                }
            )
            reviewed.setdefault(c.kind, []).extend([s] * c.review_count)
        for review in turn.reviews:
            at = reviewed.get(review.subject, [])
            review_start = at.pop(0) if at else start
            if review_start is None:
                continue
            out.append(
                {
                    "lane": "review",
                    "start_ms": review_start,
                    "duration_ms": review.duration_ms,
                    "label": f"{review.reviewer} review of {review.subject} {review.subject_name}"
                    f": {review.status}",
                    "ok": review.status == "approved",
                }
            )
    return out


def _tree(thread_id: str, nodes: list[SubagentNode]) -> dict[str, Any]:
    def node(n: SubagentNode) -> dict[str, Any]:
        source = f"{n.subagent_source}, " if n.subagent_source else ""
        return {
            "thread_id": n.thread_id,
            "label": f"({source}{n.turns} turns, {n.total_tokens:,} tokens)",
            "children": [node(c) for c in n.children],
        }

    return {"thread_id": thread_id, "label": "(this session)", "children": [node(n) for n in nodes]}


def session(reader: Reader, thread_id: str, params: Mapping[str, str]) -> dict[str, Any]:
    """One session: the query layer's session report, its spans and its subagent tree."""
    if not thread_id or len(thread_id) > 200:
        raise BadRequest("no such session")
    with reader.store() as store:
        detail = query.session(store, thread_id)
    if detail is None:
        return {"error": f"no session {thread_id} in this store"}
    body: dict[str, Any] = _rows(detail)
    cost = [t.cost_usd for t in detail.turns]
    body["summary"] = {
        "started_at": detail.started_at,
        "total_tokens": sum(t.total_tokens for t in detail.turns),
        "cost_usd": None if any(c is None for c in cost) else sum(c or 0.0 for c in cost),
    }
    body["spans"] = spans(detail)
    body["tree"] = _tree(thread_id, detail.subagents) if detail.subagents else None
    return body


#: ``/api/report/NAME``: one report's rows exactly as ``agentlytics report NAME --format json``.
REPORTS: dict[str, Any] = {
    "tools": query.tools,
    "daily": query.daily,
    "approvals": query.approvals,
    "sessions": query.sessions,
    "goals": query.goals,
    "hooks": query.hooks,
    "compactions": query.compactions,
    "subagents": query.subagents,
    "overview": query.overview,
}


def report(reader: Reader, name: str, params: Mapping[str, str]) -> Any:
    """One report's JSON rows."""
    fn = REPORTS.get(name)
    if fn is None:
        raise BadRequest(f"no report {name!r} (one of: {', '.join(sorted(REPORTS))})")
    filters = parse_filters(params)
    with reader.store() as store:
        return _rows(fn(store, filters))
