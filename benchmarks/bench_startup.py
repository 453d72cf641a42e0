"""Start-up time of `changegate --help` and each `changegate <command> --help`.

Target (issue 2): within 150 ms on the reference machine. Every gate imports its heavy libraries
lazily; this benchmark is the guard that it stays that way.

Run: .venv/bin/python benchmarks/bench_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from changegate.cli import COMMANDS as SUBCOMMANDS

TARGET_MS = 150.0
COMMANDS = [["--help"], *([name, "--help"] for name in SUBCOMMANDS)]


def measure(args: list[str], runs: int) -> float:
    """Median wall time in ms of `python -m changegate ARGS` (interpreter start included)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "changegate", *args], check=True,
                       capture_output=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def bare_python(runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    options = parser.parse_args()
    baseline = bare_python(options.runs)
    print(f"python -c pass                     {baseline:7.1f} ms (interpreter alone)")
    worst = 0.0
    for args in COMMANDS:
        ms = measure(args, options.runs)
        worst = max(worst, ms)
        print(f"changegate {' '.join(args):<24}{ms:7.1f} ms")
    verdict = "OK" if worst <= TARGET_MS else "TOO SLOW"
    print(f"slowest: {worst:.1f} ms, target {TARGET_MS:.0f} ms: {verdict} "
          f"(ratio to target {TARGET_MS / worst:.1f}x headroom)")
    return 0 if worst <= TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
