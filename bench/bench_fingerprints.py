"""Benchmark: accepted-line fingerprinting throughput, and attribution over 10,000 commits.

Run: ``python bench/bench_fingerprints.py [--runs N] [--commits N] [--skip-attribution] [--quick]``.

1. Fingerprinting: ``fingerprint_unified_diff`` on a generated diff (≥ 200k added lines across
   many files, realistic mix of indentation, blank lines, braces, aligned comments, tabs)
   against, in the same run and interleaved, a plain loop that only SHA-1-hashes the same
   added lines with hashlib (with the fingerprint domain prefix, and without). Reports the
   median of the runs in lines/s and the ratio (target ≥ 50% of the hash-only loop), and which
   implementation ran (``native``: the C extension; ``python``: it was not built), with the
   pure-Python reference as a further row for comparison.
2. Attribution: a repository of 10,000 commits generated with ``git fast-import``, a DuckDB
   warehouse with fingerprint events for a share of its lines, then ``attribute()`` over the
   whole history. Reports generation and attribution times.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from rich.console import Console
from rich.table import Table

from agentlytics.fingerprints.diff import (
    FINGERPRINT_BACKEND,
    fingerprint_unified_diff,
    fingerprint_unified_diff_python,
)

_WORDS = [
    "value", "result", "self", "config", "items", "index", "count", "name", "data", "path",
    "user", "request", "response", "buffer", "token", "event", "thread", "turn", "state", "cache",
]  # fmt: skip


def _code_line(rnd: random.Random) -> str:
    """One generated source line: mostly statements, some blank/brace/comment/tab lines."""
    r = rnd.random()
    ind = "    " * rnd.randint(0, 3)
    a, b, c = rnd.choice(_WORDS), rnd.choice(_WORDS), rnd.randint(0, 99_999)
    if r < 0.08:
        return ""
    if r < 0.14:
        return ind + "}"
    if r < 0.22:
        return f"{ind}{a}_{c} = {b}.get('{a}')  # {b} lookup"
    if r < 0.25:
        return f"\t{a}({b}, {c})"
    return f"{ind}{a}_{c} = {b}.call({a}, {c})"


def make_diff(n_files: int, lines_per_file: int, seed: int = 7) -> tuple[str, list[str]]:
    """A multi-file git diff and the list of its added line contents."""
    rnd = random.Random(seed)
    parts: list[str] = []
    added: list[str] = []
    for f in range(n_files):
        path = f"src/pkg{f % 17}/module_{f}.py"
        parts.append(f"diff --git a/{path} b/{path}\nindex 83db48f..bf269f4 100644\n")
        parts.append(f"--- a/{path}\n+++ b/{path}\n")
        done = 0
        while done < lines_per_file:
            parts.append(f"@@ -{done + 1},6 +{done + 1},40 @@ def f{done}():\n")
            parts.extend(f" {rnd.choice(_WORDS)} = {rnd.choice(_WORDS)}\n" for _ in range(3))
            parts.extend(f"-    {rnd.choice(_WORDS)} = None\n" for _ in range(rnd.randint(1, 4)))
            for _ in range(40):
                line = _code_line(rnd)
                parts.append(f"+{line}\n")
                added.append(line)
            done += 40
    return "".join(parts), added


def _interleaved_medians(cases: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Median seconds per case; cases alternate within each round so load hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def bench_fingerprints(runs: int, console: Console) -> None:
    """Fingerprinting throughput vs a hash-only loop, same run, interleaved."""
    diff, added = make_diff(n_files=400, lines_per_file=520)
    encoded = [line.encode() for line in added]
    prefix = b"file-line-v1\x00line\x00"

    def hash_only_prefixed() -> None:
        sha1 = hashlib.sha1
        for data in encoded:
            sha1(prefix + data).hexdigest()

    def hash_only_raw() -> None:
        sha1 = hashlib.sha1
        for line in added:
            sha1(line.encode()).hexdigest()

    result = fingerprint_unified_diff(diff)
    assert fingerprint_unified_diff_python(diff) == result
    medians = _interleaved_medians(
        {
            "fingerprint_unified_diff": lambda: fingerprint_unified_diff(diff),
            "hash-only loop (prefix + line, pre-encoded)": hash_only_prefixed,
            "hash-only loop (raw line, encode in loop)": hash_only_raw,
            "fingerprint_unified_diff_python (reference)": lambda: fingerprint_unified_diff_python(
                diff
            ),
        },
        runs,
    )
    n = len(added)
    ours = n / medians["fingerprint_unified_diff"]
    table = Table(
        title=f"Fingerprinting: {n:,} added lines, {len(diff) / 1e6:.1f} MB diff, "
        f"{len(result.fingerprints):,} fingerprints, median of {runs} runs"
    )
    table.add_column("case")
    table.add_column("median s", justify="right")
    table.add_column("lines/s", justify="right")
    table.add_column("ns/line", justify="right")
    table.add_column("fingerprinting / this", justify="right")
    for name, seconds in medians.items():
        rate = n / seconds
        table.add_row(
            name, f"{seconds:.3f}", f"{rate:,.0f}", f"{seconds / n * 1e9:.0f}", f"{ours / rate:.0%}"
        )
    console.print(table)
    console.print(f"fingerprint_unified_diff backend: {FINGERPRINT_BACKEND}")


def main() -> None:
    """Parse options and run the benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--skip-attribution", action="store_true")
    parser.add_argument("--quick", action="store_true", help="one run, 500 commits (smoke)")
    args = parser.parse_args()
    console = Console()
    if args.quick:
        args.runs, args.commits = 1, 500
    bench_fingerprints(args.runs, console)
    if not args.skip_attribution:
        bench_attribution(args.commits, console)


def _fast_import_stream(
    commits: int, rnd: random.Random
) -> tuple[bytes, list[tuple[str, str, int]]]:
    """A ``git fast-import`` stream of ``commits`` commits, and the agent lines it contains.

    Each commit appends 5 lines to one of 1,000 files (so blobs stay small); about half of the
    lines are "agent" lines, returned as ``(path, line, commit_time)``.
    """
    files: dict[str, list[str]] = {}
    agent: list[tuple[str, str, int]] = []
    out: list[bytes] = []
    start = 1_700_000_000
    for n in range(1, commits + 1):
        path = f"src/pkg{n % 20}/mod{n % 1000}.py"
        lines = files.setdefault(path, [])
        when = start + n * 60
        for k in range(5):
            line = _code_line(rnd) + f"  # c{n} l{k}"
            lines.append(line)
            if k % 2 == 0:
                agent.append((path, line.strip(), when))
        content = ("\n".join(lines) + "\n").encode()
        message = f"commit {n}\n".encode()
        who = f"Dev{n % 7} <dev{n % 7}@example.com> {when} +0000"
        out.append(f"commit refs/heads/main\nmark :{n}\nauthor {who}\ncommitter {who}\n".encode())
        out.append(b"data %d\n%s" % (len(message), message))
        if n > 1:
            out.append(f"from :{n - 1}\n".encode())
        out.append(f"M 100644 inline {path}\n".encode())
        out.append(b"data %d\n%s\n" % (len(content), content))
    return b"".join(out), agent


def bench_attribution(commits: int, console: Console) -> None:
    """Generate a repo with ``git fast-import`` and time ``attribute()`` over all of it."""
    import duckdb

    from agentlytics.fingerprints.diff import fingerprint_hash
    from agentlytics.fingerprints.remote import canonicalize_git_remote_url
    from agentlytics.warehouse.attribution import attribute

    rnd = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        env = dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
        t0 = time.perf_counter()
        stream, agent = _fast_import_stream(commits, rnd)
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True, env=env)
        url = "git@github.com:acme/bench.git"
        subprocess.run(["git", "remote", "add", "origin", url], cwd=repo, check=True, env=env)
        subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=stream, check=True,
                       env=env)  # fmt: skip
        generate_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        repo_hash = fingerprint_hash("repo", canonicalize_git_remote_url(url) or url)
        warehouse = Path(tmp) / "agentlytics.duckdb"
        con = duckdb.connect(str(warehouse))
        con.execute(
            "CREATE TABLE events(event_id VARCHAR PRIMARY KEY, event_type VARCHAR NOT NULL, "
            "thread_id VARCHAR, turn_id VARCHAR, payload JSON NOT NULL)"
        )
        rows = []
        for i in range(0, len(agent), 100):
            batch = agent[i : i + 100]
            params = {
                "event_type": "codex.accepted_line_fingerprints", "turn_id": f"turn-{i}",
                "thread_id": "thread-1", "product_surface": "codex", "model_slug": "gpt-5.5",
                "completed_at": batch[0][2] - 30, "repo_hash": repo_hash,
                "accepted_added_lines": len(batch), "accepted_deleted_lines": 0,
                "line_fingerprints": [
                    {"path_hash": fingerprint_hash("path", p), "line_hash":
                     fingerprint_hash("line", " ".join(line.split()))}
                    for p, line, _ in batch
                ],
            }  # fmt: skip
            payload = json.dumps(
                {"event_type": "codex_accepted_line_fingerprints", "event_params": params}
            )
            rows.append(
                (
                    hashlib.sha256(payload.encode()).hexdigest(),
                    "codex_accepted_line_fingerprints",
                    "thread-1",
                    f"turn-{i}",
                    payload,
                )
            )
        con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", rows)
        con.close()
        warehouse_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        report = attribute(repo, warehouse)
        attribute_s = time.perf_counter() - t0

    t = report.totals
    table = Table(title=f"Attribution over a generated repository ({commits:,} commits)")
    table.add_column("step")
    table.add_column("seconds", justify="right")
    table.add_column("detail")
    table.add_row(
        "generate repo (git fast-import)", f"{generate_s:.2f}", f"{len(stream) / 1e6:.1f} MB"
    )
    table.add_row(
        "write warehouse (DuckDB)", f"{warehouse_s:.2f}",
        f"{len(agent):,} agent lines, {len(rows)} events",
    )  # fmt: skip
    table.add_row(
        "attribute() (git log -p + matching)", f"{attribute_s:.2f}",
        f"{len(report.commits):,} commits, {t.added_lines:,} added lines, "
        f"{t.matched_lines:,}/{t.eligible_lines:,} matched ({t.share or 0:.1%}), "
        f"{len(report.commits) / attribute_s:,.0f} commits/s",
    )  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    main()
