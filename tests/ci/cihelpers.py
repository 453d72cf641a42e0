"""Helpers for the CI integration tests: real runners (act, gitlab-ci-local) on real repositories.

The tests run the shipped GitHub actions and GitLab templates exactly as a user's pipeline would:
the action or template installs changegate with scripts/install-action.sh from a copy of this
source tree (PyPI packages, cached under /tmp/changegate-test-cache so a session downloads them
once), and the gate verifies commits that `git commit -S` really signed with ssh-keygen keys.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ZERO = "0" * 40
CACHE = Path(os.environ.get("CHANGEGATE_TEST_CACHE", "/tmp/changegate-test-cache"))

# What a user's copy of the action (a checkout of changegate at one commit) contains.
SOURCE_ITEMS = ("action.yml", "actions", "scripts", "requirements", "src", "pyproject.toml",
                "gitlab-templates")

ACT = ROOT / ".venv" / "bin" / "act"
GITLAB_CI_LOCAL = ROOT / ".tools" / "node_modules" / ".bin" / "gitlab-ci-local"

_clock = itertools.count(1_750_000_000, 60)


def require_tool(path: Path | str, how: str) -> str:
    """The tool's path; a skip where it is genuinely absent, but a failure in CI (CI=true).

    In CI a missing runner means the integration was not tested, which must not look green.
    """
    found = shutil.which(str(path)) if not Path(path).is_absolute() else (
        str(path) if os.access(path, os.X_OK) else None)
    if found:
        return found
    message = f"{path} is not installed ({how})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI must run this test", pytrace=False)
    pytest.skip(message)


def run(args: Sequence[str | Path], *, cwd: Path | None = None,
        env: Mapping[str, str] | None = None, check: bool = True,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=dict(env) if env else None,
                          capture_output=True, text=True, check=False, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited {proc.returncode}\n--- stdout\n{proc.stdout}"
            f"\n--- stderr\n{proc.stderr}")
    return proc


def base_env(home: Path) -> dict[str, str]:
    """The environment for runners and git: isolated git config, shared package caches."""
    home.mkdir(parents=True, exist_ok=True)
    gitconfig = home / ".gitconfig"
    if not gitconfig.exists():
        gitconfig.write_text(
            "[user]\n\tname = Alice Developer\n\temail = alice@example.com\n"
            "[init]\n\tdefaultBranch = main\n"
            "[protocol \"file\"]\n\tallow = always\n"
            "[advice]\n\tdetachedHead = false\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "GITHUB_", "GITLAB_", "RUNNER_", "CI_"))
           and k not in {"CI", "XDG_CONFIG_HOME", "VIRTUAL_ENV", "PYTHONPATH"}}
    env.update({
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
        "UV_CACHE_DIR": str(CACHE / "uv"),
        "PIP_CACHE_DIR": str(CACHE / "pip"),
    })
    return env


@dataclass
class SigningKey:
    """An ed25519 key made by ssh-keygen, and its allowed_signers line."""

    path: Path
    email: str

    @classmethod
    def create(cls, directory: Path, email: str) -> SigningKey:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / email.split("@", 1)[0]
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", email, "-f", path])
        return cls(path, email)

    @property
    def allowed_signers_line(self) -> str:
        public = self.path.with_suffix(".pub").read_text(encoding="utf-8").split()
        return f'{self.email} namespaces="git" {public[0]} {public[1]}\n'


POLICY = """\
version: 1
environments:
  production:
    match: {branches: [main, "release/*"]}
    gates: [verify-commits]
gates:
  verify-commits:
    allowed_signers: .github/allowed_signers
    bind: committer
"""


@dataclass
class SampleRepo:
    """A repository like a payments team's: main holds the policy, a feature branch the change."""

    path: Path
    env: dict[str, str]
    key: SigningKey
    commits: dict[str, str] = field(default_factory=dict)

    def git(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        return run(["git", *args], cwd=self.path, env={**self.env, **(env or {})}).stdout.strip()

    def commit(self, name: str, files: Mapping[str, str], *, signed: bool) -> str:
        for rel, content in files.items():
            target = self.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
            self.git("add", "--", rel)
        stamp = f"@{next(_clock)} +0000"
        sign = (["-c", "gpg.format=ssh", "-c", f"user.signingkey={self.key.path}",
                 "commit", "-S"] if signed else ["-c", "commit.gpgsign=false", "commit"])
        self.git(*sign, "--quiet", "-m", name,
                 env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp})
        sha = self.git("rev-parse", "HEAD")
        self.commits[name] = sha
        return sha


def make_sample_repo(root: Path, env: dict[str, str], key: SigningKey, *,
                     unsigned_commit: bool, base_files: Mapping[str, str] | None = None
                     ) -> SampleRepo:
    """main: one signed commit with the policy and allowed_signers; feature: two more commits.

    With `unsigned_commit`, the feature branch's last commit is not signed. `base_files` are
    added to main's commit (e.g. the CI configuration).
    """
    path = root / "sample"
    path.mkdir(parents=True)
    repo = SampleRepo(path, env, key)
    repo.git("init", "-q", "-b", "main")
    repo.git("remote", "add", "origin", "https://gitlab.example/acme/payments.git")
    repo.commit("policy", {".changegate.yml": POLICY,
                           ".github/allowed_signers": key.allowed_signers_line,
                           "README.md": "# payments\n", **(base_files or {})}, signed=True)
    # As in a clone: origin/main and origin/HEAD.
    repo.git("update-ref", "refs/remotes/origin/main", "HEAD")
    repo.git("symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    repo.git("checkout", "-q", "-b", "feature/fees")
    repo.commit("fees", {"fees.py": "RATE = 0.01\n"}, signed=True)
    repo.commit("fees-fix", {"fees.py": "RATE = 0.015\n"}, signed=not unsigned_commit)
    return repo


def copy_source_tree(target: Path) -> Path:
    """A copy of this checkout's action and package files: what `uses: org/changegate@sha` gets."""
    target.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", "*.egg-info")
    for item in SOURCE_ITEMS:
        source = ROOT / item
        if source.is_dir():
            shutil.copytree(source, target / item, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, target / item)
    return target


def act_summaries(log: str) -> str:
    """The job summary as act shows it: each step's `$GITHUB_STEP_SUMMARY`, after `Summary - `.

    (Every step writes its own summary file, which act empties between steps and prints at the
    step's end, as GitHub renders it on the run page; a later step cannot read it back.)
    """
    blocks: list[list[str]] = []
    collecting = False
    for line in log.splitlines():
        if "  Summary - " in line and line.startswith("["):
            blocks.append([line.split("  Summary - ", 1)[1]])
            collecting = True
        elif collecting and not line.startswith("["):
            blocks[-1].append(line)
        else:
            collecting = False
    return "\n\n".join("\n".join(block) for block in blocks)


def job_exit(log: str, job: str) -> int:
    """A job's exit code from gitlab-ci-local's `<job>  finished in 3 s  FAIL 1` line."""
    pattern = re.compile(rf"^{re.escape(job)}\s+finished in .*?(?:(?:FAIL|WARN) (\d+))?\s*$")
    for line in log.splitlines():
        match = pattern.match(line)
        if match:
            return int(match.group(1) or 0)
    raise AssertionError(f"no result for {job} in the log:\n{log[-6000:]}")


def job_verdict(log: str, job: str) -> str:
    """PASS, FAIL or WARN (an allowed failure) from gitlab-ci-local's closing summary."""
    match = re.search(rf"^\s*(PASS|FAIL|WARN)\s+{re.escape(job)}\s", log + "\n", re.MULTILINE)
    assert match, f"no verdict for {job} in the log:\n{log[-6000:]}"
    return match.group(1)


def act_run(act: str, event: str, event_path: Path, workflow: Path, *, repo: Path, source: Path,
            out: Path, env: dict[str, str], tmp_path: Path,
            extra_env: Mapping[str, str] | None = None) -> tuple[int, str]:
    """Run one workflow under act in host mode, as every action test does; returns (rc, log).

    The workflow's first step copies $REPO in (host mode has no checkout) and the action source
    from $CHANGEGATE_ACTION; $OUT is where it leaves steps.json and results. The log is also
    kept as act.log beside the test's files.
    """
    variables = {"REPO": str(repo), "CHANGEGATE_ACTION": str(source), "OUT": str(out),
                 "GITHUB_REPOSITORY": "acme/payments", **(extra_env or {}),
                 "UV_CACHE_DIR": env["UV_CACHE_DIR"], "PIP_CACHE_DIR": env["PIP_CACHE_DIR"]}
    args: list[str | Path] = [act, event, "-e", event_path, "-W", workflow,
                              "-P", "ubuntu-latest=-self-hosted", "--action-offline-mode",
                              "--action-cache-path", tmp_path / "act-cache", "--no-cache-server"]
    for name, value in variables.items():
        args += ["--env", f"{name}={value}"]
    proc = run(args, cwd=repo, env=env, check=False, timeout=240)
    log = proc.stdout + proc.stderr
    (tmp_path / "act.log").write_text(log, encoding="utf-8")
    return proc.returncode, log
