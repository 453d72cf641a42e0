"""Verify 100 Sigstore bundles in one `changegate verify` call, beside `sigstore verify` per file.

A release pipeline verifies every artifact before deploying it. sigstore-python's CLI pays its
start-up (about a second: imports, trust root, TUF cache) for every file; changegate builds one
Verifier and reuses it, so each further bundle costs a few milliseconds. Both run offline
against the same local Sigstore instance's trust config; both must accept every bundle (checked
before the ratio is printed), and a tampered bundle must be rejected by both.

Run: .venv/bin/python benchmarks/bench_verify_bundles.py [--bundles 100] [--sigstore-runs N]
(`--sigstore-runs` times only N `sigstore verify` runs and scales to all bundles.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from changegate.testing.sigstore import LocalSigstore

IDENTITY = "https://github.com/acme/payments/.github/workflows/release.yml@refs/heads/main"
ISSUER = "https://token.actions.githubusercontent.com"
BIN = Path(sys.executable).parent


def sign_all(instance: LocalSigstore, root: Path, count: int, trust: Path) -> list[Path]:
    files = []
    for index in range(count):
        path = root / f"artifact-{index:03}.bin"
        path.write_bytes(os.urandom(4096))
        files.append(path)
    env = {**os.environ, "SIGSTORE_IDENTITY_TOKEN": instance.github_token()}
    proc = subprocess.run([sys.executable, "-m", "changegate", "sign", *map(str, files),
                           "--trust-config", str(trust), "--quiet", "--no-verify-after"],
                          env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"signing failed: {proc.stderr}")
    return files


def time_changegate(files: list[Path], trust: Path) -> tuple[float, list[bool]]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "changegate", "verify", *map(str, files),
                           "--trust-config", str(trust), "--cert-identity", IDENTITY,
                           "--cert-oidc-issuer", ISSUER, "--json", "--quiet"],
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    doc = json.loads(proc.stdout)
    return elapsed, [a["verified"] for a in doc["artifacts"]]


def time_sigstore(files: list[Path], trust: Path) -> tuple[float, list[bool]]:
    verdicts = []
    start = time.perf_counter()
    for path in files:
        proc = subprocess.run([str(BIN / "sigstore"), "--trust-config", str(trust), "verify",
                               "identity", "--offline", "--bundle",
                               f"{path}.sigstore.json", "--cert-identity", IDENTITY,
                               "--cert-oidc-issuer", ISSUER, str(path)],
                              capture_output=True, text=True, check=False)
        verdicts.append(proc.returncode == 0)
    return time.perf_counter() - start, verdicts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundles", type=int, default=100)
    parser.add_argument("--sigstore-runs", type=int, default=None,
                        help="time only this many `sigstore verify` runs and scale")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp, LocalSigstore() as local:
        root = Path(tmp)
        trust = local.write_trust_config(root / "trust.json")
        files = sign_all(local, root, options.bundles, trust)
        # Warm the page cache and Python's bytecode cache for both tools.
        time_changegate(files[:1], trust)
        time_sigstore(files[:1], trust)
        ours, our_verdicts = time_changegate(files, trust)
        sample = files[:options.sigstore_runs] if options.sigstore_runs else files
        theirs, their_verdicts = time_sigstore(sample, trust)
        theirs_all = theirs * len(files) / len(sample)
        assert all(our_verdicts) and len(our_verdicts) == len(files), our_verdicts
        assert all(their_verdicts), their_verdicts
        forged = root / "forged.bin"
        forged.write_bytes(b"not what was signed")
        (root / "forged.bin.sigstore.json").write_bytes(
            Path(f"{files[0]}.sigstore.json").read_bytes())
        assert time_changegate([forged], trust)[1] == [False]
        assert time_sigstore([forged], trust)[1] == [False]
    print(f"bundles:                 {len(files)}")
    print(f"changegate verify (1 call): {ours:8.2f} s  ({ours / len(files) * 1000:6.1f} ms/bundle)")
    scaled = "" if len(sample) == len(files) else f" (scaled from {len(sample)} runs)"
    print(f"sigstore verify per file:   {theirs_all:8.2f} s  "
          f"({theirs_all / len(files) * 1000:6.1f} ms/bundle){scaled}")
    print(f"ratio:                      {theirs_all / ours:8.1f}x faster")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
