"""Errors a person sees (issue 20, defect 13): one line saying what failed and what to do, a
non-zero exit, no traceback (``--debug`` shows it). Everything runs the real CLI."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from helpers import capture_path, cli_env, run_cli

CAPTURE = str(capture_path("shell_accept"))


def _one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("agentlytics: error:")]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def test_version() -> None:
    from agentlytics import __version__

    proc = run_cli("--version")
    assert proc.stdout == f"agentlytics {__version__}\n"


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda d: (d / "w.duckdb").write_text("not a database\n"), "it is not a DuckDB file"),
        (lambda d: None, "does not exist"),
        (lambda d: (d / "w.duckdb").mkdir(), "it is a directory"),
    ],
    ids=["not-duckdb", "missing-parent", "directory"],
)
def test_replay_with_an_unusable_warehouse(tmp_path: Path, make: object, needle: str) -> None:
    assert callable(make)
    make(tmp_path)
    target = tmp_path / "w.duckdb" if (tmp_path / "w.duckdb").exists() else tmp_path / "no/w.duckdb"
    proc = run_cli("replay", "--warehouse", str(target), CAPTURE, check=False)
    _one_line_error(proc, f"cannot open the warehouse {target}", needle, "--warehouse")
    assert proc.returncode == 1


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "w.duckdb"
    bad.write_text("x")
    proc = run_cli("--debug", "replay", "--warehouse", str(bad), CAPTURE, check=False)
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("chattr") is None, reason="needs root and chattr"
)
def test_replay_with_an_immutable_warehouse(tmp_path: Path) -> None:
    target = tmp_path / "w.duckdb"
    run_cli("replay", "-q", "--warehouse", str(target), CAPTURE)
    if subprocess.run(["chattr", "+i", str(target)], capture_output=True).returncode != 0:
        pytest.skip("the filesystem has no immutable flag")
    try:
        proc = run_cli("replay", "--warehouse", str(target), CAPTURE, check=False)
    finally:
        subprocess.run(["chattr", "-i", str(target)], check=True)
    _one_line_error(proc, "cannot be written (read-only or immutable)")


@contextmanager
def holding(warehouse: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process with the warehouse open for writing, for ``seconds``."""
    code = (
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); "
        "time.sleep(float(sys.argv[2]))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(warehouse), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "open\n"
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_two_replays_on_one_warehouse(tmp_path: Path) -> None:
    """The second waits for the first; if the file stays busy it says who holds it."""
    warehouse = tmp_path / "w.duckdb"
    with holding(warehouse, 120) as holder:
        # The holder lets go once the replay says it waits (not after a fixed time: under
        # load the replay's start-up alone can outlast any fixed hold).
        replay = subprocess.Popen(
            [sys.executable, "-m", "agentlytics", "replay", "--warehouse", str(warehouse), CAPTURE],
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert replay.stderr is not None
        first = replay.stderr.readline()
        holder.kill()
        holder.wait()
        out, rest = replay.communicate(timeout=300)
    assert "is busy (another process writes it); waiting" in first, first + rest
    assert replay.returncode == 0, first + rest
    assert "4 new in" in out
    with holding(warehouse, 60) as holder:
        started = time.monotonic()
        proc = run_cli("replay", "--warehouse", str(warehouse), CAPTURE, check=False)
        waited = time.monotonic() - started
    _one_line_error(proc, f"it is in use by process {holder.pid}", "wait for it to finish")
    print(  # the figures of the closing note (pytest -s)
        f"\ntwo replays: holder let go while the second waited -> exit {replay.returncode}, "
        f"4 events stored; holder kept it -> exit {proc.returncode} after {waited:.1f} s: "
        f"{proc.stderr.strip().splitlines()[-1]}"
    )


@pytest.mark.slow
def test_collect_with_a_bad_warehouse_or_a_busy_port(tmp_path: Path) -> None:
    bad = tmp_path / "w.duckdb"
    bad.write_text("x")
    proc = run_cli("collect", "--token", "t", "--port", "0", "--warehouse", str(bad), check=False)
    _one_line_error(proc, "it is not a DuckDB file")
    assert "collector ready" not in proc.stderr
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_cli("collect", "--token", "t", "--port", str(port),
                       "--warehouse", str(tmp_path / "ok.duckdb"), check=False)  # fmt: skip
    _one_line_error(proc, f"cannot listen on 127.0.0.1:{port}", "--port")
    assert "collector ready" not in proc.stderr


@pytest.mark.slow
def test_collector_ready_names_its_address(tmp_path: Path) -> None:
    from tests.collector_proc import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentlytics", "collect", "--token", "t", "--port", str(port),
         "--warehouse", str(tmp_path / "c.duckdb")],
        env=cli_env(), stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        ready = json.loads(proc.stderr.readline())
    finally:
        proc.terminate()
        proc.wait(30)
    assert ready["msg"] == "collector ready"
    assert ready["address"] == f"http://127.0.0.1:{port}"


def test_outputs_in_missing_directories(tmp_path: Path) -> None:
    missing = tmp_path / "nodir" / "x"
    proc = run_cli("replay", "--no-warehouse", "--events", str(missing), CAPTURE, check=False)
    _one_line_error(proc, f"cannot write --events {missing}", "does not exist")
    proc = run_cli("schema", "--out", str(missing), check=False)
    _one_line_error(proc, f"cannot write --out {missing}", "does not exist")


def test_an_unusable_spool(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.write_text("a file, not a directory")
    proc = run_cli("replay", "--send", "http://127.0.0.1:9", "--spool", str(spool), CAPTURE,
                   check=False)  # fmt: skip
    _one_line_error(proc, "cannot use the spool", "--spool")


def test_config_errors_from_the_environment_name_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENTLYTICS_QUEUE_SIZE", "lots")
    proc = run_cli("replay", "--send", "http://127.0.0.1:9", CAPTURE, check=False)
    assert "--config" not in _one_line_error(proc, "AGENTLYTICS_QUEUE_SIZE")
    monkeypatch.delenv("AGENTLYTICS_QUEUE_SIZE")
    monkeypatch.setenv("AGENTLYTICS_COLLECTOR_PORT", "-1x")
    proc = run_cli("collect", "--token", "t", check=False)
    assert "--config" not in _one_line_error(proc, "AGENTLYTICS_COLLECTOR_PORT")


def test_a_directory_argument(tmp_path: Path) -> None:
    proc = run_cli("replay", "--no-warehouse", str(tmp_path), check=False)
    assert proc.returncode == 2
    _one_line_error(proc, f"{tmp_path} is a directory; pass the capture files in it")
    assert "no such capture file" not in proc.stderr


def test_files_that_are_not_captures(tmp_path: Path) -> None:
    capture = capture_path("shell_accept").read_bytes()
    (tmp_path / "c.jsonl.gz").write_bytes(gzip.compress(capture))
    (tmp_path / "bin.jsonl").write_bytes(bytes(range(256)) * 40)
    bare = b"".join(
        json.dumps(json.loads(line)["msg"]).encode() + b"\n" for line in capture.splitlines()
    )
    (tmp_path / "bare.jsonl").write_bytes(bare)
    files = [str(tmp_path / n) for n in ("c.jsonl.gz", "bin.jsonl", "bare.jsonl")]
    proc = run_cli("replay", "--no-warehouse", *files, CAPTURE, check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "is not a capture file" in line]
    assert len(lines) == 3, proc.stderr
    assert "gzip-compressed" in lines[0] and "binary" in lines[1]
    assert "without the capture envelope" in lines[2]
    assert "Replayed 1 capture(s)" in proc.stdout  # the real capture was still replayed
    assert "No input dropped" not in proc.stdout  # three whole files were
    assert "not a capture file (not read)" in proc.stdout and "│     3 │" in proc.stdout


def test_verbose_and_failing_strict_show_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    lines = capture_path("shell_accept").read_bytes().splitlines(keepends=True)
    lines[3] = lines[3][:20] + b"\n"
    broken.write_bytes(b"".join(lines))
    quiet = run_cli("replay", "--no-warehouse", str(broken))
    assert "broken.jsonl:4" not in quiet.stdout
    for flags in (["--verbose"], ["--strict"]):
        proc = run_cli("replay", "--no-warehouse", *flags, str(broken), check=False)
        assert "broken.jsonl:4" in proc.stdout, proc.stdout
        assert "malformed line" in proc.stdout
    assert proc.returncode == 1
