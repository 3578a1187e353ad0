"""The dashboard benchmark runs end to end on a small warehouse (its figures are not asserted)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import ROOT, cli_env


@pytest.mark.slow
def test_dashboard_benchmark_prints_its_figures() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_dashboard.py"), "--events", "3000", "--runs", "1"],
        capture_output=True, text=True, env=cli_env(), timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "warehouse: 3,000 events stored" in proc.stdout
    assert "cold load 1: headline" in proc.stdout
    assert "cold page load, 3,000 events: median" in proc.stdout
