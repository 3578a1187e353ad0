"""Run every benchmark in bench/ in turn: ``python bench/run.py [--quick]``.

Each ``bench_*.py`` prints its figures next to a baseline measured in the same run; ``--quick``
asks every benchmark for a smaller, faster variant (a smoke test, not a measurement).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    failed = 0
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n=== {script.name} ===", flush=True)
        args = [sys.executable, str(script)]
        if quick:
            args.append("--quick")
        failed += subprocess.run(args).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
