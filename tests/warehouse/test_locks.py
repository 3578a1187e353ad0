"""A writer waits out a reader's brief hold on the warehouse file instead of failing."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from agentlytics.warehouse.locks import connect_for_writing
from agentlytics.warehouse.store import Warehouse

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("held", flush=True)
time.sleep(float(sys.argv[3]))
con.close()
"""


def _hold(path: Path, mode: str, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), mode, str(seconds)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


def test_a_writer_waits_for_a_reader_to_let_go(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    Warehouse(path).close()
    reader = _hold(path, "ro", 0.8)
    try:
        with pytest.raises(duckdb.IOException, match="lock"):
            duckdb.connect(str(path))  # what a writer met before: an immediate failure
        started = time.monotonic()
        with Warehouse(path) as wh:
            assert wh.count() == 0
        assert time.monotonic() - started > 0.2
    finally:
        reader.wait(10)


def test_a_file_held_for_good_still_fails(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    Warehouse(path).close()
    writer = _hold(path, "rw", 30)
    try:
        started = time.monotonic()
        with pytest.raises(duckdb.IOException, match="lock"):
            connect_for_writing(str(path), wait_s=0.5)
        assert 0.5 <= time.monotonic() - started < 5
    finally:
        writer.kill()
        writer.wait()
