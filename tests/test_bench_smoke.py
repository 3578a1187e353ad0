"""The benchmarks run end to end (smoke tests: their figures are not asserted)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, cli_env

#: The figures issue 14's ``bench/run.py --json`` must write, as numbers.
KEYS = (
    "replay_vs_decode",
    "replay_jobs_speedup",
    "replay_rss_growth_pct",
    "e2e_vs_minimal_path",
    "track_p99_vs_posthog_busy",
    "tap_record_p99_added_us",
    "collector_rss_growth_pct",
)


@pytest.mark.slow
def test_replay_benchmark_prints_its_figures() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "bench_replay.py"),
            "--messages",
            "20000",
            "--runs",
            "1",
            "--files",
            "2",
        ],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    for figure in (
        "(a) decode-only (orjson)",
        "(b) full replay --events",
        "(c) full replay --warehouse",
        "ratio (c)/(a)",
        "speed-up",
        "peak RSS",
        "no thread/closed",
    ):
        assert figure in proc.stdout


@pytest.mark.slow
def test_run_quick_prints_every_target_and_writes_them_as_json(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = proc.stdout.split("=== Issue 14 targets", 1)[1]
    doc = json.loads(out.read_text())
    for key in KEYS:
        assert key in table
        assert isinstance(doc[key], float) and math.isfinite(doc[key]), (key, doc[key])
    assert [row["key"] for row in doc["targets"]] == list(KEYS)
    assert all(row["met"] in (True, False) for row in doc["targets"])


@pytest.mark.slow
def test_replay_stages_breaks_the_replay_down_per_line(tmp_path: Path) -> None:
    out = tmp_path / "stages.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "replay_stages.py"),
            "--messages",
            "3000",
            "--rounds",
            "1",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "orjson ÷ total" in proc.stdout
    (tree,) = json.loads(out.read_text()).values()
    stages = tree["us_per_line"]
    assert list(stages) == [
        "import", "read", "orjson", "line", "observe", "reduce", "seal",
        "db prepare", "db insert", "db open+close",
    ]  # fmt: skip
    assert all(math.isfinite(v) and v > 0 for v in stages.values()), stages
    assert tree["lines"] >= 3000 and tree["events"] > 0
    total = sum(v for k, v in stages.items() if k not in ("orjson", "line"))
    assert tree["replay_us_per_line"] == pytest.approx(total)
    assert tree["orjson_vs_replay"] == pytest.approx(stages["orjson"] / total)
