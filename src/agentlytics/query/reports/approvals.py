"""Reviews: per subject and reviewer, per command source, per guardian risk."""

from __future__ import annotations

from agentlytics.query.filters import Filters
from agentlytics.query.reports.sql import (
    as_float,
    condition,
    run,
)
from agentlytics.query.rows import (
    ApprovalLatencyRow,
    ApprovalRow,
    ApprovalSourceRow,
    GuardianRiskRow,
)
from agentlytics.query.store import Store


def _outcomes(col: str, alias: str) -> str:
    return ", ".join(
        f"count(*) FILTER (WHERE {alias}.{col} = '{value}')"
        for value in ("approved", "denied", "aborted", "timed_out")
    )


def approvals(store: Store, filters: Filters) -> list[ApprovalRow]:
    """Reviews per subject kind and reviewer (user / guardian): outcomes and latency (request
    to answer; reviews of unknown duration are counted, not in the percentiles)."""
    where, params = condition(filters, "reviews", "r")
    q = store.dialect.quantiles
    sql = f"""
        SELECT r.subject_kind, r.reviewer, count(*), {_outcomes("status", "r")},
               {q("r.duration_ms", (0.5, 0.95))}
        FROM reviews r WHERE {where}
        GROUP BY r.subject_kind, r.reviewer ORDER BY 3 DESC, 1, 2"""
    return [
        ApprovalRow(
            subject=r[0],
            reviewer=r[1],
            reviews=int(r[2]),
            approved=int(r[3]),
            denied=int(r[4]),
            aborted=int(r[5]),
            timed_out=int(r[6]),
            p50_ms=as_float(r[7]),
            p95_ms=as_float(r[8]),
        )
        for r in run(store, sql, params)
    ]


#: Bucket edges of review latency, ms: a guardian answers in milliseconds to seconds, a person
#: in seconds to minutes, so the buckets grow by about ten.
LATENCY_EDGES_MS = (10, 100, 1_000, 10_000, 60_000, 600_000)
_UNKNOWN = len(LATENCY_EDGES_MS) + 1


def _latency_label(lo: int, hi: int | None) -> str:
    def fmt(ms: int) -> str:
        return (
            f"{ms} ms"
            if ms < 1_000
            else f"{ms // 1_000} s"
            if ms < 60_000
            else f"{ms // 60_000} min"
        )

    if hi is None:
        return f"≥ {fmt(lo)}"
    return f"< {fmt(hi)}" if lo == 0 else f"{fmt(lo)} – {fmt(hi)}"


def approval_latency(store: Store, filters: Filters) -> list[ApprovalLatencyRow]:
    """The distribution of review latency (request to answer) per reviewer: how many reviews
    fall in each bucket of :data:`LATENCY_EDGES_MS`, every bucket of a reviewer listed (zeros
    too, so the histogram has its gaps), plus the reviews of unknown duration if there are any.
    Reviewers with the most reviews first."""
    where, params = condition(filters, "reviews", "r")
    cases = " ".join(
        f"WHEN r.duration_ms < {edge} THEN {i}" for i, edge in enumerate(LATENCY_EDGES_MS)
    )
    sql = f"""
        SELECT r.reviewer,
               CASE WHEN r.duration_ms IS NULL THEN {_UNKNOWN} {cases}
                    ELSE {len(LATENCY_EDGES_MS)} END AS bucket,
               count(*)
        FROM reviews r WHERE {where} GROUP BY 1, 2"""
    counts: dict[str, dict[int, int]] = {}
    for reviewer, bucket, n in run(store, sql, params):
        counts.setdefault(reviewer, {})[int(bucket)] = int(n)
    lows = (0, *LATENCY_EDGES_MS)
    highs: tuple[int | None, ...] = (*LATENCY_EDGES_MS, None)
    rows: list[ApprovalLatencyRow] = []
    for reviewer, by_bucket in sorted(counts.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
        for i, (lo, hi) in enumerate(zip(lows, highs, strict=True)):
            rows.append(
                ApprovalLatencyRow(
                    reviewer=reviewer,
                    bucket=_latency_label(lo, hi),
                    min_ms=lo,
                    max_ms=hi,
                    reviews=by_bucket.get(i, 0),
                )
            )
        if _UNKNOWN in by_bucket:
            rows.append(
                ApprovalLatencyRow(
                    reviewer=reviewer,
                    bucket="unknown",
                    min_ms=None,
                    max_ms=None,
                    reviews=by_bucket[_UNKNOWN],
                )
            )
    return rows


def approval_sources(store: Store, filters: Filters) -> list[ApprovalSourceRow]:
    """Command approvals per ``command_source`` (shell / unified_exec / user_shell) and
    reviewer."""
    where, params = condition(filters, "reviews", "r")
    q = store.dialect.quantiles
    sql = f"""
        SELECT r.command_source, r.reviewer, count(*), {_outcomes("status", "r")},
               {q("r.duration_ms", (0.5, 0.95))}
        FROM reviews r WHERE {where} AND r.subject_kind = 'command_execution'
        GROUP BY r.command_source, r.reviewer ORDER BY 3 DESC, 1 NULLS LAST, 2"""
    return [
        ApprovalSourceRow(
            command_source=r[0],
            reviewer=r[1],
            reviews=int(r[2]),
            approved=int(r[3]),
            denied=int(r[4]),
            aborted=int(r[5]),
            timed_out=int(r[6]),
            p50_ms=as_float(r[7]),
            p95_ms=as_float(r[8]),
        )
        for r in run(store, sql, params)
    ]


def guardian_risk(store: Store, filters: Filters) -> list[GuardianRiskRow]:
    """Guardian reviews per assigned risk level: terminal outcomes and completion latency."""
    where, params = condition(filters, "guardian_reviews", "g")
    q = store.dialect.quantiles
    sql = f"""
        SELECT g.risk_level, count(*), {_outcomes("terminal_status", "g")},
               count(*) FILTER (WHERE g.terminal_status = 'failed_closed'),
               {q("g.completion_latency_ms", (0.5, 0.95))}
        FROM guardian_reviews g WHERE {where}
        GROUP BY g.risk_level ORDER BY 2 DESC, 1 NULLS LAST"""
    return [
        GuardianRiskRow(
            risk_level=r[0],
            reviews=int(r[1]),
            approved=int(r[2]),
            denied=int(r[3]),
            aborted=int(r[4]),
            timed_out=int(r[5]),
            failed_closed=int(r[6]),
            p50_ms=as_float(r[7]),
            p95_ms=as_float(r[8]),
        )
        for r in run(store, sql, params)
    ]
