"""``agentlytics audit`` and ``schema``: what events may hold, and what they look like."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def audit(
    events: Annotated[Path, typer.Argument(help="Events JSONL ({event_type, event_params}/line).")],
    capture: Annotated[
        list[Path] | None,
        typer.Option("--capture", help="Capture the events came from (repeatable)."),
    ] = None,
    secret: Annotated[
        list[str] | None, typer.Option("--secret", help="Another string that must not leak.")
    ] = None,
    otlp: Annotated[
        bool,
        typer.Option("--otlp", help="Audit what the OTLP sink exports for these events instead."),
    ] = False,
) -> None:
    """Exit non-zero if events hold raw code, paths, remote URLs or credentials."""
    from agentlytics.fingerprints.audit import KnownSecrets, audit_events, audit_otlp, load_events

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
    findings += (audit_otlp if otlp else audit_events)(loaded, known)
    if findings:
        for finding in findings:
            typer.echo(str(finding))
        typer.echo(f"audit FAILED: {len(findings)} finding(s) in {len(loaded)} events", err=True)
        raise typer.Exit(1)
    typer.echo(f"audit OK: {len(loaded)} events, {len(known)} known secrets checked, no findings")


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
        from agentlytics.errors import failing, output_file

        output_file(out, "--out")
        with failing(f"cannot write --out {out}", "pass --out a writable path"):
            out.write_text(text)
        typer.echo(f"wrote {out}", err=True)
