"""The `agentlytics` command line: one entry point, one sub-command per job.

Sub-commands are thin: they parse options, import the module that does the work (lazily, so
``agentlytics --help`` stays fast) and print. Anything written to stdout by ``--events -`` is
events only; reports and progress go to stderr in that case.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from agentlytics.observe.tap import Observer

app = typer.Typer(
    name="agentlytics",
    help="Analytics for coding agents: replay captures, tap a live app-server, deliver, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Analytics for coding agents (Codex app-server)."""


@app.command()
def replay(
    captures: Annotated[list[Path], typer.Argument(help="Capture files (JSONL) to replay.")],
    events: Annotated[
        str | None,
        typer.Option("--events", help="Also write every event as JSONL to PATH ('-' = stdout)."),
    ] = None,
    warehouse: Annotated[
        Path, typer.Option("--warehouse", help="DuckDB warehouse file to store events in.")
    ] = Path("agentlytics.duckdb"),
    no_warehouse: Annotated[
        bool, typer.Option("--no-warehouse", help="Do not store events; report from memory.")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit non-zero if any input was dropped.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No report.")] = False,
) -> None:
    """Replay recorded app-server traffic into analytics events and report on them."""
    from rich.console import Console
    from rich.progress import Progress

    from agentlytics.replay import replay as run_replay
    from agentlytics.sinks.base import Sink
    from agentlytics.sinks.duckdb import DuckDBSink
    from agentlytics.sinks.jsonl import JsonlSink
    from agentlytics.warehouse import reports

    for capture in captures:
        if str(capture) != "-" and not capture.is_file():
            raise typer.BadParameter(f"no such capture file: {capture}", param_hint="CAPTURE")
    console = Console(stderr=events == "-")
    sinks: list[Sink] = []
    jsonl = JsonlSink(events) if events else None
    if jsonl is not None:
        sinks.append(jsonl)
    # The report needs a warehouse; with --no-warehouse it is an in-memory one, skipped if quiet.
    store = (
        None if (no_warehouse and quiet) else DuckDBSink(":memory:" if no_warehouse else warehouse)
    )
    if store is not None:
        sinks.append(store)
    try:
        if len(captures) > 1:
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("replaying", total=len(captures))
                result = run_replay(captures, sinks, lambda _: progress.advance(task))
        else:
            result = run_replay(captures, sinks)
        if jsonl is not None:
            jsonl.close()
        if store is not None and not quiet:
            where = "memory" if no_warehouse else str(warehouse)
            console.print(
                f"[bold]Replayed[/bold] {result.files} capture(s), {result.lines} lines → "
                f"{result.facts} facts → {result.events} events; "
                f"{store.stored} new in {where} ({store.warehouse.count()} stored in all)."
            )
            reports.render(reports.summary(store.warehouse), console)
            _render_drops(console, result.drops.counts, result.reducer_drops, result.evictions)
    finally:
        if store is not None:
            store.close()
    if strict and (result.drops.total or result.reducer_drops):
        raise typer.Exit(code=1)


def _render_drops(
    console: object, wire: dict[str, int], reducer: dict[str, int], evictions: dict[str, int]
) -> None:
    from rich.console import Console
    from rich.table import Table

    assert isinstance(console, Console)
    if not (wire or reducer or evictions):
        console.print("No input dropped.")
        return
    table = Table(title="Dropped input (counted, with reason)", title_justify="left")
    table.add_column("stage")
    table.add_column("reason")
    table.add_column("count", justify="right")
    for stage, counts in (("wire", wire), ("reducer", reducer), ("evicted", evictions)):
        for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            table.add_row(stage, reason, str(n))
    console.print(table)


@app.command(
    "tap",
    context_settings={"allow_interspersed_args": False},
)
def tap(
    command: list[str] = typer.Argument(  # noqa: B008
        None, metavar="-- CMD [ARGS...]", help="The server to run, e.g. `codex app-server`."
    ),
    record: Path | None = typer.Option(  # noqa: B008
        None,
        "--record",
        metavar="CAPTURE",
        help="Write every relayed message to this file.",
    ),
    events: str | None = typer.Option(
        None, "--events", metavar="PATH", help="Write the emitted analytics events to PATH."
    ),
    warehouse: Path | None = typer.Option(  # noqa: B008
        None, "--warehouse", metavar="PATH", help="Store events in this DuckDB warehouse."
    ),
    no_warehouse: bool = typer.Option(
        False, "--no-warehouse", help="Do not store events in a warehouse."
    ),
    send: str | None = typer.Option(
        None, "--send", metavar="URL", help="Send events to this collector URL."
    ),
) -> None:
    """Relay stdio to and from CMD byte for byte (a live `codex app-server`) and observe it.

    Exits with CMD's exit code (128+N if it died of signal N); SIGINT/SIGTERM/SIGHUP are
    forwarded to it.
    """
    from agentlytics.observe import tap as tap_mod

    if warehouse is not None and no_warehouse:
        typer.echo("agentlytics tap: --warehouse and --no-warehouse exclude each other", err=True)
        raise typer.Exit(2)
    if events == "-":
        typer.echo(
            "agentlytics tap: --events - is not allowed: stdout carries the server's JSON-RPC "
            "to the client; write events to a file (--events PATH)",
            err=True,
        )
        raise typer.Exit(2)
    analytics = _live_observer(events, None if no_warehouse else warehouse, send)
    raise typer.Exit(tap_mod.main_tap(command or [], record=record, analytics=analytics))


def _live_observer(events: str | None, warehouse: Path | None, send: str | None) -> Observer | None:
    """The tap's live pipeline, writing to the sinks the options name (None: record only)."""
    from agentlytics.sinks.base import Sink

    sinks: list[Sink] = []
    if events is not None:
        from agentlytics.sinks.jsonl import JsonlSink

        sinks.append(JsonlSink(events))
    if warehouse is not None:
        from agentlytics.sinks.duckdb import DuckDBSink

        sinks.append(DuckDBSink(warehouse))
    if send is not None:
        typer.echo("agentlytics tap: --send is not available yet", err=True)
        raise typer.Exit(2)
    if not sinks:
        return None
    from agentlytics.live import LiveObserver

    return LiveObserver(sinks)


@app.command()
def attribute(
    repo: Annotated[Path, typer.Option("--repo", help="Git repository to attribute.")],
    since: Annotated[
        str | None, typer.Option("--since", help="Start revision (exclusive): SINCE..UNTIL.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="End revision (default HEAD).")
    ] = None,
    warehouse: Annotated[
        Path, typer.Option("--warehouse", help="DuckDB warehouse with fingerprint events.")
    ] = Path("agentlytics.duckdb"),
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the full report as JSON here.")
    ] = None,
    time_slack: Annotated[
        int,
        typer.Option(
            "--time-slack",
            help="Seconds a commit may predate the turn that accepted its lines; -1: no limit.",
        ),
    ] = 24 * 3600,
    limit: Annotated[int, typer.Option("--limit", help="Rows per table on stdout.")] = 20,
) -> None:
    """Share of added lines in REPO's commits that match lines the agent wrote."""
    from agentlytics.warehouse import attribution

    try:
        report = attribution.attribute(
            repo, warehouse, since, until, time_slack_s=None if time_slack < 0 else time_slack
        )
    except attribution.AttributionError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    attribution.render_report(report, limit=limit)
    if json_out is not None:
        json_out.write_bytes(attribution.report_json(report))


@app.command()
def audit(
    events: Annotated[Path, typer.Argument(help="Events JSONL ({event_type, event_params}/line).")],
    capture: Annotated[
        list[Path] | None,
        typer.Option("--capture", help="Capture the events came from (repeatable)."),
    ] = None,
    secret: Annotated[
        list[str] | None, typer.Option("--secret", help="Another string that must not leak.")
    ] = None,
) -> None:
    """Exit non-zero if events hold raw code, paths, remote URLs or credentials."""
    from agentlytics.fingerprints.audit import KnownSecrets, audit_events, load_events

    for path in [events, *(capture or [])]:
        if not path.is_file():
            typer.echo(f"error: no such file: {path}", err=True)
            raise typer.Exit(2)
    known = KnownSecrets()
    for path in capture or []:
        known.add_capture(path)
    for value in secret or []:
        known.add(value, "given secret")
    loaded, findings = load_events(events)
    findings += audit_events(loaded, known)
    if findings:
        for finding in findings:
            typer.echo(str(finding))
        typer.echo(f"audit FAILED: {len(findings)} finding(s) in {len(loaded)} events", err=True)
        raise typer.Exit(1)
    typer.echo(f"audit OK: {len(loaded)} events, {len(known)} known secrets checked, no findings")


@app.command()
def schema(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the schema to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of every event family (selected by event_type)."""
    import json

    from agentlytics.events.schema import catalog_json_schema

    text = json.dumps(catalog_json_schema(), indent=2, sort_keys=False) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text)
        typer.echo(f"wrote {out}", err=True)


def main() -> None:
    """Console-script entry point."""
    app()
