"""scripts/install-action.sh on its own: isolated venv, hash-locked deps, this source tree's code.

The actions and templates run whatever this script leaves behind, so its guarantees are tested
directly: the package imports from the action's own `src/` (no build, no copy), the locked
dependencies install on every Python the lock promises (3.10-3.13, where present), a lock whose
hash does not match is refused, and a directory it did not make is never deleted.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from cihelpers import copy_source_tree, run

pytestmark = pytest.mark.slow


def install(source: Path, venv: Path, env: dict[str, str], *, python: str | None = None,
            extra: dict[str, str] | None = None, check: bool = True) -> tuple[int, str, str]:
    environ = {**env, "CHANGEGATE_VENV": str(venv), **(extra or {})}
    if python:
        environ["CHANGEGATE_PYTHON"] = python
    proc = run(["bash", source / "scripts" / "install-action.sh"], cwd=source.parent,
               env=environ, check=check, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def test_installs_the_locked_dependencies_and_imports_changegate_from_the_source_tree(
        tmp_path: Path, ci_env: dict[str, str], source_tree: Path) -> None:
    venv = tmp_path / "venv"
    _, stdout, stderr = install(source_tree, venv, ci_env)
    python = stdout.strip().splitlines()[-1]
    assert python == str(venv / "bin" / "python"), stdout
    assert "installed the locked dependencies with uv" in stderr, stderr

    probe = run([python, "-I", "-c",
                 "import changegate, yaml, fastjsonschema, cryptography, pysequoia, os; "
                 "print(os.path.realpath(changegate.__file__))"], env=ci_env)
    assert probe.stdout.strip() == str(source_tree.resolve() / "src/changegate/__init__.py")
    # The CLI runs from the venv, with nothing from the caller's directory on sys.path.
    hijack = tmp_path / "cwd" / "changegate"
    hijack.mkdir(parents=True)
    (hijack / "__init__.py").write_text("raise SystemExit('hijacked')\n", encoding="utf-8")
    (hijack / "__main__.py").write_text("raise SystemExit('hijacked')\n", encoding="utf-8")
    help_text = run([python, "-I", "-m", "changegate", "--help"], cwd=hijack.parent, env=ci_env)
    assert "verify-commits" in help_text.stdout
    # Only what the lock names is installed: no pip, no stray packages.
    site = run([python, "-I", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
               env=ci_env).stdout.strip()
    installed = {re.split(r"-\d", p.name)[0].lower().replace("_", "-")
                 for p in Path(site).glob("*.dist-info")}
    locked = {line.split("==")[0].lower() for line in
              (source_tree / "requirements/action.txt").read_text(encoding="utf-8").splitlines()
              if "==" in line and not line.startswith("#")}
    assert installed - {"uv"} <= locked, installed - locked
    # No pip unless the lock itself names it (pip-audit needs pip as a library).
    assert "pip" not in installed or "pip" in locked

    # A second run with the same lock, Python and source reuses the venv.
    _, stdout_again, stderr_again = install(source_tree, venv, ci_env)
    assert stdout_again.strip().splitlines()[-1] == python
    assert "reusing" in stderr_again


def test_refuses_a_lock_whose_hashes_do_not_match(
        tmp_path: Path, ci_env: dict[str, str]) -> None:
    source = copy_source_tree(tmp_path / "changegate")
    lock = source / "requirements" / "action.txt"
    text = lock.read_text(encoding="utf-8")
    # Every hash of PyYAML replaced: whatever the index serves now fails verification.
    block = re.search(r"^pyyaml==.*?(?=^\S)", text, re.MULTILINE | re.DOTALL)
    assert block is not None
    tampered = re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, block.group(0))
    lock.write_text(text.replace(block.group(0), tampered), encoding="utf-8")
    rc, stdout, stderr = install(source, tmp_path / "venv", ci_env, check=False)
    assert rc == 2, stderr
    assert stdout.strip() == ""
    assert re.search(r"hash", stderr, re.IGNORECASE), stderr


def test_never_deletes_a_directory_it_did_not_make(
        tmp_path: Path, ci_env: dict[str, str], source_tree: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "data.txt").write_text("keep me\n", encoding="utf-8")
    rc, _, stderr = install(source_tree, precious, ci_env, check=False)
    assert rc == 2
    assert "refusing" in stderr
    assert (precious / "data.txt").read_text(encoding="utf-8") == "keep me\n"


def test_reports_an_unusable_python(tmp_path: Path, ci_env: dict[str, str],
                                    source_tree: Path) -> None:
    rc, _, stderr = install(source_tree, tmp_path / "venv", ci_env,
                            python="no-such-python3", check=False)
    assert rc == 2
    assert "not found" in stderr
    on_github = {"GITHUB_ACTIONS": "true"}
    rc, stdout, _ = install(source_tree, tmp_path / "venv", ci_env, python="/bin/true",
                            extra=on_github, check=False)
    assert rc == 2
    assert stdout.startswith("::error title=changegate install::"), stdout


def _interpreters() -> list[str]:
    """Python 3.10-3.13 interpreters on this machine: on PATH, else installed by pyenv."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = []
    for minor in (10, 11, 12, 13):
        candidates = [shutil.which(f"python3.{minor}") or "",
                      *map(str, sorted(pyenv.glob(f"3.{minor}.*/bin/python3.{minor}")))]
        for path in filter(None, candidates):
            if run([path, "-c", "pass"], check=False).returncode == 0:
                found.append(path)
                break
    return found


@pytest.mark.parametrize("python", _interpreters() or ["python3"])
def test_the_lock_installs_on_every_supported_python(
        tmp_path: Path, ci_env: dict[str, str], source_tree: Path, python: str) -> None:
    # pip alone (the fallback when uv cannot run) on the oldest interpreter, uv on the others.
    no_uv = {"CHANGEGATE_NO_UV": "true"} if python.endswith("3.10") else {}
    _, stdout, stderr = install(source_tree, tmp_path / "venv", ci_env, python=python,
                                extra=no_uv)
    venv_python = stdout.strip().splitlines()[-1]
    assert ("with pip" if no_uv else "with uv") in stderr
    out = run([venv_python, "-I", "-c",
               "import sys, changegate, yaml, fastjsonschema, cryptography, pysequoia; "
               "print(sys.version_info[:2])"], env=ci_env).stdout
    if python != "python3":
        assert out.strip() == str(tuple(int(x) for x in
                                        os.path.basename(python)[6:].split("."))), out
