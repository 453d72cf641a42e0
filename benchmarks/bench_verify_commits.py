"""verify-commits beside `git log --format=%G?` on the same 1,000 SSH-signed commits.

git starts ssh-keygen (twice) for every commit; changegate reads all commits in one
`git cat-file --batch` stream and verifies in-process. Both must reach the same verdicts; the
benchmark checks that before it prints the ratio. Target (issue 2): at least 20x faster.

Run: .venv/bin/python benchmarks/bench_verify_commits.py [--commits N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from changegate.testing.sample_repo import SampleRepo

TARGET_RATIO = 20.0


def build(root: Path, count: int) -> tuple[SampleRepo, str, Path]:
    repo = SampleRepo(root / "repo")
    key = repo.ssh_key("bench", "bench@example.com")
    repo.commit("root")
    base = repo.head()
    repo.bulk_ssh_commits(count, key)
    signers = repo.write_allowed_signers(root / "allowed_signers", [key])
    return repo, base, signers


def time_git(repo: SampleRepo, base: str, signers: Path) -> tuple[float, dict[str, bool]]:
    start = time.perf_counter()
    out = subprocess.run(["git", "-c", f"gpg.ssh.allowedSignersFile={signers}", "log",
                          "--format=%H %G?", f"{base}..HEAD"], cwd=repo.path, check=True,
                         capture_output=True, text=True).stdout
    elapsed = time.perf_counter() - start
    return elapsed, {sha: code == "G" for sha, code in (line.split() for line in out.splitlines())}


def time_changegate(repo: SampleRepo, base: str, signers: Path) -> tuple[float, dict[str, bool]]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "changegate", "verify-commits", "--base", base,
                           "--head", "HEAD", "--allowed-signers", str(signers), "--json",
                           "--quiet", "--trust-worktree", "-C", str(repo.path)],
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"changegate failed ({proc.returncode}): {proc.stderr}")
    doc = json.loads(proc.stdout)
    return elapsed, {c["sha"]: c["status"] == "verified" for c in doc["commits"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commits", type=int, default=1000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo, base, signers = build(Path(tmp), options.commits)
        git_s, git_verdicts = time_git(repo, base, signers)
        ours_s, our_verdicts = time_changegate(repo, base, signers)
    same = git_verdicts == our_verdicts
    ratio = git_s / ours_s
    print(f"commits: {options.commits} SSH-signed (ed25519)")
    per_commit = git_s / options.commits * 1000
    print(f"git log --format=%G?      {git_s:8.2f} s  ({per_commit:.2f} ms/commit)")
    print(f"changegate verify-commits {ours_s:8.2f} s  (whole process, start-up included)")
    print(f"same verdicts: {same} ({sum(our_verdicts.values())} verified by both)")
    print(f"ratio: {ratio:.1f}x faster (target {TARGET_RATIO:.0f}x)")
    return 0 if same and ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
