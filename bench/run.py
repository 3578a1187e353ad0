"""Run every benchmark in bench/ in turn: ``python bench/run.py [--quick] [--json FILE]``.

Each ``bench_*.py`` prints its figures next to a baseline measured in the same run; then this
script prints issue 14's targets, each as measured / baseline / ratio / target / met, and with
``--json FILE`` writes them (and every benchmark's own figures) as JSON. ``--quick`` asks every
benchmark for a smaller, faster variant (a smoke test, not a measurement: its figures are not
comparable to the targets).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

#: The benchmarks that write figures with ``--json``: name -> file stem.
FIGURES = ("bench_replay", "bench_delivery", "bench_tap_latency", "bench_collector_memory")


def _get(figures: dict[str, dict[str, Any]], bench: str, key: str) -> float | None:
    value = figures.get(bench, {}).get(key)
    return float(value) if isinstance(value, int | float) else None


def targets(figures: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 14's targets from the benchmarks' figures: one row each."""
    r, d, t = "bench_replay", "bench_delivery", "bench_tap_latency"

    def row(
        key: str,
        what: str,
        measured: float | None,
        baseline: str,
        ratio: float | None,
        target: str,
        met: bool | None,
    ) -> dict[str, Any]:
        return {
            "key": key,
            "what": what,
            "measured": measured,
            "baseline": baseline,
            "ratio": ratio,
            "target": target,
            "met": met,
        }

    rows = []
    dec, rep = _get(figures, r, "decode_only_s"), _get(figures, r, "replay_warehouse_s")
    ratio = _get(figures, r, "replay_vs_decode")
    msgs = _get(figures, r, "messages") or 0
    rows.append(
        row(
            "replay_vs_decode",
            "P1 replay with the DuckDB write, msgs/s",
            msgs / rep if rep else None,
            f"orjson decode-only {msgs / dec:,.0f}/s" if dec else "—",
            ratio,
            "≥ 0.5×",
            None if ratio is None else ratio >= 0.5,
        )
    )
    speedup = _get(figures, r, "replay_jobs_speedup")
    one, many = _get(figures, r, "replay_jobs1_s"), _get(figures, r, "replay_jobsN_s")
    cores = int(_get(figures, r, "cores") or 1)
    rows.append(
        row(
            "replay_jobs_speedup",
            f"P1 replay --jobs {cores} of split files, s",
            many,
            f"--jobs 1 {one:.2f} s" if one else "—",
            speedup,
            "≥ 1.8× on 2 cores",
            None if speedup is None else speedup >= 1.8,
        )
    )
    growth = _get(figures, r, "replay_rss_growth_pct")
    end = _get(figures, r, "replay_rss_100pct_mb")
    start = _get(figures, r, "replay_rss_25pct_mb")
    rows.append(
        row(
            "replay_rss_growth_pct",
            "P1 RSS at 100% of a session without thread/closed, MB",
            end,
            f"at 25%: {start:,.0f} MB" if start else "—",
            growth,
            "± 10% (ratio = growth %)",
            None if growth is None else abs(growth) <= 10,
        )
    )
    e2e, minimal = (
        _get(figures, d, "e2e_events_per_s"),
        _get(figures, d, "minimal_path_events_per_s"),
    )
    ratio = _get(figures, d, "e2e_vs_minimal_path")
    rows.append(
        row(
            "e2e_vs_minimal_path",
            "P3 end to end events/s (reducer "
            f"{_get(figures, d, 'reducer_cpu_us_per_event') or 0:.1f} µs/event beside it)",
            e2e,
            f"minimal path {minimal:,.0f}/s" if minimal else "—",
            ratio,
            "≥ 0.5×",
            None if ratio is None else ratio >= 0.5,
        )
    )
    busy, posthog = (
        _get(figures, d, "track_p99_busy_us"),
        _get(figures, d, "posthog_capture_p99_us"),
    )
    ratio = _get(figures, d, "track_p99_vs_posthog_busy")
    rows.append(
        row(
            "track_p99_vs_posthog_busy",
            "P2 track_* p99 µs, delivery busy",
            busy,
            f"posthog capture() p99 {posthog:.1f} µs" if posthog else "—",
            ratio,
            "≥ 20× cheaper",
            None if ratio is None else ratio >= 20,
        )
    )
    added = _get(figures, t, "tap_record_p99_added_us")
    direct = _get(figures, t, "direct_p99_us")
    rows.append(
        row(
            "tap_record_p99_added_us",
            "P6 tap --record p99 added µs (paired per block)",
            added,
            f"direct p99 {direct:.0f} µs" if direct else "—",
            added,
            "< 1000 µs",
            None if added is None else added < 1000,
        )
    )
    m = "bench_collector_memory"
    growth = _get(figures, m, "collector_rss_growth_pct")
    outside = figures.get(m, {}).get("outside_duckdb", {})
    limit = figures.get(m, {}).get("memory_limit", "?")
    seconds = _get(figures, m, "duration_s") or 0
    rows.append(
        row(
            "collector_rss_growth_pct",
            f"Memory: collector + writer RSS outside DuckDB's buffers, last third of "
            f"{seconds:.0f} s of load, MB (raw RSS growth "
            f"{_get(figures, m, 'collector_rss_growth_raw_pct') or 0:+.0f}%; writer max "
            f"{_get(figures, m, 'writer_rss_max_mb') or 0:,.0f}, its DuckDB max "
            f"{_get(figures, m, 'writer_duckdb_max_mb') or 0:,.0f}; memory_limit {limit})",
            outside.get("last_third_median_mb"),
            f"middle third {outside['middle_third_median_mb']:,.0f} MB" if outside else "—",
            growth,
            "± 10% (ratio = growth %)",
            None if growth is None else abs(growth) <= 10,
        )
    )
    return rows


def print_targets(rows: list[dict[str, Any]], quick: bool) -> None:
    head = ("target", "measured", "baseline (same run)", "ratio", "target", "met")
    lines = [head]
    for x in rows:
        m = "—" if x["measured"] is None else f"{x['measured']:,.2f}"
        ratio = "—" if x["ratio"] is None else f"{x['ratio']:.2f}"
        met = "n/a" if x["met"] is None else "yes" if x["met"] else "NO"
        lines.append((f"{x['key']}: {x['what']}", m, x["baseline"], ratio, x["target"], met))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    title = "Issue 14 targets" + (" (--quick: smoke sizes, not a measurement)" if quick else "")
    print(f"\n=== {title} ===")
    for line in lines:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one run (smoke)")
    parser.add_argument("--json", type=Path, help="write issue 14's figures as JSON to FILE")
    args = parser.parse_args()
    failed = 0
    figures: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="agentlytics-bench-") as tmp:
        for script in sorted(HERE.glob("bench_*.py")):
            print(f"\n=== {script.name} ===", flush=True)
            cmd = [sys.executable, str(script)]
            if args.quick:
                cmd.append("--quick")
            out = Path(tmp) / f"{script.stem}.json"
            if script.stem in FIGURES:
                cmd += ["--json", str(out)]
            failed += subprocess.run(cmd).returncode != 0
            if out.exists():
                figures[script.stem] = json.loads(out.read_text())
    rows = targets(figures)
    print_targets(rows, args.quick)
    if args.json is not None:
        doc: dict[str, Any] = {x["key"]: x["ratio"] for x in rows}
        doc["quick"] = args.quick
        doc["targets"] = rows
        doc["figures"] = figures
        args.json.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
