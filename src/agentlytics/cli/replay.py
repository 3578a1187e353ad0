"""``agentlytics replay``: captures into events, into a warehouse, a collector or OTLP."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from agentlytics.cli.common import (
    check_captures,
    load_config,
    render_drops,
    render_samples,
    use_fingerprint_key,
)


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
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Also list sample drops with their file:line."),
    ] = False,
    send: Annotated[
        str | None,
        typer.Option(
            "--send",
            metavar="URL",
            help="Deliver the events to a collector/backend at URL (background delivery, "
            "spool, retries) instead of a local warehouse.",
        ),
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", help="Bearer token for --send (or configured).")
    ] = None,
    spool: Annotated[
        Path | None,
        typer.Option(
            "--spool", help="Spool directory for --send or --otlp (default: a temporary one)."
        ),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Configuration file (agentlytics.toml).")
    ] = None,
    otlp: Annotated[
        str | None,
        typer.Option(
            "--otlp",
            metavar="ENDPOINT",
            help="Export the events as OpenTelemetry logs and metrics to an OTLP/HTTP endpoint "
            "(e.g. http://127.0.0.1:4318; background delivery, spool, retries) instead of a "
            "local warehouse.",
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="Worker processes, one capture file each (default: every core, when the "
            "captures total 8 MB or more). Output is identical to --jobs 1.",
        ),
    ] = None,
) -> None:
    """Replay recorded app-server traffic into analytics events and report on them."""
    use_fingerprint_key(config)
    if otlp is not None:
        _replay_otlp(captures, otlp, send, spool, config, quiet, strict)
        return
    if send is not None:
        check_captures(captures)
        _replay_send(captures, send, token, spool, config, quiet, strict, verbose)
        return
    from rich.console import Console
    from rich.progress import Progress

    from agentlytics.errors import failing, open_warehouse, output_file
    from agentlytics.query.render import write
    from agentlytics.query.store import DuckDBStore
    from agentlytics.query.summary import replay_summary
    from agentlytics.replay import replay as run_replay
    from agentlytics.sinks.base import Sink
    from agentlytics.sinks.config import DuckDBSinkConfig, JsonlSinkConfig, from_config

    check_captures(captures)
    import sys

    stream = sys.stderr if events == "-" else sys.stdout
    # Piped, the tables are as wide as their content, so a name is never cut (``command_ex…``);
    # on a terminal, its width (as ``report`` does).
    console = Console(file=stream, width=None if stream.isatty() else 100_000)
    sinks: list[Sink] = []
    jsonl = None
    if events:
        output_file(events, "--events")
        with failing(f"cannot write --events {events}", "pass --events a writable path"):
            jsonl = from_config(JsonlSinkConfig(events))
    if jsonl is not None:
        sinks.append(jsonl)
    # The report needs a warehouse; with --no-warehouse it is an in-memory one, skipped if quiet.
    store = (
        None
        if (no_warehouse and quiet)
        else from_config(DuckDBSinkConfig(":memory:"))
        if no_warehouse
        else open_warehouse(warehouse, say=lambda text: typer.echo(text, err=True))
    )
    if store is not None:
        sinks.append(store)
    run_replay = _replayer(captures, jobs, run_replay)
    try:
        if len(captures) > 1:
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("replaying", total=len(captures))
                result = run_replay(captures, sinks, lambda _: progress.advance(task))
        else:
            result = run_replay(captures, sinks)
        if jsonl is not None:
            jsonl.close()
        if store is not None and not quiet and not (result.rejected and not result.files):
            where = "memory" if no_warehouse else str(warehouse)
            console.print(
                f"[bold]Replayed[/bold] {result.files} capture(s), {result.lines} lines → "
                f"{result.facts} facts → {result.events} events; "
                f"{store.stored} new in {where} ({store.warehouse.count()} stored in all)."
            )
            console.print(
                "The tables below cover this run only."
                if no_warehouse
                else f"The tables below cover the whole warehouse {where}, not only this run."
            )
            summary = replay_summary(DuckDBStore.on_connection(store.warehouse.con, where))
            write(summary, "table", out=stream)
            render_drops(
                console,
                result.drops.counts,
                result.reducer_drops,
                result.evictions,
                refused=len(result.rejected),
            )
            from agentlytics.replay import print_repo_sources

            print_repo_sources(console, result)
    finally:
        if store is not None:
            store.close()
    failed = strict and bool(result.drops.total or result.reducer_drops)
    if (verbose or failed) and result.drops.samples:
        render_samples(console, result.drops.samples)
    for path, why in result.rejected:
        typer.echo(f"agentlytics: error: {path} is not a capture file: {why}", err=True)
    if failed or result.rejected:
        raise typer.Exit(code=1)


def _replayer(captures: list[Path], jobs: int | None, serial: Any) -> Any:
    """The replay function for ``--jobs`` (one process per file when more than one job)."""
    from agentlytics.replay_jobs import auto_jobs, replay_parallel

    n = auto_jobs(captures) if jobs is None else jobs
    if n <= 1 or len(captures) <= 1:
        return serial
    return lambda c, s, done=None: replay_parallel(c, s, n, done)


def _replay_otlp(
    captures: list[Path],
    endpoint: str,
    send: str | None,
    spool: Path | None,
    config: Path | None,
    quiet: bool,
    strict: bool,
) -> None:
    from agentlytics.config import Config
    from agentlytics.otel.replay import replay_otlp

    if send is not None:
        raise typer.BadParameter("use --send or --otlp, not both", param_hint="--otlp")
    check_captures(captures)
    cfg = load_config(config)
    assert isinstance(cfg, Config)
    done = replay_otlp(captures, endpoint, cfg, spool=spool)
    if not quiet:
        from rich.console import Console

        console = Console(stderr=True)
        console.print(done.lines[0], markup=False, highlight=False, soft_wrap=True)
        render_drops(
            console,
            done.wire_drops,
            done.reducer_drops,
            done.evictions,
            done.delivery_drops,
            refused=len(done.refused),
        )
        for line in done.lines[1:]:
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    for path, why in done.refused:
        typer.echo(f"agentlytics: error: {path} is not a capture file: {why}", err=True)
    if not done.complete or (strict and done.input_dropped) or done.refused:
        raise typer.Exit(code=1)


def _replay_send(
    captures: list[Path],
    url: str,
    token: str | None,
    spool: Path | None,
    config: Path | None,
    quiet: bool,
    strict: bool = False,
    verbose: bool = False,
) -> None:
    import shutil
    import sqlite3
    import tempfile

    import msgspec
    from rich.console import Console

    from agentlytics.config import Config
    from agentlytics.delivery.send import outcome
    from agentlytics.delivery.spool import SpoolError
    from agentlytics.library.worker import BackgroundDelivery
    from agentlytics.replay import submit_captures

    cfg = load_config(config)
    assert isinstance(cfg, Config)
    console = Console(stderr=True)
    temp = None
    if spool is None:
        temp = tempfile.mkdtemp(prefix="agentlytics-send-")
    delivery_cfg = msgspec.structs.replace(
        cfg.delivery,
        endpoint=url,
        token=cfg.delivery.token if token is None else token,
        spool=str(spool) if spool is not None else temp,
        journal=False,  # the captures are the journal: a killed replay is simply run again
    )
    try:
        delivery = BackgroundDelivery.from_config(delivery_cfg)
    except (OSError, SpoolError, sqlite3.Error) as exc:
        from agentlytics.errors import UserError, os_reason

        raise UserError(
            f"cannot use the spool {delivery_cfg.spool}: {os_reason(exc)}; "
            "pass --spool a writable directory"
        ) from exc
    try:
        result = submit_captures(captures, delivery)
        flushed = delivery.flush(delivery_cfg.flush_timeout)
    finally:
        delivery.close(1.0)
    stats = {**delivery.stats(), "flushed": flushed}
    report = outcome(result, stats, Path(delivery_cfg.spool))
    if not quiet:
        console.print(report.lines[0], markup=False, highlight=False, soft_wrap=True)
        render_drops(
            console,
            result.drops.counts,
            stats["reducer_drops"],
            stats["evictions"],
            report.delivery_drops,
            refused=len(result.rejected),
        )
        for line in report.lines[1:]:
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    if temp is not None and report.complete:
        shutil.rmtree(temp, ignore_errors=True)
    input_dropped = result.drops.total or sum(stats["reducer_drops"].values())
    failed = strict and bool(input_dropped)
    if (verbose or failed) and result.drops.samples:
        render_samples(console, result.drops.samples)
    for path, why in result.rejected:
        typer.echo(f"agentlytics: error: {path} is not a capture file: {why}", err=True)
    if not report.complete or failed or result.rejected:
        raise typer.Exit(code=1)
