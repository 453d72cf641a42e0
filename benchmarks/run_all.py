"""Run every benchmark in this folder, one after the other, and report which met its target.

Each benchmark runs its gate beside the peer tool on the same input, prints both timings and the
ratio, and exits non-zero when it misses its target; this runner only sequences them.

Run: .venv/bin/python benchmarks/run_all.py [NAME ...]   (names without `bench_` and `.py`)
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    wanted = set(argv)
    scripts = [p for p in sorted(HERE.glob("bench_*.py"))
               if not wanted or p.stem.removeprefix("bench_") in wanted]
    outcomes: list[tuple[str, int, float]] = []
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        start = time.perf_counter()
        code = subprocess.run([sys.executable, str(script)], check=False).returncode
        outcomes.append((script.name, code, time.perf_counter() - start))
    print("\n=== summary ===")
    for name, code, seconds in outcomes:
        print(f"{name:<28} {'met its target' if code == 0 else f'MISSED (exit {code})':<20} "
              f"{seconds:6.1f} s")
    return 0 if all(code == 0 for _, code, _ in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
