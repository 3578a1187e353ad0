"""The reports benchmark runs end to end (a smoke test: its timings are not asserted)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import ROOT, cli_env


@pytest.mark.slow
def test_reports_benchmark_times_every_report_beside_a_columnar_copy() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_reports.py"), "--quick"],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "50,008 events: built in" in proc.stdout and "typed Parquet copy in" in proc.stdout
    for figure in (
        "typed Parquet copy ms",
        "overview",
        "sessions (newest 50)",
        "goals",
        "compactions",
    ):
        assert figure in proc.stdout
