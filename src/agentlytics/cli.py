"""The `agentlytics` command line: one entry point, one sub-command per job."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="agentlytics",
    help="Analytics for coding agents: replay captures, tap a live app-server, deliver, report.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Analytics for coding agents (Codex app-server)."""


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


def main() -> None:
    """Console-script entry point."""
    app()
