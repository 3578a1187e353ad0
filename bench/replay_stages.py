"""Where a replay's CPU goes, µs per line per stage, against an orjson decode of the same lines.

``bench_replay.py`` gives issue 14's P1 ratio (replay with the DuckDB write ÷ orjson decode-only,
wall clock, one subprocess per run); this says what that ratio is made of, so a change can be
aimed at the stage that costs and a target can be checked against what is unavoidable. Each
round is one fresh subprocess per source tree (``--tree``, default this checkout's ``src``;
give two to compare, e.g. a pure-Python tree and a compiled copy of it), rounds alternate the
trees so machine noise hits them alike, and the figures are medians over rounds.

Stages, in pipeline order, each timed alone on the same in-memory lines (CPU time of the
thread; the DuckDB stages: of the process, since DuckDB works in its own threads):

  import      ``import agentlytics.cli`` (what every ``agentlytics replay`` pays first)
  read        iterating the capture file's lines
  orjson      ``orjson.loads`` of every line: bench_replay's decode-only baseline
  line        msgspec decode of every capture line, payloads left raw (part of ``observe``)
  observe     the wire observer: line decode, dispatch, payload decode, facts
  reduce      the reducer: facts → events
  seal        canonical encode, sha256 id, envelope
  db prepare  Arrow tables of each batch, the typed tables' rows included (Python + pyarrow)
  db insert   DuckDB's insert statements
  db open+close  schema check at open, checkpoint at close

Usage: ``python bench/replay_stages.py [--messages N] [--rounds R] [--tree SRC ...]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.bench_replay import build_session  # noqa: E402

STAGES = (
    "import",
    "read",
    "orjson",
    "line",
    "observe",
    "reduce",
    "seal",
    "db prepare",
    "db insert",
    "db open+close",
)

#: One round in a fresh interpreter: argv = session, warehouse file, source tree.
_ROUND = r"""
import json, sys, time
sys.path.insert(0, sys.argv[3])
T, P = time.thread_time, time.process_time
r = {}
t = T()
import agentlytics.cli  # noqa: F401
r["import"] = T() - t
import orjson
import agentlytics.observe.edge as edge
from agentlytics.observe.capture import open_capture
from agentlytics.pipeline import Pipeline
from agentlytics.protocol.wire import line_decoder
from agentlytics.replay import BATCH
from agentlytics.warehouse.store import Warehouse, batch_columns, prepare_columns

r["compiled"] = not edge.__file__.endswith(".py")
path = sys.argv[1]
t = T()
with open_capture(path) as handle:
    for line in handle:
        pass
r["read"] = T() - t
with open(path, "rb") as handle:
    lines = handle.read().splitlines(keepends=True)
r["lines"] = len(lines)
loads = orjson.loads
t = T()
for line in lines:
    loads(line)
r["orjson"] = T() - t
decode = line_decoder.decode
t = T()
for line in lines:
    decode(line)
r["line"] = T() - t
pipeline = Pipeline()
observer = pipeline.connection()
observe = observer.observe_line
batches = []
t = T()
for line in lines:
    facts = observe(line)
    if facts:
        batches.append(facts)
batches.append(observer.close())
r["observe"] = T() - t
reduce = pipeline.reducer.ingest
events = []
t = T()
for facts in batches:
    for fact in facts:
        events += reduce(fact)
r["reduce"] = T() - t
seal = pipeline.sealer.seal
t = T()
envelopes = [seal(event) for event in events]
r["seal"] = T() - t
r["events"] = len(envelopes)
t = P()
warehouse = Warehouse(sys.argv[2])
opened = P() - t
t = P()
prepared = [
    prepare_columns(*batch_columns(envelopes[i : i + BATCH]))
    for i in range(0, len(envelopes), BATCH)
]
r["db prepare"] = P() - t
t = P()
for batch in prepared:
    warehouse.insert_prepared(batch)
r["db insert"] = P() - t
t = P()
warehouse.close()
r["db open+close"] = opened + P() - t
print(json.dumps(r))
"""


def one_round(session: Path, warehouse: Path, tree: Path) -> dict[str, float]:
    warehouse.unlink(missing_ok=True)
    out = subprocess.run(
        [sys.executable, "-c", _ROUND, str(session), str(warehouse), str(tree)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    warehouse.unlink(missing_ok=True)
    figures: dict[str, float] = json.loads(out)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--tree", type=Path, action="append", help="a source tree (its src/); repeatable"
    )
    parser.add_argument("--json", type=Path, help="write the medians as JSON to this file")
    args = parser.parse_args()
    trees: list[Path] = args.tree or [HERE.parent / "src"]
    with tempfile.TemporaryDirectory(prefix="agentlytics-stages-") as tmp:
        session = Path(tmp) / "session.jsonl"
        build_session(session, args.messages)  # as bench_replay (a)-(c)
        rounds: dict[Path, list[dict[str, float]]] = {tree: [] for tree in trees}
        for _ in range(args.rounds):
            for tree in trees:
                rounds[tree].append(one_round(session, Path(tmp) / "w.duckdb", tree))
    med = statistics.median
    results = {}
    for tree, runs in rounds.items():
        lines, events = runs[0]["lines"], runs[0]["events"]
        per_line = {s: med(run[s] for run in runs) / lines * 1e6 for s in STAGES}
        replay = sum(per_line[s] for s in STAGES if s not in ("orjson", "line"))
        results[str(tree)] = {
            "compiled": bool(runs[0]["compiled"]),
            "lines": lines,
            "events": events,
            "us_per_line": per_line,
            "replay_us_per_line": replay,
            "orjson_vs_replay": per_line["orjson"] / replay,
        }
    print(
        f"{args.rounds} round(s) of {lines:,} lines ({events:,} events); CPU µs per line, medians"
    )
    print(
        f"{'stage':16}"
        + "".join(f"{Path(t).parent.name + '/' + Path(t).name:>22}" for t in results)
    )
    print(f"{'(compiled)':16}" + "".join(f"{r['compiled']!s:>22}" for r in results.values()))
    for stage in STAGES:
        print(f"{stage:16}" + "".join(f"{r['us_per_line'][stage]:22.2f}" for r in results.values()))
    print(
        f"{'replay total':16}"
        + "".join(f"{r['replay_us_per_line']:22.2f}" for r in results.values())
    )
    print(
        f"{'orjson ÷ total':16}"
        + "".join(f"{r['orjson_vs_replay']:22.3f}" for r in results.values())
    )
    print("(total: every stage but orjson and line, which observe already includes)")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
