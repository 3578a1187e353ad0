"""The replay benchmark runs end to end (a smoke test: its figures are not asserted)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import ROOT, cli_env


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
        "ratio (b)/(a)",
        "peak RSS",
    ):
        assert figure in proc.stdout
