"""Record real Codex captures for the test data, through ``agentlytics tap --record``.

Usage (from the repository root)::

    python tests/support/record_scenarios.py                       # the default set below
    python tests/support/record_scenarios.py shell_cancel --out /tmp/caps
    python tests/support/record_scenarios.py --list

Each scenario runs the real ``codex app-server`` (``$CODEX_BIN`` or the npm-installed
``--codex-version``, default the latest, see ``support/codex.py``) against the project's fake
model; the tap's capture is then checked (codex exited 0, the model script was followed
exactly, every record is a JSON message or a metadata line) and the throwaway workspace path is rewritten to ``/home/dev/session`` so no machine path is
committed. Prints one JSON status line per scenario; exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `support` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.codex import CODEX_VERSION, PREVIOUS_CODEX_VERSION, codex_bin, sanitize_capture
from support.scenarios import SCENARIOS, run_scenario

DATA = Path(__file__).resolve().parents[1] / "data"


def captures_dir(version: str) -> Path:
    """Where a version's captures live: ``captures`` (0.169.0, the first), else
    ``captures-<version>``."""
    return DATA / ("captures" if version == PREVIOUS_CODEX_VERSION else f"captures-{version}")


DEFAULT_SET = ("shell_cancel", "shell_accept_for_session")


def record(name: str, codex: str, out_dir: Path) -> dict[str, object]:
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        capture = Path(tmp) / f"{name}.jsonl"
        run = run_scenario(codex, SCENARIOS[name], capture)
        try:
            problems = []
            if run.exit_code != 0:
                problems.append(f"codex exited {run.exit_code}")
            if run.model_misses or run.unused_replies:
                problems.append(
                    f"model script not followed: misses={run.model_misses} "
                    f"unused={run.unused_replies}"
                )
            records = [json.loads(x) for x in capture.read_text().splitlines()]
            if any("msg" not in r and r.get("dir") != "meta" for r in records):
                problems.append("capture has non-JSON records")
            sanitize_capture(capture, run.ws)
            if str(run.ws.root) in capture.read_text():
                problems.append("workspace path survived sanitizing")
            status = "ok" if not problems else "failed: " + "; ".join(problems)
            if status == "ok":
                (out_dir / f"{name}.jsonl").write_bytes(capture.read_bytes())
            turn = run.turn_completed["params"]["turn"] if run.turn_completed else {}
            return {
                "scenario": name,
                "status": status,
                "messages": len(records),
                "turn_status": turn.get("status"),
                "seconds": round(run.seconds, 2),
                "out": str(out_dir / f"{name}.jsonl"),
            }
        finally:
            run.cleanup()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "scenarios", nargs="*", help=f"scenario names (default: {' '.join(DEFAULT_SET)})"
    )
    ap.add_argument("--codex-version", default=CODEX_VERSION, help="codex release to record")
    ap.add_argument("--out", type=Path, help="where captures are written (default: by version)")
    ap.add_argument("--list", action="store_true", help="list the scenarios")
    args = ap.parse_args(argv)
    if args.list:
        for name, sc in SCENARIOS.items():
            print(f"{name:28} {sc.summary}")
        return 0
    names = args.scenarios or list(DEFAULT_SET)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s) {unknown}; see --list")
    codex = codex_bin(args.codex_version)
    out = args.out or captures_dir(args.codex_version)
    failed = 0
    for name in names:
        result = record(name, codex, out)
        print(json.dumps(result))
        failed += result["status"] != "ok"
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
