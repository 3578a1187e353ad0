"""``agentlytics report SECTION``: each section a sub-command over the query layer.

Every section takes the same store, filter and format options; :mod:`.sections` parses them,
opens the store and hands the rows to :mod:`.render`. This module holds the sections: each one's
own options and which report function builds its rows. Failures a user can cause (no file, not
a warehouse, an older layout, a bad filter, an empty warehouse) are one line on stderr and a
non-zero exit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import msgspec
import typer

from agentlytics.query.sections import (
    DEFAULT_WAREHOUSE,
    FILTERS,
    UNFILTERED,
    BreakdownOpt,
    Build,
    FormatOpt,
    Options,
    fail,
    fields,
    flat,
    section_command,
    unpriced_note,
)

if TYPE_CHECKING:
    from agentlytics.query.filters import Filters
    from agentlytics.query.render import Output
    from agentlytics.query.store import Store

report_app = typer.Typer(
    help="Reports over a warehouse: cost, sessions, tools, approvals, subagents, projects.\n\n"
    "Every section takes --since/--until (a date such as 2026-12-01, a duration back from "
    "now such as 7d, 12h, 2w, or an ISO date-time; UTC), --model, --project (repository name "
    "or hash), --client, and --format table|json|csv|markdown.",
    no_args_is_help=True,
)


def _section(
    name: str, shared: tuple[str, ...] = FILTERS, doc: str | None = None
) -> Callable[[Callable[..., Build]], Callable[..., Build]]:
    """Register ``fn(opts, **own) -> build`` as ``report NAME`` (see :func:`section_command`)."""

    def register(fn: Callable[..., Build]) -> Callable[..., Build]:
        report_app.command(name)(section_command(fn, shared, doc))
        return fn

    return register


@_section("overview")
def overview_cmd(
    opts: Options,
    repo: Annotated[
        Path | None,
        typer.Option("--repo", help="Also give the agent's share of this repository's lines."),
    ] = None,
) -> Build:
    """Totals (threads, turns, tokens, cost, agent lines) and the replay summary tables."""

    def build(store: Store, filters: Filters) -> Output:
        import msgspec

        from agentlytics.query import reports
        from agentlytics.query.render import Output, Section
        from agentlytics.query.rows import CountRow
        from agentlytics.query.summary import summary_sections

        share = _agent_share(repo, opts.warehouse) if repo is not None else None
        ov = reports.overview(store, filters, agent_share=share)
        totals = [
            CountRow(name=name, count=getattr(ov, name))
            for name in (
                "events",
                "threads",
                "turns",
                "input_tokens",
                "cached_input_tokens",
                "output_tokens",
                "reasoning_output_tokens",
                "total_tokens",
                "tool_calls",
                "reviews",
                "accepted_agent_lines",
            )
        ]
        cost = "—" if ov.cost_usd is None else f"{ov.cost_usd:.4f}"
        share_text = "—" if ov.agent_share is None else f"{ov.agent_share:.1%}"
        notes = [f"cost_usd: {cost}   agent_share: {share_text}", *unpriced_note(store, filters)]
        sections = [Section("Totals", totals), *summary_sections(ov)]
        return Output(msgspec.to_builtins(ov), sections, notes)

    return build


def _agent_share(repo: Path, warehouse: str) -> float | None:
    from agentlytics.warehouse import attribution

    try:
        return attribution.attribute(repo, Path(warehouse)).totals.share
    except attribution.AttributionError as exc:
        fail(str(exc))


def _period_command(unit: str) -> Callable[..., Build]:
    def command(opts: Options, breakdown: BreakdownOpt = None) -> Build:
        if breakdown not in (None, "model"):
            fail(f"unknown --breakdown {breakdown!r}: the only breakdown is 'model'")

        def build(store: Store, filters: Filters) -> Output:
            from agentlytics.query import reports
            from agentlytics.query.rows import DailyRow, MonthlyRow, WeeklyRow

            period = {"daily": "day", "weekly": "week", "monthly": "month"}[unit]
            row_type = {"daily": DailyRow, "weekly": WeeklyRow, "monthly": MonthlyRow}[unit]
            rows = reports.periods(
                store,
                filters,
                period,  # type: ignore[arg-type]
                by_model=breakdown == "model",
            )
            out = flat(f"Turns, tokens and cost per {period} (UTC)", list(rows), fields(row_type))
            out.notes += unpriced_note(store, filters)
            return out

        return build

    return command


_PERIOD_DOCS: dict[str, str] = {
    "daily": "One row per UTC day (x model with --breakdown model): turns, tokens, cost.",
    "weekly": "One row per ISO week (x model with --breakdown model): turns, tokens, cost.",
    "monthly": "One row per month (x model with --breakdown model): turns, tokens, cost.",
}
for _unit, _doc in _PERIOD_DOCS.items():
    _section(_unit, doc=_doc)(_period_command(_unit))


@_section("sessions")
def sessions_cmd(
    opts: Options,
    limit: Annotated[int, typer.Option("--limit", help="Newest N threads; 0 = all.")] = 50,
) -> Build:
    """One row per thread (newest first): duration, turns, tokens, cost, tools, reviews, status."""

    def build(store: Store, filters: Filters) -> Output:
        from agentlytics.query import reports
        from agentlytics.query.rows import SessionRow

        rows = reports.sessions(store, filters, limit=limit or None)
        out = flat("Sessions (newest first)", list(rows), fields(SessionRow))
        out.notes += unpriced_note(store, filters)
        return out

    return build


@_section("session", UNFILTERED)
def session_cmd(
    opts: Options,
    thread_id: Annotated[str, typer.Argument(help="The thread to drill into.")],
) -> Build:
    """One thread: its turns in order with tools, reviews and tokens; its subagent tree."""

    def build(store: Store, filters: Filters) -> Output:
        import msgspec

        from agentlytics.query import reports
        from agentlytics.query.render import Output, Section
        from agentlytics.query.rows import (
            SubagentNode,
            SubagentTreeLine,
            TurnLine,
            TurnReviewLine,
            TurnToolLine,
        )

        detail = reports.session(store, thread_id)
        if detail is None:
            fail(f"no thread {thread_id} in {opts.warehouse}", 1)
        # The flat views: turns without their lists; tools and reviews in their own tables.
        turn_rows = [TurnLine(**{k: getattr(t, k) for k in fields(TurnLine)}) for t in detail.turns]
        tool_rows = [
            TurnToolLine(turn=i + 1, **msgspec.structs.asdict(tool))
            for i, t in enumerate(detail.turns)
            for tool in t.tools
        ]
        review_rows = [
            TurnReviewLine(turn=i + 1, **msgspec.structs.asdict(r))
            for i, t in enumerate(detail.turns)
            for r in t.reviews
        ]
        tree: list[SubagentTreeLine] = []

        def walk(nodes: list[SubagentNode], depth: int) -> None:
            for node in nodes:
                tree.append(
                    SubagentTreeLine(
                        thread_id="  " * depth + node.thread_id,
                        subagent_source=node.subagent_source,
                        turns=node.turns,
                        total_tokens=node.total_tokens,
                        cost_usd=node.cost_usd,
                    )
                )
                walk(node.children, depth + 1)

        walk(detail.subagents, 0)
        head = (
            f"thread {detail.thread_id}  model {detail.model or '—'}  started "
            f"{detail.started_at or '—'}  duration_ms {detail.duration_ms}"
            + (f"  parent {detail.parent_thread_id}" if detail.parent_thread_id else "")
        )
        sections = [
            Section("Turns (in order)", turn_rows, fields(TurnLine)),
            Section("Tool calls", tool_rows, fields(TurnToolLine)),
            Section("Reviews", review_rows, fields(TurnReviewLine)),
            Section("Subagents", tree, fields(SubagentTreeLine)),
        ]
        return Output(msgspec.to_builtins(detail), sections, [head])

    return build


@_section("tools")
def tools_cmd(
    opts: Options,
    slowest: Annotated[
        int | None, typer.Option("--slowest", help="List the N slowest single calls instead.")
    ] = None,
) -> Build:
    """Per tool kind and name: calls, failures, p50/p95/p99 duration (or --slowest N)."""

    def build(store: Store, filters: Filters) -> Output:
        from agentlytics.query import reports
        from agentlytics.query.rows import SlowCallRow, ToolRow

        if slowest is not None:
            rows = reports.slowest_calls(store, filters, max(slowest, 0))
            return flat(f"The {slowest} slowest tool calls", list(rows), fields(SlowCallRow))
        return flat("Tool calls by kind", list(reports.tools(store, filters)), fields(ToolRow))

    return build


@_section("approvals")
def approvals_cmd(
    opts: Options,
    by: Annotated[
        str,
        typer.Option(
            "--by", help="subject (per subject and reviewer), source (command_source) or risk."
        ),
    ] = "subject",
) -> Build:
    """Reviews: approved / denied / aborted / timed out and latency, per subject and reviewer
    (--by source: per command_source; --by risk: guardian risk levels)."""
    if by not in ("subject", "source", "risk"):
        fail(f"unknown --by {by!r}: use subject, source or risk")

    def build(store: Store, filters: Filters) -> Output:
        from agentlytics.query import reports
        from agentlytics.query.rows import ApprovalRow, ApprovalSourceRow, GuardianRiskRow

        if by == "source":
            rows: list[object] = list(reports.approval_sources(store, filters))
            return flat("Command approvals by command_source", rows, fields(ApprovalSourceRow))
        if by == "risk":
            rows = list(reports.guardian_risk(store, filters))
            return flat("Guardian reviews by risk level", rows, fields(GuardianRiskRow))
        rows = list(reports.approvals(store, filters))
        return flat("Reviews by subject and reviewer", rows, fields(ApprovalRow))

    return build


def _simple(name: str, title: str, doc: str) -> None:
    def command(opts: Options) -> Build:
        def build(store: Store, filters: Filters) -> Output:
            from agentlytics.query import reports, rows

            fn = getattr(reports, name)
            types: dict[str, type[msgspec.Struct]] = {
                "subagents": rows.SubagentRow,
                "hooks": rows.HookRow,
                "compactions": rows.CompactionRow,
            }
            row_type = types[name]
            out = flat(title, list(fn(store, filters)), fields(row_type))
            if name != "hooks":
                out.notes += unpriced_note(store, filters)
            return out

        return build

    _section(name, doc=doc)(command)


_simple(
    "subagents",
    "Subagents: parent -> child",
    "Per parent -> child thread: turns, tokens, cost, tool calls (costliest first).",
)
_simple("hooks", "Hooks", "One row per hook (name, source): runs by outcome, turns.")
_simple(
    "compactions",
    "Compactions by kind",
    "One row per compaction kind: outcomes, duration, context tokens, standalone cost.",
)


@_section("goals")
def goals_cmd(
    opts: Options,
    limit: Annotated[int, typer.Option("--limit", help="Largest N goals; 0 = all.")] = 50,
) -> Build:
    """One row per goal (largest first): status, cleared, tokens and time accounted, cost."""

    def build(store: Store, filters: Filters) -> Output:
        from agentlytics.query import reports
        from agentlytics.query.rows import GoalRow

        rows = reports.goals(store, filters, limit=limit or None)
        out = flat("Goals (largest first)", list(rows), fields(GoalRow))
        out.notes += unpriced_note(store, filters)
        return out

    return build


@report_app.command("attribution")
def attribution_cmd(
    repo: Annotated[Path, typer.Option("--repo", help="Git repository to attribute.")],
    warehouse: Annotated[
        str, typer.Option("--warehouse", help="DuckDB warehouse with fingerprint events.")
    ] = DEFAULT_WAREHOUSE,
    revisions: Annotated[
        str | None,
        typer.Option("--revisions", help="Commits to attribute: REV, or SINCE..UNTIL."),
    ] = None,
    fmt: FormatOpt = "table",
    limit: Annotated[int, typer.Option("--limit", help="Rows per table (table format).")] = 20,
) -> None:
    """Share of the repository's added lines that match lines the agent wrote."""
    import msgspec

    from agentlytics.query.render import FORMATS, Output, Section, write
    from agentlytics.query.rows import AuthorLine
    from agentlytics.warehouse import attribution

    if fmt not in FORMATS:
        fail(f"unknown --format {fmt!r}: use one of {', '.join(FORMATS)}")
    since, until = None, revisions
    if revisions is not None and ".." in revisions:
        since, until = revisions.split("..", 1)
    try:
        result = attribution.attribute(repo, Path(warehouse), since or None, until or None)
    except attribution.AttributionError as exc:
        fail(str(exc))
    if fmt == "table":
        attribution.render_report(result, limit=limit)
        return
    if fmt == "json":
        typer.echo(attribution.report_json(result).decode(), nl=False)
        return
    authors = [AuthorLine(**msgspec.structs.asdict(a)) for a in result.authors]
    write(
        Output(msgspec.to_builtins(result), [Section("Authors", authors, fields(AuthorLine))]),
        fmt,
    )


def migrate(warehouse: str) -> None:
    """Upgrade a warehouse file to the current layout in place (``agentlytics migrate``)."""
    import duckdb

    from agentlytics.warehouse.schema import SCHEMA_VERSION
    from agentlytics.warehouse.store import SchemaError, ensure_schema, schema_version

    path = Path(warehouse)
    if not path.is_file():
        fail(f"no warehouse at {warehouse}")
    try:
        con = duckdb.connect(warehouse)
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        fail(f"cannot open {warehouse}: {first}")
    try:
        if schema_version(con) is None:
            fail(f"{warehouse} is not an agentlytics warehouse (it has no events table)")
        found = ensure_schema(con)
        count = con.execute("SELECT count(*) FROM events").fetchone()
    except (SchemaError, duckdb.Error) as exc:
        fail(str(exc).splitlines()[0])
    finally:
        con.close()
    events = count[0] if count else 0
    if found == SCHEMA_VERSION:
        typer.echo(f"{warehouse}: already at schema {SCHEMA_VERSION} ({events} events)")
    else:
        typer.echo(f"{warehouse}: upgraded schema {found} -> {SCHEMA_VERSION} ({events} events)")
