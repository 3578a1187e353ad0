"""The summary tables ``replay`` prints and ``report overview`` shows: one source for both.

``replay`` used to run its own SQL for these tables, which could (and did) disagree with the
reports in rounding and columns; now both take them from :func:`reports.overview`.
"""

from __future__ import annotations

from agentlytics.query.filters import Filters
from agentlytics.query.render import Output, Section
from agentlytics.query.reports import overview
from agentlytics.query.rows import Overview
from agentlytics.query.store import Store


def summary_sections(ov: Overview) -> list[Section]:
    """Events by type, turns by status, tool calls and reviews of an overview, as tables."""
    return [
        Section("Events by type", ov.events_by_type),
        Section("Turns by status", ov.turns_by_status),
        Section("Tool calls by kind", ov.tools),
        Section("Reviews by subject and reviewer", ov.approvals),
    ]


def replay_summary(store: Store) -> Output:
    """What ``replay`` prints after a run: the summary tables over the whole store."""
    return Output(None, summary_sections(overview(store, Filters())))
