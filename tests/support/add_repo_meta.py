"""Give a recorded capture the ``thread_repo`` metadata lines the tap's recorder writes.

The shared scenario captures are recorded by ``capture.py`` in a throwaway repository with
no remote, so they carry no repo identity. The bundled examples demonstrate attribution, so
they get the lines a recording in a clone of ``--remote`` on branch ``--branch`` would have
had: after the first server line naming each thread's cwd, exactly where
:class:`agentlytics.observe.recorder.CaptureRecorder` puts them, with ``repo_hash`` computed by
the function the fingerprint events use. Later lines are renumbered (``seq`` only; every
other byte is kept). Idempotent: a capture that already has metadata is left alone.

    PYTHONPATH=src .venv/bin/python -m tests.support.add_repo_meta \\
        --remote https://github.com/example/session.git --branch main examples/*.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from agentlytics.fingerprints.remote import repo_hash_for_url
from agentlytics.observe.meta import ThreadRepo, capture_thread_cwd, meta_record, repo_name_for_url

_SEQ = re.compile(rb'^\{"seq": \d+')


def annotate(lines: list[bytes], remote: str, branch: str | None) -> list[bytes]:
    """The capture's lines with a metadata line after each thread's first cwd."""
    out: list[bytes] = []
    seen: set[str] = set()
    for line in lines:
        record = json.loads(line)
        out.append(_SEQ.sub(b'{"seq": %d' % len(out), line))
        if record.get("dir") != "server_to_client":
            continue
        learned = capture_thread_cwd(line)
        if learned is None or learned[0] in seen:
            continue
        seen.add(learned[0])
        meta = ThreadRepo(
            "thread_repo", learned[0], repo_hash_for_url(remote), repo_name_for_url(remote), branch
        )
        out.append(meta_record(len(out), record["ts_ms"], meta))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--remote", required=True)
    parser.add_argument("--branch", default=None)
    parser.add_argument("captures", nargs="+", type=Path)
    args = parser.parse_args()
    for path in args.captures:
        lines = path.read_bytes().splitlines(keepends=True)
        if any(json.loads(line).get("dir") == "meta" for line in lines):
            print(f"{path}: already has metadata")
            continue
        annotated = annotate(lines, args.remote, args.branch)
        path.write_bytes(b"".join(annotated))
        print(f"{path}: {len(annotated) - len(lines)} metadata line(s)")


if __name__ == "__main__":
    main()
