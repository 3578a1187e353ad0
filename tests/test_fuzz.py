"""Fault injection: a seeded mutation fuzzer over every capture (issue 20).

Each round takes every real capture and corrupts about one line in eight, each corruption one
that no reader may take for a good line: truncation (of every method kind the captures hold),
invalid UTF-8, nesting past the limit, binary garbage, a lost closing brace. Capture metadata
lines (``"dir": "meta"``) are mixed in intact. The pipeline runs in-process, one connection per
mutated capture, over at least 100,000 lines; it must never raise, every corrupted line must
be a counted drop at its own file:line, and no intact metadata line may be. One run of the
real CLI over a sample checks the same from the outside (no traceback, same events).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agentlytics.drops import Drops
from agentlytics.pipeline import Pipeline
from agentlytics.protocol.depth import MAX_DEPTH
from helpers import all_captures, cli_env

pytestmark = pytest.mark.slow

SEED = 20_2026
MIN_LINES = 100_000
CORRUPT_RATE = 1 / 8
KINDS = ("truncate", "invalid_utf8", "deep", "garbage", "unclosed")
_BAD_UTF8 = (b"\xff", b"\xfe", b"\xc0\xaf", b"\x80", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80")


class EveryDrop(Drops):
    """Drops that also remember where each one came from (the report keeps only samples)."""

    def __init__(self) -> None:
        super().__init__()
        self.where: list[str] = []

    def count(self, reason: str, detail: str = "", where: str = "") -> None:
        super().count(reason, detail, where)
        self.where.append(where)


@dataclass
class Mutated:
    name: str
    lines: list[bytes]
    #: 1-based line number -> (kind, method of the original line)
    corrupted: dict[int, tuple[str, str]] = field(default_factory=dict)
    meta: set[int] = field(default_factory=set)


def _method(line: bytes) -> str:
    msg = json.loads(line)["msg"]
    return str(msg.get("method") or ("response" if "id" in msg else "?"))


def corrupt(line: bytes, kind: str, rng: random.Random) -> bytes:
    """One corruption of a capture line (no newline), never a valid capture record."""
    if kind == "truncate":
        return line[: rng.randrange(1, len(line) - 1)]
    if kind == "invalid_utf8":
        at = rng.randrange(1, len(line) - 1)
        return line[:at] + rng.choice(_BAD_UTF8) + line[at:]
    if kind == "deep":
        depth = rng.choice([MAX_DEPTH + 1, 200, 1_000, 5_000, 50_000])
        return b'{"deep": ' + b"[" * depth + b"]" * depth + b", " + line[1:]
    if kind == "garbage":
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))).replace(b"\n", b"")
    assert kind == "unclosed"
    return line.rstrip()[:-1]


def mutate(capture: Path, rng: random.Random, round_no: int, untruncated: set[str]) -> Mutated:
    """One round's copy of a capture; the first line of each method in ``untruncated`` is
    truncated (so every method kind is), the rest corrupted at random."""
    lines = capture.read_bytes().splitlines()
    out = Mutated(f"{capture.stem}#{round_no}.jsonl", [])
    for line in lines:
        if rng.random() < 0.02:
            meta = {
                "seq": len(out.lines),
                "ts_ms": 1,
                "dir": "meta",
                "meta": {"kind": "thread_repo", "thread_id": "t", "repo_hash": None},
            }
            out.lines.append(json.dumps(meta).encode())
            out.meta.add(len(out.lines))
        method = _method(line)
        if method in untruncated or rng.random() < CORRUPT_RATE:
            kind = "truncate" if method in untruncated else rng.choice(KINDS)
            untruncated.discard(method)
            bad = corrupt(line, kind, rng)
            if bad.strip():  # an empty line is not input (and not counted)
                out.lines.append(bad)
                out.corrupted[len(out.lines)] = (kind, method)
                continue
        out.lines.append(line)
    return out


def fuzz_corpus() -> list[Mutated]:
    rng = random.Random(SEED)
    captures = all_captures()
    untruncated = {_method(line) for c in captures for line in c.read_bytes().splitlines()}
    corpus: list[Mutated] = []
    total = 0
    round_no = 0
    while total < MIN_LINES:
        for capture in captures:
            corpus.append(mutate(capture, rng, round_no, untruncated))
            total += len(corpus[-1].lines)
        round_no += 1
    return corpus


def test_every_corruption_is_counted_and_nothing_raises() -> None:
    corpus = fuzz_corpus()
    pipeline = Pipeline()
    drops = EveryDrop()
    pipeline.drops = drops
    lines = events = 0
    for mutated in corpus:
        observer = pipeline.connection()
        observer.source = mutated.name
        for line in mutated.lines:
            events += len(pipeline.observe_line(observer, line + b"\n"))
        events += len(pipeline.close(observer))
        lines += len(mutated.lines)
    where = set(drops.where)
    made = [(m.name, n, kind, method) for m in corpus for n, (kind, method) in m.corrupted.items()]
    missed = [c for c in made if f"{c[0]}:{c[1]}" not in where]
    meta_dropped = [f"{m.name}:{n}" for m in corpus for n in m.meta if f"{m.name}:{n}" in where]
    kinds = {kind for _, _, kind, _ in made}
    truncated = {method for _, _, kind, method in made if kind == "truncate"}
    all_methods = {_method(line) for c in all_captures() for line in c.read_bytes().splitlines()}
    print(
        f"\nfuzz: {lines} lines, {len(made)} corruptions made, {len(made) - len(missed)} counted, "
        f"{drops.total} drops in all, {events} events, {len(truncated)} method kinds truncated"
    )
    assert lines >= MIN_LINES
    assert missed == []
    assert meta_dropped == []
    assert kinds == set(KINDS)
    assert truncated == all_methods  # truncation hit every method kind the captures hold
    assert events > 0


def test_the_cli_replays_fuzzed_captures_without_a_traceback(tmp_path: Path) -> None:
    corpus = fuzz_corpus()[: len(all_captures()) * 3]
    files = []
    for mutated in corpus:
        path = tmp_path / mutated.name
        path.write_bytes(b"\n".join(mutated.lines) + b"\n")
        files.append(path)
    events = tmp_path / "events.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "agentlytics", "replay", "--no-warehouse", "--verbose",
         "--events", str(events), *map(str, files)],
        env=cli_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.returncode == 0, proc.stderr
    assert "malformed line" in proc.stdout and "nested too deep" in proc.stdout
    # The same events as in-process.
    pipeline = Pipeline()
    expected: list[bytes] = []
    for mutated in corpus:
        observer = pipeline.connection()
        for line in mutated.lines:
            expected += [e.body for e in pipeline.observe_line(observer, line + b"\n")]
        expected += [e.body for e in pipeline.close(observer)]
    assert events.read_bytes().splitlines() == expected
