"""The `agentlytics` command line: one entry point, one sub-command per job.

Sub-commands are thin: they parse options, import the module that does the work (lazily, so
``agentlytics --help`` stays fast) and print. Anything written to stdout by ``--events -`` is
events only; reports and progress go to stderr in that case.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from agentlytics.library.delivery import Delivery
    from agentlytics.observe.tap import Observer

app = typer.Typer(
    name="agentlytics",
    help="Analytics for coding agents: replay captures, tap a live app-server, deliver, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from agentlytics import __version__

        typer.echo(f"agentlytics {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an error, not just its line.")
    ] = False,
) -> None:
    """Analytics for coding agents (Codex app-server)."""
    if debug:
        from agentlytics import errors

        errors.DEBUG = True


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
        typer.Option("--spool", help="Spool directory for --send (default: a temporary one)."),
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
    _use_fingerprint_key(config)
    if otlp is not None:
        _replay_otlp(captures, otlp, send, spool, config, quiet)
        return
    if send is not None:
        _check_captures(captures)
        _replay_send(captures, send, token, spool, config, quiet, strict)
        return
    from rich.console import Console
    from rich.progress import Progress

    from agentlytics.errors import failing, open_warehouse, output_file
    from agentlytics.replay import replay as run_replay
    from agentlytics.sinks.base import Sink
    from agentlytics.sinks.duckdb import DuckDBSink
    from agentlytics.sinks.jsonl import JsonlSink
    from agentlytics.warehouse import reports

    _check_captures(captures)
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
            jsonl = JsonlSink(events)
    if jsonl is not None:
        sinks.append(jsonl)
    # The report needs a warehouse; with --no-warehouse it is an in-memory one, skipped if quiet.
    store = (
        None
        if (no_warehouse and quiet)
        else DuckDBSink(":memory:")
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
            reports.render(reports.summary(store.warehouse), console)
            _render_drops(console, result.drops.counts, result.reducer_drops, result.evictions)
            from agentlytics.replay import print_repo_sources

            print_repo_sources(console, result)
    finally:
        if store is not None:
            store.close()
    failed = strict and bool(result.drops.total or result.reducer_drops)
    if (verbose or failed) and result.drops.samples:
        _render_samples(console, result.drops.samples)
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


def _load_config(path: Path | None) -> object:
    from agentlytics.config import ConfigError, load

    try:
        return load(path)
    except ConfigError as exc:
        if path is None or exc.variable:  # the environment (or $AGENTLYTICS_CONFIG) is at fault
            from agentlytics.errors import UserError

            raise UserError(f"configuration: {exc}", code=2) from exc
        raise typer.BadParameter(str(exc), param_hint="--config") from exc


def _replay_otlp(
    captures: list[Path],
    endpoint: str,
    send: str | None,
    spool: Path | None,
    config: Path | None,
    quiet: bool,
) -> None:
    from agentlytics.config import Config
    from agentlytics.otel.replay import replay_otlp

    if send is not None:
        raise typer.BadParameter("use --send or --otlp, not both", param_hint="--otlp")
    _check_captures(captures)
    cfg = _load_config(config)
    assert isinstance(cfg, Config)
    code = replay_otlp(captures, endpoint, cfg, spool=spool, quiet=quiet)
    if code:
        raise typer.Exit(code=code)


def _use_fingerprint_key(config: Path | None) -> None:
    """Apply ``[fingerprints] key`` (opt-in keyed hashes) before any event is made."""
    from agentlytics.config import Config
    from agentlytics.fingerprints.diff import set_fingerprint_key

    cfg = _load_config(config)
    assert isinstance(cfg, Config)
    set_fingerprint_key(cfg.fingerprints.key or None)


def _check_captures(captures: list[Path]) -> None:
    for capture in captures:
        if str(capture) == "-" or capture.is_file():
            continue
        if capture.is_dir():
            from agentlytics.errors import UserError

            raise UserError(
                f"{capture} is a directory; pass the capture files in it, e.g. {capture}/*.jsonl",
                code=2,
            )
        raise typer.BadParameter(f"no such capture file: {capture}", param_hint="CAPTURE")


def _render_samples(console: object, samples: list[Any]) -> None:
    """The first few drops of each reason, with the file:line they came from."""
    from rich.console import Console
    from rich.table import Table

    assert isinstance(console, Console)
    table = Table(title="Sample drops (first of each reason)", title_justify="left")
    for column in ("where", "reason", "detail"):
        table.add_column(column, overflow="fold")
    for drop in samples:
        table.add_row(drop.where or "-", drop.reason, drop.detail[:160])
    console.print(table)


def _replay_send(
    captures: list[Path],
    url: str,
    token: str | None,
    spool: Path | None,
    config: Path | None,
    quiet: bool,
    strict: bool = False,
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

    cfg = _load_config(config)
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
        _render_drops(
            console,
            result.drops.counts,
            stats["reducer_drops"],
            stats["evictions"],
            report.delivery_drops,
        )
        for line in report.lines[1:]:
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    if temp is not None and report.complete:
        shutil.rmtree(temp, ignore_errors=True)
    input_dropped = result.drops.total or sum(stats["reducer_drops"].values())
    if not report.complete or (strict and input_dropped):
        raise typer.Exit(code=1)


@app.command()
def collect(
    host: Annotated[str | None, typer.Option("--host", help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="TCP port.")] = None,
    warehouse: Annotated[
        Path | None, typer.Option("--warehouse", help="DuckDB file to store events in.")
    ] = None,
    token: Annotated[
        list[str] | None,
        typer.Option("--token", help="Accepted bearer token (repeatable; or configured)."),
    ] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Accept requests without a token (local tests).")
    ] = False,
    config: Annotated[
        Path | None, typer.Option("--config", help="Configuration file (agentlytics.toml).")
    ] = None,
    otlp: Annotated[
        str | None,
        typer.Option(
            "--otlp", metavar="ENDPOINT", help="Also export what is stored to an OTLP endpoint."
        ),
    ] = None,
    metrics_open: Annotated[
        bool, typer.Option("--metrics-open", help="Serve GET /metrics without the token.")
    ] = False,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            metavar="URL",
            help="Team store: postgresql://USER[:PASSWORD]@HOST[:PORT]/DB instead of a DuckDB "
            "file (several collectors may share it).",
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Collector processes (PostgreSQL store only).")
    ] = 1,
) -> None:
    """Receive events over HTTP (POST /codex/analytics-events/events) into a DuckDB file."""
    import msgspec

    from agentlytics.collector.serve import serve
    from agentlytics.config import Config

    cfg = _load_config(config)
    assert isinstance(cfg, Config)
    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if warehouse is not None:
        overrides["warehouse"] = str(warehouse)
    if token:
        overrides["tokens"] = list(token)
    if metrics_open:
        overrides["metrics_open"] = True
    if store is not None:
        overrides["warehouse"] = store
    collector = msgspec.structs.replace(cfg.collector, **overrides)
    if not collector.tokens and not no_auth:
        raise typer.BadParameter(
            "no token configured: pass --token (or AGENTLYTICS_COLLECTOR_TOKENS), or --no-auth",
            param_hint="--token",
        )
    _check_store(collector.warehouse, workers)
    if otlp is not None:
        if workers > 1:
            typer.echo("agentlytics collect: --otlp runs with one collector process", err=True)
            raise typer.Exit(code=2)
        from agentlytics.otel.collect import serve_exporting

        serve_exporting(collector, cfg, otlp, allow_no_auth=no_auth)
        return
    serve(collector, allow_no_auth=no_auth, workers=workers)


def _check_store(location: str, workers: int) -> None:
    """Before serving: a PostgreSQL store must answer and be migrated (else one line, exit 2)."""
    from agentlytics.warehouse import postgres

    if not postgres.is_postgres_url(location):
        if workers > 1:
            typer.echo("agentlytics collect: --workers needs a PostgreSQL --store", err=True)
            raise typer.Exit(code=2)
        return
    try:
        postgres.migrate_url(location)
    except postgres.StoreError as exc:
        typer.echo(f"agentlytics collect: {exc}", err=True)
        raise typer.Exit(code=2) from None


def _migrate_store(store: str) -> None:
    """``migrate --store URL``: create or upgrade a PostgreSQL store's schema."""
    from agentlytics.warehouse import postgres

    try:
        before, after = postgres.migrate_url(store)
    except postgres.StoreError as exc:
        typer.echo(f"agentlytics migrate: {exc}", err=True)
        raise typer.Exit(code=2) from None
    where = postgres.redact(store)
    if before == after:
        typer.echo(f"{where}: schema at version {after}, up to date.")
    else:
        typer.echo(f"{where}: schema migrated from version {before} to {after}.")


spool_app = typer.Typer(help="Inspect the delivery spool: backlog and quarantined events.")
app.add_typer(spool_app, name="spool")


def _spool_dir(spool: Path | None, config: Path | None) -> Path:
    from agentlytics.config import Config

    if spool is not None:
        return spool
    cfg = _load_config(config)
    assert isinstance(cfg, Config)
    return Path(cfg.delivery.spool).expanduser()


@spool_app.command("status")
def spool_status(
    spool: Annotated[Path | None, typer.Option("--spool", help="Spool directory.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Configuration file.")] = None,
    quarantined: Annotated[
        bool, typer.Option("--quarantined", help="List quarantined events with their reason.")
    ] = False,
) -> None:
    """Pending and quarantined events per spool slot."""
    from rich.console import Console
    from rich.table import Table

    from agentlytics.delivery.spool import Spool, iter_quarantined, slots

    directory = _spool_dir(spool, config)
    console = Console()
    table = Table(title=f"Spool {directory}", title_justify="left")
    for column in ("slot", "pending", "quarantined"):
        table.add_column(column, justify="right" if column != "slot" else "left")
    for db in slots(directory):
        handle = Spool(db)
        try:
            counts = handle.counts()
        finally:
            handle.close()
        table.add_row(db.name, str(counts["pending"]), str(counts["quarantined"]))
    console.print(table)
    if quarantined:
        listing = Table(title="Quarantined events", title_justify="left")
        for column in ("slot", "seq", "event_type", "event_id", "reason"):
            listing.add_column(column)
        for db, q in iter_quarantined(directory):
            listing.add_row(db.name, str(q.seq), q.event_type, q.event_id[:16], q.reason)
        console.print(listing)


@spool_app.command("requeue")
def spool_requeue(
    spool: Annotated[Path | None, typer.Option("--spool", help="Spool directory.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Configuration file.")] = None,
) -> None:
    """Put quarantined events back in the send path (they go out with the next delivery)."""
    from agentlytics.delivery.spool import Spool, slots

    total = 0
    for db in slots(_spool_dir(spool, config)):
        handle = Spool(db)
        try:
            total += handle.requeue()
        finally:
            handle.close()
    typer.echo(f"requeued {total} event(s)")


def _render_drops(
    console: object,
    wire: dict[str, int],
    reducer: dict[str, int],
    evictions: dict[str, int],
    delivery: dict[str, int] | None = None,
) -> None:
    from rich.console import Console
    from rich.table import Table

    assert isinstance(console, Console)
    delivery = delivery or {}
    if not (wire or reducer or evictions or delivery):
        console.print("No input dropped.")
        return
    table = Table(title="Dropped input (counted, with reason)", title_justify="left")
    table.add_column("stage")
    table.add_column("reason")
    table.add_column("count", justify="right")
    stages = (("wire", wire), ("reducer", reducer), ("evicted", evictions), ("delivery", delivery))
    for stage, counts in stages:
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
    token: str | None = typer.Option(
        None, "--token", help="Bearer token for --send (default: configured / AGENTLYTICS_TOKEN)."
    ),
    otlp: str | None = typer.Option(
        None, "--otlp", metavar="ENDPOINT", help="Export events to this OTLP/HTTP endpoint."
    ),
) -> None:
    """Relay stdio to and from CMD byte for byte (a live `codex app-server`) and observe it.

    Exits with CMD's exit code (128+N if it died of signal N); SIGINT/SIGTERM/SIGHUP are
    forwarded to it.
    """
    from agentlytics.errors import UserError
    from agentlytics.observe import tap as tap_mod

    try:
        _use_fingerprint_key(None)
    except (UserError, typer.BadParameter) as exc:  # the agent must start all the same
        typer.echo(f"agentlytics tap: {exc}; relaying anyway", err=True)
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
    analytics = _live_observer(events, None if no_warehouse else warehouse, send, token, otlp)
    raise typer.Exit(tap_mod.main_tap(command or [], record=record, analytics=analytics))


def _live_observer(
    events: str | None,
    warehouse: Path | None,
    send: str | None,
    token: str | None = None,
    otlp: str | None = None,
) -> Observer | None:
    """The tap's live pipeline, writing to the sinks the options name (None: record only)."""
    from agentlytics.sinks.base import Sink

    sinks: list[Sink] = []
    # Analytics must never keep the server from starting: a sink that cannot be opened (a
    # warehouse locked by another process, a read-only path) is reported and left out.
    try:
        if events is not None:
            from agentlytics.sinks.jsonl import JsonlSink

            sinks.append(JsonlSink(events))
        if warehouse is not None:
            from agentlytics.sinks.duckdb import DuckDBSink

            sinks.append(DuckDBSink(warehouse))
    except Exception as exc:
        typer.echo(
            f"agentlytics tap: cannot open an analytics sink ({exc}); relaying anyway", err=True
        )
    delivery: Delivery | None = None
    if send is not None:
        import msgspec

        from agentlytics.config import Config
        from agentlytics.library.worker import BackgroundDelivery

        cfg = _load_config(None)
        assert isinstance(cfg, Config)
        try:
            delivery = BackgroundDelivery.from_config(
                msgspec.structs.replace(
                    cfg.delivery,
                    endpoint=send,
                    token=cfg.delivery.token if token is None else token,
                )
            )
        except Exception as exc:  # the agent never pays for analytics failing
            typer.echo(
                f"agentlytics tap: analytics delivery disabled: cannot use the spool "
                f"{cfg.delivery.spool} ({exc}); relaying anyway",
                err=True,
            )
    if otlp is not None:
        from agentlytics.config import Config
        from agentlytics.otel.delivery import FanOut, otlp_delivery

        otlp_cfg = _load_config(None)
        assert isinstance(otlp_cfg, Config)
        try:
            exporter, _ = otlp_delivery(otlp_cfg, otlp)
        except Exception as exc:  # the agent never pays for analytics failing
            typer.echo(f"agentlytics tap: OTLP export disabled ({exc}); relaying anyway", err=True)
        else:
            delivery = exporter if delivery is None else FanOut([delivery, exporter])
    if not sinks and delivery is None:
        return None
    from agentlytics.live import LiveObserver

    return LiveObserver(sinks, delivery=delivery)


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

    _use_fingerprint_key(None)
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
        from agentlytics.errors import failing, output_file

        output_file(out, "--out")
        with failing(f"cannot write --out {out}", "pass --out a writable path"):
            out.write_text(text)
        typer.echo(f"wrote {out}", err=True)


def _add_report() -> None:
    from agentlytics.query.command import report_app

    app.add_typer(report_app, name="report")


_add_report()


@app.command()
def migrate(
    warehouse: Annotated[
        Path, typer.Option("--warehouse", help="DuckDB warehouse file to upgrade in place.")
    ] = Path("agentlytics.duckdb"),
    store: Annotated[
        str | None,
        typer.Option(
            "--store", metavar="URL", help="Instead: create/upgrade a postgresql:// store."
        ),
    ] = None,
) -> None:
    """Upgrade a warehouse written by an older agentlytics to the current layout."""
    if store is not None:
        _migrate_store(store)
        return
    from agentlytics.query.command import migrate as run_migrate

    run_migrate(str(warehouse))


@app.command()
def dashboard(
    warehouse: Annotated[
        str,
        typer.Option("--warehouse", help="Store to show: a DuckDB file or a postgresql:// URL."),
    ] = "agentlytics.duckdb",
    host: Annotated[str, typer.Option("--host", help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8766,
    token: Annotated[
        str | None,
        typer.Option(
            "--token", help="Required on every request; needed to bind a non-loopback host."
        ),
    ] = None,
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the page in the default browser.")
    ] = False,
    repo: Annotated[
        Path | None,
        typer.Option("--repo", help="Show the agent's share of this repository's added lines."),
    ] = None,
) -> None:
    """Serve a live, read-only web dashboard of a store on http://127.0.0.1:8766/."""
    from agentlytics.dashboard.serve import DashboardError, serve

    try:
        serve(warehouse, host=host, port=port, token=token, open_browser=open_browser, repo=repo)
    except DashboardError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def main() -> None:
    """Console-script entry point: errors are one line (``--debug`` shows the traceback)."""
    from agentlytics.errors import run

    run(app)
