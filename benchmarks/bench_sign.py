"""Signing overhead per artifact, on the local Sigstore instance (no network).

`changegate sign` requests one certificate per run and then, per artifact, hashes it (as a
stream), signs the digest, submits a log entry and (by default) verifies the bundle it got
back. This prints the fixed cost of a run, the marginal cost per artifact with and without the
check after signing, and `sigstore sign` invoked per file for comparison. The local instance
answers in well under a millisecond, so the figures are the client's own work; against the
public-good instance add its network round trips (one certificate per run, one log entry and,
in production, one timestamp per artifact).

Run: .venv/bin/python benchmarks/bench_sign.py [--artifacts 200] [--sigstore-runs 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from changegate.testing.sigstore import LocalSigstore

BIN = Path(sys.executable).parent


def make(root: Path, prefix: str, count: int) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    files = []
    for index in range(count):
        path = root / f"{prefix}-{index:03}.bin"
        path.write_bytes(os.urandom(64 * 1024))
        files.append(path)
    return files


def changegate_sign(local: LocalSigstore, trust: Path, files: list[Path], *extra: str) -> float:
    env = {**os.environ, "SIGSTORE_IDENTITY_TOKEN": local.github_token()}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "changegate", "sign", *map(str, files),
                           "--trust-config", str(trust), "--quiet", *extra], env=env,
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"changegate sign failed: {proc.stderr}")
    assert all(Path(f"{f}.sigstore.json").is_file() for f in files)
    return elapsed


def sigstore_sign(local: LocalSigstore, trust: Path, files: list[Path]) -> float:
    start = time.perf_counter()
    for path in files:
        proc = subprocess.run([str(BIN / "sigstore"), "--trust-config", str(trust), "sign",
                               "--identity-token", local.github_token(), str(path)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"sigstore sign failed: {proc.stderr}")
    return time.perf_counter() - start


def best(local: LocalSigstore, trust: Path, root: Path, count: int, *extra: str,
         repeat: int = 3) -> float:
    """The fastest of `repeat` runs signing `count` fresh artifacts (start-up noise aside)."""
    times = []
    for attempt in range(repeat):
        files = make(root / f"{count}-{'-'.join(extra)}-{attempt}", "x", count)
        times.append(changegate_sign(local, trust, files, *extra))
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--artifacts", type=int, default=200)
    parser.add_argument("--sigstore-runs", type=int, default=5)
    options = parser.parse_args()
    n = options.artifacts
    with tempfile.TemporaryDirectory(prefix="bench-sign-") as tmp, LocalSigstore() as local:
        root = Path(tmp)
        trust = local.write_trust_config(root / "trust.json")
        changegate_sign(local, trust, make(root / "warm", "w", 1))  # warm caches
        one = best(local, trust, root, 1)
        many = best(local, trust, root, n)
        one_fast = best(local, trust, root, 1, "--no-verify-after")
        many_fast = best(local, trust, root, n, "--no-verify-after")
        theirs = sigstore_sign(local, trust, make(root / "sigstore", "d",
                                                  options.sigstore_runs))
        entries = len(local.log.tree)
    per = (many - one) / (n - 1)
    per_fast = (many_fast - one_fast) / (n - 1)
    print(f"changegate sign, 1 artifact (one run, start-up included): {one:6.2f} s")
    print(f"changegate sign, {n} artifacts in one run:               {many:6.2f} s")
    print(f"  marginal cost per artifact, verified after signing:   {per * 1000:6.1f} ms")
    print(f"  marginal cost per artifact, --no-verify-after:         {per_fast * 1000:6.1f} ms")
    print(f"sigstore sign, per file ({options.sigstore_runs} runs):                  "
          f"{theirs / options.sigstore_runs:6.2f} s/artifact")
    print(f"ratio for {n} artifacts: {theirs / options.sigstore_runs * n / many:6.1f}x faster "
          f"than sigstore sign per file")
    print(f"log entries made: {entries} (best of 3 runs per figure)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
