"""`agentlytics report`: sections, the JSON key contract, every format, and clear failures."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from agentlytics.cli import app
from agentlytics.warehouse.store import Warehouse
from tests.helpers import run_cli

SECTIONS = (
    "overview",
    "daily",
    "weekly",
    "monthly",
    "sessions",
    "session",
    "tools",
    "approvals",
    "subagents",
    "goals",
    "hooks",
    "compactions",
    "attribution",
)

#: The issue's JSON contract: exactly these keys, in this order.
CONTRACT: dict[str, list[str]] = {
    "tools": ["kind", "tool_name", "calls", "failed", "p50_ms", "p95_ms", "p99_ms"],
    "approvals": [
        "subject",
        "reviewer",
        "reviews",
        "approved",
        "denied",
        "aborted",
        "timed_out",
        "p50_ms",
        "p95_ms",
    ],
    "sessions": [
        "thread_id",
        "started_at",
        "duration_ms",
        "turns",
        "total_tokens",
        "cost_usd",
        "tool_calls",
        "reviews",
        "subagents",
        "status",
    ],
    **{
        section: [
            key,
            "model",
            "turns",
            "input_tokens",
            "cached_input_tokens",
            "output_tokens",
            "reasoning_output_tokens",
            "total_tokens",
            "cost_usd",
        ]
        for section, key in (("daily", "day"), ("weekly", "week"), ("monthly", "month"))
    },
}

TYPES: dict[str, tuple[type, ...]] = {
    "kind": (str,),
    "tool_name": (str,),
    "subject": (str,),
    "reviewer": (str,),
    "thread_id": (str,),
    "day": (str,),
    "week": (str,),
    "month": (str,),
    "started_at": (str,),
    "status": (str, type(None)),
    "model": (str, type(None)),
    "p50_ms": (float, type(None)),
    "p95_ms": (float, type(None)),
    "p99_ms": (float, type(None)),
    "cost_usd": (float, type(None)),
    "duration_ms": (int, type(None)),
}

runner = CliRunner()


def _report(*args: str) -> str:
    result = runner.invoke(app, ["report", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_help_lists_every_section() -> None:
    out = _report("--help")
    for section in SECTIONS:
        assert f" {section} " in out, section


def test_section_help_shows_bracketed_text_literally() -> None:
    # rich markup once swallowed "[pricing]", leaving "(its  section)".
    out = runner.invoke(app, ["report", "daily", "--help"], terminal_width=200).stdout
    assert "(its [pricing] section)" in out


@pytest.mark.parametrize("section", sorted(CONTRACT))
def test_json_keys_are_the_contract_and_csv_parses_back_to_the_same_rows(
    section: str, warehouse: Path
) -> None:
    rows = json.loads(_report(section, "--warehouse", str(warehouse), "--format", "json"))
    assert isinstance(rows, list) and rows
    for row in rows:
        assert list(row) == CONTRACT[section]
        for key, value in row.items():
            assert isinstance(value, TYPES.get(key, (int,))), (key, value)
        assert row.get("model", None) is None  # not broken down
    if section == "approvals":
        assert {r["reviewer"] for r in rows} == {"user", "guardian"}
    parsed = list(
        csv.DictReader(io.StringIO(_report(section, "--warehouse", str(warehouse), "-f", "csv")))
    )
    assert len(parsed) == len(rows)
    for want, got in zip(rows, parsed, strict=True):
        assert list(got) == CONTRACT[section]
        for key, value in want.items():
            text = got[key]
            if value is None:
                assert text == ""
            elif isinstance(value, float):
                assert float(text) == value
            elif isinstance(value, int):
                assert int(text) == value
            else:
                assert text == value


def test_breakdown_by_model(warehouse: Path) -> None:
    rows = json.loads(
        _report("daily", "--warehouse", str(warehouse), "-f", "json", "--breakdown", "model")
    )
    assert [r["model"] for r in rows] == ["gpt-5.5"]
    assert rows[0]["turns"] == 26 and rows[0]["cost_usd"] == pytest.approx(0.30794, rel=1e-12)


def test_every_other_section_in_every_format(warehouse: Path) -> None:
    thread = json.loads(_report("subagents", "--warehouse", str(warehouse), "-f", "json"))[0][
        "parent_thread_id"
    ]
    for args in (
        ("overview",),
        ("subagents",),
        ("goals",),
        ("hooks",),
        ("compactions",),
        ("session", thread),
        ("approvals", "--by", "source"),
        ("approvals", "--by", "risk"),
        ("tools", "--slowest", "2"),
    ):
        value = json.loads(_report(*args, "--warehouse", str(warehouse), "-f", "json"))
        assert value
        table = _report(*args, "--warehouse", str(warehouse))
        markdown = _report(*args, "--warehouse", str(warehouse), "-f", "markdown")
        assert markdown.startswith("### ") and "|---|" in markdown
        assert next(
            csv.reader(io.StringIO(_report(*args, "--warehouse", str(warehouse), "-f", "csv")))
        )
        assert "━" in table
    detail = json.loads(_report("session", thread, "--warehouse", str(warehouse), "-f", "json"))
    assert detail["thread_id"] == thread and detail["subagents"][0]["children"] == []


def test_piped_tables_never_cut_a_name(warehouse: Path) -> None:
    out = _report("tools", "--warehouse", str(warehouse))
    assert "collab_agent_tool_call" in out and "…" not in out
    sessions = _report("sessions", "--warehouse", str(warehouse))
    assert "01a20716-a302-7e31-bbf7-f17933fef9f1" in sessions
    # Nor is a line padded out to the table's width (the README shows these lines verbatim).
    for text in (out, sessions, _report("overview", "--warehouse", str(warehouse))):
        assert [line for line in text.splitlines() if line != line.rstrip()] == []


def test_unpriced_models_are_listed(tmp_path: Path, warehouse: Path) -> None:
    config = tmp_path / "agentlytics.toml"
    config.write_text('[pricing.models."other"]\ninput = 1.0\noutput = 2.0\n')
    # The bundled table knows gpt-5.5; a config cannot remove it, so make it unknown by
    # renaming the model in a copy of the warehouse.
    path = tmp_path / "renamed.duckdb"
    shutil.copy(warehouse, path)
    con = duckdb.connect(str(path))
    con.execute("UPDATE turns SET model = 'house-model-7'")
    con.close()
    out = _report("daily", "--warehouse", str(path), "--config", str(config))
    assert "unpriced models (cost shown as null/—): house-model-7" in out
    rows = json.loads(_report("daily", "--warehouse", str(path), "-f", "json"))
    assert rows[0]["cost_usd"] is None


def _v1_warehouse(path: Path, source: Path) -> None:
    """A warehouse as agentlytics wrote it before typed tables: events and JSON views."""
    con = duckdb.connect(str(path))
    con.execute((Path(__file__).parent / "v1_schema.sql").read_text())
    con.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
    con.execute("INSERT INTO events SELECT * FROM src.events")
    con.close()


def _fails(*args: str) -> str:
    proc = run_cli(*args, check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.slow
def test_failures_are_one_clear_line(tmp_path: Path, warehouse: Path) -> None:
    missing = tmp_path / "missing.duckdb"
    assert "no warehouse at" in _fails("report", "tools", "--warehouse", str(missing))
    junk = tmp_path / "junk.duckdb"
    junk.write_text("not a database\n")
    assert "is not a DuckDB warehouse file" in _fails("report", "daily", "--warehouse", str(junk))
    empty = tmp_path / "empty.duckdb"
    Warehouse(empty).close()
    assert "holds no events yet" in _fails("report", "sessions", "--warehouse", str(empty))
    old = tmp_path / "old.duckdb"
    _v1_warehouse(old, warehouse)
    line = _fails("report", "overview", "--warehouse", str(old))
    assert (
        "older than this agentlytics" in line and f"agentlytics migrate --warehouse {old}" in line
    )
    assert "cannot read time" in _fails(
        "report", "tools", "--warehouse", str(warehouse), "--since", "soon"
    )
    # The upgrade, then the same answers as a warehouse written by this version.
    proc = run_cli("migrate", "--warehouse", str(old))
    assert proc.stdout.strip() == f"{old}: upgraded schema 1 -> 2 (94 events)"
    upgraded = json.loads(
        run_cli("report", "overview", "--warehouse", str(old), "-f", "json").stdout
    )
    fresh = json.loads(_report("overview", "--warehouse", str(warehouse), "-f", "json"))
    assert upgraded == fresh
    assert (
        run_cli("migrate", "--warehouse", str(old))
        .stdout.strip()
        .endswith("already at schema 2 (94 events)")
    )


def _run_on_terminal(columns: int, *args: str) -> str:
    """The CLI's output on a real pseudo-terminal ``columns`` wide (colours stripped)."""
    import fcntl
    import os
    import pty
    import re
    import struct
    import subprocess
    import sys
    import termios

    from tests.helpers import cli_env

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {**cli_env(), "COLUMNS": str(columns), "TERM": "xterm"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentlytics", *args],
        stdin=follower, stdout=follower, stderr=follower, env=env,
    )  # fmt: skip
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(60) == 0
    text = b"".join(chunks).decode().replace("\r\n", "\n")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def _columns(table: str, bar: str) -> list[str]:
    """Each column's text, its fragments over every line joined (undoing the folding)."""
    cols: list[str] = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip(bar).split(bar)]
        cols = cols or [""] * len(cells)
        for i, cell in enumerate(cells):
            cols[i] += cell
    return cols


def _first_table(text: str) -> tuple[str, str]:
    """The header lines and body lines of the first table in ``text``."""
    lines = text.splitlines()
    top = next(i for i, x in enumerate(lines) if x.startswith("┏"))
    mid = next(i for i, x in enumerate(lines) if x.startswith("┡"))
    end = next(i for i, x in enumerate(lines) if x.startswith("└"))
    return "\n".join(lines[top + 1 : mid]), "\n".join(lines[mid + 1 : end])


@pytest.mark.slow
@pytest.mark.parametrize(
    "args", [("sessions", "--limit", "3"), ("tools", "--slowest", "2"), ("daily",)]
)
def test_terminal_tables_fit_and_fold_names_without_cutting_any(
    warehouse: Path, args: tuple[str, ...]
) -> None:
    piped = _report(*args, "--warehouse", str(warehouse))
    shown = _run_on_terminal(80, "report", *args, "--warehouse", str(warehouse))
    assert max(len(line) for line in shown.splitlines()) <= 80
    assert "…" not in shown
    want_head, want_body = _first_table(piped)
    got_head, got_body = _first_table(shown)
    assert _columns(got_head, "┃") == _columns(want_head, "┃")
    assert _columns(got_body, "│") == _columns(want_body, "│")
    assert len(shown.splitlines()) > len(piped.splitlines())  # it did have to fold


#: The issue's ``tools.kind`` values.
TOOL_KINDS = {
    "command_execution",
    "file_change",
    "mcp_tool_call",
    "dynamic_tool_call",
    "collab_agent_tool_call",
    "web_search",
    "image_generation",
}


def test_tool_kinds_are_the_contract_names(tmp_path: Path, warehouse: Path) -> None:
    """The real captures have six tool kinds; the seventh, image generation (no capture has
    one), comes from the reducer. Together: exactly the issue's seven ``kind`` strings."""
    import msgspec

    from agentlytics.events.envelope import Envelope, event_id_for
    from agentlytics.protocol import types as t
    from tests.reducer.test_tools import lifecycle

    (image,) = lifecycle("imageGeneration", t.ImageGenerationItem(id="i", status="completed"))
    body = msgspec.json.encode(image)
    path = tmp_path / "w.duckdb"
    shutil.copy(warehouse, path)
    with Warehouse(path) as w:
        envelope = Envelope(
            event_id=event_id_for(body),
            event_type=image["event_type"],
            body=body,
            thread_id="thread-1",
            turn_id="turn-1",
            isolated=False,
        )
        assert w.insert([envelope]) == 1
    rows = json.loads(_report("tools", "--warehouse", str(path), "-f", "json"))
    assert {r["kind"] for r in rows} == TOOL_KINDS
    assert [r["tool_name"] for r in rows if r["kind"] == "image_generation"] == [
        image["event_params"]["tool_name"]
    ]
