"""Test helpers: repo paths, capture data, and running the real CLI as a subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
DATA = Path(__file__).resolve().parent / "data"
CAPTURES = DATA / "captures"


def capture_path(name: str) -> Path:
    return CAPTURES / f"{name}.jsonl"


def all_captures() -> list[Path]:
    return sorted(CAPTURES.glob("*.jsonl"))


#: Captures of later Codex releases, recorded from the same scenarios (``captures`` is 0.169.0).
LATER_CAPTURES = {"0.171.0": DATA / "captures-0.171.0"}


#: Real captures of scenarios beyond the shared set (``more-captures/<codex version>/``), kept
#: apart so the reports' and exporters' fixtures over the shared set stay as they are.
MORE_CAPTURES = DATA / "more-captures"


def more_captures() -> list[Path]:
    """Every capture under ``more-captures/``, of every recorded Codex version."""
    return sorted(MORE_CAPTURES.glob("*/*.jsonl"))


def versioned_captures() -> list[Path]:
    """Every recorded capture of every Codex version kept in the repository."""
    later = [p for d in LATER_CAPTURES.values() for p in sorted(d.glob("*.jsonl"))]
    return all_captures() + later


def capture_version(capture: Path) -> str:
    """The Codex release a capture of the repository's test data was recorded with."""
    for version, folder in LATER_CAPTURES.items():
        if capture.parent == folder:
            return version
    return "0.169.0"


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_cli(
    *args: str, cwd: Path | None = None, check: bool = True, **kw: Any
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m agentlytics ARGS`` for real and return the finished process."""
    proc = subprocess.run(
        [sys.executable, "-m", "agentlytics", *args],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
        **kw,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"agentlytics {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}"
        )
    return proc


def replay_events_bytes(*captures: Path) -> list[bytes]:
    """Canonical JSON of every event of replaying captures in-process, in order."""
    from agentlytics.replay import replay
    from agentlytics.sinks.base import Sink

    collected: list[bytes] = []

    class Collect:
        def write(self, batch: Any) -> None:
            collected.extend(e.body for e in batch)

        def close(self) -> None:
            pass

    sink: Sink = Collect()
    replay(list(captures), [sink])
    return collected


def replay_events(*captures: Path) -> list[dict[str, Any]]:
    """Events of replaying captures in-process, as plain JSON data."""
    return [json.loads(b) for b in replay_events_bytes(*captures)]


def track_call(record: dict[str, Any]) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """The ``track_*`` call a host makes for one capture record: (method name, args, kwargs),
    payloads as parsed dicts. Used by the library tests and the delivery benchmark alike."""
    msg, at = record["msg"], {"at_ms": record["ts_ms"]}
    to_server = record["dir"] == "client_to_server"
    method, rid = msg.get("method"), msg.get("id")
    if method is not None and rid is not None:
        name = "track_request" if to_server else "track_server_request"
        return name, (method, msg.get("params")), {"request_id": rid, **at}
    if method is not None:
        if to_server:  # a client notification (``initialized``)
            return "track_message", (record["dir"], msg), at
        return "track_notification", (method, msg.get("params")), at
    if to_server:
        return "track_server_response", (rid, msg.get("result")), {"error": msg.get("error"), **at}
    if "error" in msg:
        return "track_error_response", (rid, msg["error"]), at
    return "track_response", (rid, msg.get("result")), at


def drop_rows(text: str) -> dict[tuple[str, str], int]:
    """(stage, reason) -> count, from the "Dropped input" table the CLI prints."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"[│|]", line) if c.strip()]
        if len(cells) == 3 and cells[2].isdigit():
            rows[(cells[0], cells[1])] = int(cells[2])
    return rows
