"""What the CLI says when delivery meets a fault (issue 20, defects 3, 4 and 7).

Real processes throughout: the CLI, a collector on 127.0.0.1, a spool on a 1 MiB tmpfs (or,
where mounting is not allowed, under a file-size limit), a spool that is a file.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import resource
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..collector_proc import TOKEN, Collector, free_port
from ..helpers import capture_path, cli_env, drop_rows, run_cli


def _without_initialize(src: Path, dst: Path) -> Path:
    """A capture whose ``initialize`` request and its answer are missing."""
    lines = src.read_text().splitlines()
    init_ids = {
        json.loads(line)["msg"].get("id")
        for line in lines
        if json.loads(line).get("msg", {}).get("method") == "initialize"
    }
    assert init_ids
    kept = [
        line
        for line in lines
        if not (
            json.loads(line).get("msg", {}).get("method") == "initialize"
            or (
                json.loads(line).get("msg", {}).get("id") in init_ids
                and "method" not in json.loads(line)["msg"]
            )
        )
    ]
    dst.write_text("\n".join(kept) + "\n")
    return dst


def test_replay_send_shows_reducer_drops_and_honours_strict(tmp_path: Path) -> None:
    """Defect 4: ``--strict`` means the same with and without ``--send``."""
    capture = _without_initialize(capture_path("shell_accept"), tmp_path / "no_init.jsonl")
    local = run_cli("replay", "--no-warehouse", "--strict", str(capture), check=False)
    assert local.returncode == 1
    local_drops = drop_rows(local.stdout)
    assert any(stage == "reducer" for stage, _ in local_drops), local.stdout
    collector = Collector(tmp_path / "collector").start()
    try:
        sent = run_cli(
            "replay", "--send", collector.url, "--token", TOKEN, "--strict", str(capture),
            "--spool", str(tmp_path / "spool"), check=False,
        )  # fmt: skip
        lenient = run_cli(
            "replay", "--send", collector.url, "--token", TOKEN, str(capture),
            "--spool", str(tmp_path / "spool"), check=False,
        )  # fmt: skip
    finally:
        collector.stop()
    assert sent.returncode == 1, sent.stderr
    assert "No input dropped" not in sent.stderr
    sent_drops = drop_rows(sent.stderr)
    assert {k: v for k, v in sent_drops.items() if k[0] == "reducer"} == {
        k: v for k, v in local_drops.items() if k[0] == "reducer"
    }
    assert lenient.returncode == 0, lenient.stderr  # delivered; the drops are shown, not fatal
    assert drop_rows(lenient.stderr) == sent_drops


@contextlib.contextmanager
def _small_disk(tmp_path: Path) -> Iterator[tuple[Path, dict[str, object]]]:
    """A directory on a 1 MiB filesystem, and the subprocess options that go with it: a tmpfs
    where mounting is allowed, else a 1 MiB file-size limit for the child (RLIMIT_FSIZE)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True
        ).returncode
        == 0
    )
    try:
        if mounted:
            yield mnt, {}
        else:

            def limit() -> None:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, not a signal
                resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

            yield mnt, {"preexec_fn": limit}
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(mnt)], check=False)


def _pending(spool: Path) -> int:
    total = 0
    for db in spool.glob("spool-*.db"):
        con = sqlite3.connect(db)
        try:
            total += con.execute("SELECT count(*) FROM events").fetchone()[0]
        finally:
            con.close()
    return total


@pytest.mark.slow
def test_a_full_disk_is_reported_with_counts_and_the_real_error(tmp_path: Path) -> None:
    """Defect 3: the spool fills its disk while the collector is down. The report names the
    disk's error (not "cannot rollback"), counts what was lost, never says "No input dropped",
    and says "kept in" only for what the spool really holds."""
    captures = sorted(str(p) for p in capture_path("hooks").parent.glob("*.jsonl"))
    env = cli_env()
    env["AGENTLYTICS_FLUSH_TIMEOUT"] = "3"
    env["AGENTLYTICS_QUEUE_SIZE"] = "200"
    with _small_disk(tmp_path) as (disk, options):
        spool = disk / "spool"
        url = f"http://127.0.0.1:{free_port()}"  # nothing listens: everything piles up
        proc = subprocess.run(
            [sys.executable, "-m", "agentlytics", "replay", "--send", url, "--token", TOKEN,
             "--spool", str(spool), *captures * 40],
            env=env, capture_output=True, text=True, timeout=300, **options,  # type: ignore[call-overload]
        )  # fmt: skip
        pending = _pending(spool)
    err = " ".join(proc.stderr.split())
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "cannot rollback" not in err
    assert "No input dropped" not in err
    assert re.search(r"disk is full|No space left|File too large|disk I/O error", err), proc.stderr
    drops = drop_rows(proc.stderr)
    lost = sum(n for (stage, _), n in drops.items() if stage == "delivery")
    assert lost > 0, proc.stderr
    match = re.search(r"(\d+) event\(s\) pending", err)
    assert match is not None, proc.stderr
    assert int(match.group(1)) == pending
    sent = re.search(r"(\d+) facts → (\d+) events", err)
    error = re.search(r"last error: (.*)$", proc.stderr, re.M)
    print(  # the figures of the closing note (pytest -s)
        f"\ndisk-full: {sent and sent.group(1)} facts → {sent and sent.group(2)} events, "
        f"{pending} pending in the spool (read back), dropped "
        + ", ".join(f"{reason} {n}" for (stage, reason), n in drops.items() if stage == "delivery")
        + f"; exit {proc.returncode}; {error and error.group(1)}"
    )


@pytest.mark.parametrize("kind", ["a file", "under a file"])
def test_tap_send_with_an_unusable_spool_still_relays(tmp_path: Path, kind: str) -> None:
    """Defect 7: the agent never pays for analytics failing."""
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    spool = blocker if kind == "a file" else blocker / "spool"
    env = cli_env()
    env["AGENTLYTICS_SPOOL"] = str(spool)
    proc = subprocess.run(
        [sys.executable, "-m", "agentlytics", "tap", "--send", "http://127.0.0.1:9",
         "--no-warehouse", "--", sys.executable, "-c",
         "import sys; sys.stdout.write(sys.stdin.read())"],
        env=env, input=b'{"method":"initialized"}\n', capture_output=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b'{"method":"initialized"}\n'
    notes = [line for line in proc.stderr.decode().splitlines() if "analytics" in line]
    assert any("delivery disabled" in line and str(spool) in line for line in notes), notes
    assert b"Traceback" not in proc.stderr


@pytest.mark.parametrize("kind", ["a file", "read-only"])
def test_replay_send_with_an_unusable_spool_says_so_in_one_line(tmp_path: Path, kind: str) -> None:
    capture = str(capture_path("hooks"))
    spool = tmp_path / "spool"
    mounted = False
    if kind == "a file":
        spool.write_text("not a directory")
    else:
        spool.mkdir()
        mounted = (
            os.geteuid() == 0
            and subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(spool)],
                capture_output=True,
            ).returncode
            == 0
        )
        if not mounted:
            if os.geteuid() == 0:
                pytest.skip("root without mount: a read-only directory cannot be made")
            spool.chmod(0o500)
    try:
        proc = run_cli(
            "replay", "--send", "http://127.0.0.1:9", "--spool", str(spool), capture, check=False
        )
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(spool)], check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    (line,) = [line for line in proc.stderr.splitlines() if line.strip()]
    assert line.startswith(f"agentlytics: error: cannot use the spool {spool}")


def test_a_vanished_spool_is_reported_as_lost(tmp_path: Path) -> None:
    """The spool directory removed under a running delivery: the report says what is lost
    instead of pointing at a spool that is not there."""
    import shutil

    from agentlytics.delivery.send import SendResult, outcome
    from agentlytics.library.worker import BackgroundDelivery
    from agentlytics.sinks.base import SinkError

    from ..streams import expected, flat_facts

    class Down:
        def write(self, batch: object) -> None:
            raise SinkError("collector down", retryable=True)

        def close(self) -> None:
            pass

    spool = tmp_path / "spool"
    facts = flat_facts(3, seed=91)
    delivery = BackgroundDelivery(Down, spool_dir=spool, backoff_initial=0.01, backoff_max=0.05)
    for fact in facts:
        delivery.submit(fact)
    assert not delivery.flush(0.5)
    shutil.rmtree(spool)
    delivery.close(0.5)
    stats = {**delivery.stats(), "flushed": False}
    report = outcome(SendResult(facts=len(facts)), stats, spool)
    assert stats["spooled_events"] == len(expected(facts))
    assert report.delivery_drops == {"spool_vanished": len(expected(facts))}
    assert not report.complete and not report.left_in_spool
    assert any("is gone" in line for line in report.lines)
    assert not any("kept in" in line for line in report.lines)


def test_tap_exit_says_what_stays_in_the_spool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tap's last words with the collector down: the count the spool really holds."""
    from agentlytics import live
    from agentlytics.delivery.send import spool_counts
    from agentlytics.library.sealed import SealedDelivery, SealedPipeline
    from agentlytics.library.worker import BackgroundDelivery
    from agentlytics.sinks.http import HttpSink

    monkeypatch.setattr(live, "DELIVERY_EXIT_TIMEOUT_S", 0.5)
    spool = tmp_path / "spool"
    url = f"http://127.0.0.1:{free_port()}"
    delivery = BackgroundDelivery(
        lambda: HttpSink(url, timeout=1), spool_dir=spool, pipeline_factory=SealedPipeline
    )
    observer = live.LiveObserver([], processors=[SealedDelivery(delivery)])
    for ts, line in enumerate(capture_path("shell_accept").read_text().splitlines()):
        record = json.loads(line)
        observer.observe(record["dir"], json.dumps(record["msg"]).encode(), ts)
    observer.close()
    counts = spool_counts(spool)
    assert counts is not None and counts[0] > 0
    err = capsys.readouterr().err
    assert f"{counts[0]} event(s) stay in the spool {spool}" in err, err


def test_replay_send_rejects_non_captures_and_shows_file_and_line(tmp_path: Path) -> None:
    """Defect 13 with ``--send``: a gzip file is "not a capture file" (not a pile of "malformed
    line" counts), and ``--verbose`` / a failing ``--strict`` show each drop's file:line, as
    they do locally."""
    good = capture_path("shell_accept")
    gz = tmp_path / "c.jsonl.gz"
    gz.write_bytes(gzip.compress(good.read_bytes()))
    broken = tmp_path / "broken.jsonl"
    lines = good.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3][:20] + b"\n"
    broken.write_bytes(b"".join(lines))
    collector = Collector(tmp_path / "collector").start()
    try:
        send = ("replay", "--send", collector.url, "--token", TOKEN,
                "--spool", str(tmp_path / "spool"))  # fmt: skip
        rejected = run_cli(*send, str(gz), str(good), check=False)
        quiet = run_cli(*send, str(broken), check=False)
        verbose = run_cli(*send, "--verbose", str(broken), check=False)
        strict = run_cli(*send, "--strict", str(broken), check=False)
    finally:
        collector.stop()
    assert rejected.returncode == 1, rejected.stderr
    assert "Traceback" not in rejected.stderr
    (line,) = [line for line in rejected.stderr.splitlines() if "is not a capture file" in line]
    assert line.startswith(f"agentlytics: error: {gz} is not a capture file: it is gzip")
    assert "malformed line" not in rejected.stderr
    assert "Sent 1 capture(s)" in rejected.stderr  # the real capture was still sent
    assert "No input dropped" not in rejected.stderr
    assert drop_rows(rejected.stderr) == {("file", "not a capture file (not read)"): 1}
    assert quiet.returncode == 0, quiet.stderr
    assert "broken.jsonl:4" not in quiet.stderr
    for proc in (verbose, strict):
        assert "broken.jsonl:4" in proc.stderr, proc.stderr
    assert verbose.returncode == 0 and strict.returncode == 1
