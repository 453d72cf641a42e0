"""Reproducible builds of changegate's sdist and wheel, from one commit and a hash-locked backend.

Why each step:
- The source is `git archive` of the commit, never the working tree: untracked or edited files
  cannot end up in a release, and the build does not depend on the checkout's file modes/times.
- The build backend (hatchling) and its dependencies come from requirements/build.txt of that
  same commit, installed with `--require-hashes --only-binary :all:` into a virtualenv of their
  own: the bytes of the backend are fixed, not whatever version the machine happens to have.
- SOURCE_DATE_EPOCH is the commit's timestamp, so timestamps inside the archives come from the
  commit, and the same commit builds the same bytes anywhere.
- It builds twice, from two exports at different paths, and then once more the wheel from the
  sdist (what pip does); all three must agree byte for byte, or the release stops.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD_LOCK = "requirements/build.txt"
# A stable environment for the backend: no user site, no hash randomisation, UTC, C locale.
BUILD_ENV = {"PYTHONHASHSEED": "0", "TZ": "UTC", "LC_ALL": "C.UTF-8", "PYTHONNOUSERSITE": "1",
             "PYTHONDONTWRITEBYTECODE": "1"}


class BuildError(RuntimeError):
    """The release cannot be built (or not reproducibly); the message says what to do."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git(root: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise BuildError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def resolve_commit(root: Path, rev: str = "HEAD") -> str:
    return git(root, "rev-parse", "--verify", f"{rev}^{{commit}}")


def commit_epoch(root: Path, commit: str) -> int:
    return int(git(root, "log", "-1", "--format=%ct", commit))


def dirty_paths(root: Path) -> list[str]:
    """Tracked files changed and untracked files not ignored: what a HEAD build leaves out."""
    out = git(root, "status", "--porcelain", "--untracked-files=all")
    return [line[3:] for line in out.splitlines() if line.strip()]


def export(root: Path, commit: str, target: Path) -> Path:
    """The commit's tree, extracted from `git archive` into `target` (no .git)."""
    proc = subprocess.run(["git", "-C", str(root), "archive", "--format=tar", commit],
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise BuildError(f"git archive {commit} failed: {proc.stderr.decode(errors='replace')}")
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as archive:
        _extract(archive, target, f"commit {commit[:12]}")
    return target


def _extract(archive: tarfile.TarFile, target: Path, what: str) -> None:
    """Extract with the `data` filter: no absolute paths, no links out of the tree."""
    if not hasattr(tarfile, "data_filter"):  # pragma: no cover - Python < 3.10.12
        for member in archive.getmembers():
            if member.name.startswith("/") or ".." in Path(member.name).parts or (
                    member.issym() and member.linkname.startswith("/")):
                raise BuildError(f"{what} holds {member.name!r}, which would land outside "
                                 "the build directory")
        archive.extractall(target)  # noqa: S202 - checked above
        return
    try:
        archive.extractall(target, filter="data")
    except tarfile.FilterError as exc:
        raise BuildError(f"{what} holds a file that would land outside the build directory "
                         f"or link out of it: {exc}") from exc


def _uv_command() -> list[str] | None:
    probe = subprocess.run([sys.executable, "-m", "uv", "--version"], capture_output=True,
                           check=False)
    if probe.returncode == 0:
        return [sys.executable, "-m", "uv"]
    found = shutil.which("uv")
    return [found] if found else None


def backend_env(lock: Path, cache: Path) -> Path:
    """A virtualenv with exactly the locked build requirements; reused while the lock is equal.

    Returns its Python. Installed with uv (or pip) with --require-hashes, wheels only.
    """
    if not lock.is_file():
        raise BuildError(f"no build lock at {lock}: requirements/build.txt pins the build backend "
                         "with hashes (scripts/lock-requirements.sh writes it)")
    key = hashlib.sha256(lock.read_bytes() + sys.version.encode()).hexdigest()[:16]
    venv = cache / f"build-env-{key}"
    python = venv / "bin" / "python"
    marker = venv / ".changegate-build-env"
    if marker.is_file() and python.exists():
        return python
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-I", "-m", "venv", "--without-pip", str(venv)], check=True,
                   capture_output=True)
    uv = _uv_command()
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    if uv:
        command = [*uv, "pip", "install", "--no-config", "--quiet", "--python", str(python),
                   "--require-hashes", "--only-binary", ":all:", "-r", str(lock)]
    else:
        command = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                   "--require-hashes", "--only-binary", ":all:", "-r", str(lock)]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        shutil.rmtree(venv, ignore_errors=True)
        raise BuildError(f"could not install the build lock {lock}:\n{proc.stderr}")
    marker.write_text(lock.read_text(encoding="utf-8"), encoding="utf-8")
    return python


def build_system(source: Path) -> tuple[str, list[str]]:
    """pyproject.toml's build-backend and requires (tomllib, or a plain parse on 3.10)."""
    text = (source / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib

        data = tomllib.loads(text).get("build-system", {})
        return str(data.get("build-backend", "")), list(data.get("requires", []))
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        backend = re.search(r'^build-backend\s*=\s*"([^"]+)"', text, re.MULTILINE)
        requires = re.search(r"^requires\s*=\s*\[(.*?)\]", text, re.MULTILINE | re.DOTALL)
        names = re.findall(r'"([^"]+)"', requires.group(1)) if requires else []
        return (backend.group(1) if backend else ""), names


_BUILD = """\
import importlib, json, sys
backend = importlib.import_module(sys.argv[1])
out = sys.argv[2]
names = []
if sys.argv[3] == "1":
    names.append(backend.build_sdist(out))
names.append(backend.build_wheel(out))
import importlib.metadata as md
print(json.dumps({"files": names, "backend": sys.argv[1].split(".")[0],
                  "backend_version": md.version(sys.argv[1].split(".")[0])}))
"""


def build_once(python: Path, source: Path, out: Path, epoch: int, *, sdist: bool = True
               ) -> dict[str, object]:
    """Run the PEP 517 hooks (sdist and wheel) in `source`, writing into `out`."""
    backend, _ = build_system(source)
    if not backend:
        raise BuildError(f"{source}/pyproject.toml names no build-backend")
    out.mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(out),
           **BUILD_ENV, "SOURCE_DATE_EPOCH": str(epoch)}
    old_umask = os.umask(0o022)
    try:
        proc = subprocess.run([str(python), "-I", "-c", _BUILD, backend, str(out),
                               "1" if sdist else "0"],
                              cwd=source, env=env, capture_output=True, text=True, check=False)
    finally:
        os.umask(old_umask)
    if proc.returncode != 0:
        raise BuildError(f"the build backend failed in {source}:\n{proc.stderr[-4000:]}")
    info: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return info


@dataclass
class Build:
    """What the release ships and how it was made."""

    commit: str
    source_date_epoch: int
    artifacts: list[Path]
    digests: dict[str, str]
    backend: str
    backend_version: str
    lock_sha256: str
    checks: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"commit": self.commit, "source_date_epoch": self.source_date_epoch,
                "artifacts": {p.name: {"sha256": self.digests[p.name], "size": p.stat().st_size}
                              for p in self.artifacts},
                "backend": {"name": self.backend, "version": self.backend_version,
                            "lock_sha256": self.lock_sha256},
                "reproducible": self.checks}


def _digests(directory: Path) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in sorted(directory.iterdir()) if p.is_file()}


def reproducible_build(root: Path, commit: str, out: Path, *, lock: Path | None = None,
                       epoch: int | None = None, cache: Path | None = None,
                       environ: Mapping[str, str] | None = None) -> Build:
    """Build `commit` twice (two exports) plus the wheel from the sdist; all must be equal.

    `lock` defaults to the commit's own requirements/build.txt. The artifacts are copied to
    `out` (created; existing artifacts of the same name are replaced).
    """
    environ = os.environ if environ is None else environ
    epoch = epoch if epoch is not None else int(environ.get("SOURCE_DATE_EPOCH")
                                               or commit_epoch(root, commit))
    cache = cache or Path(environ.get("CHANGEGATE_RELEASE_CACHE")
                          or Path(tempfile.gettempdir()) / "changegate-release-cache")
    with tempfile.TemporaryDirectory(prefix="changegate-build-") as tmp:
        work = Path(tmp)
        first = export(root, commit, work / "a" / "changegate")
        second = export(root, commit, work / "second-export-elsewhere" / "src" / "changegate")
        lock_path = lock or first / BUILD_LOCK
        python = backend_env(lock_path, cache)
        lock_sha256 = sha256_file(lock_path)
        info = build_once(python, first, work / "out-a", epoch)
        build_once(python, second, work / "out-b", epoch)
        a, b = _digests(work / "out-a"), _digests(work / "out-b")
        if a != b:
            raise BuildError("not reproducible: two builds of the same commit differ:\n"
                             + "\n".join(f"  {name}: {a.get(name)} != {b.get(name)}"
                                         for name in sorted(set(a) | set(b))
                                         if a.get(name) != b.get(name)))
        sdists = [n for n in a if n.endswith(".tar.gz")]
        wheels = [n for n in a if n.endswith(".whl")]
        if len(sdists) != 1 or len(wheels) != 1:
            raise BuildError(f"expected one sdist and one wheel, got {sorted(a)}")
        with tarfile.open(work / "out-a" / sdists[0]) as archive:
            _extract(archive, work / "from-sdist", sdists[0])
        (unpacked,) = (work / "from-sdist").iterdir()
        build_once(python, unpacked, work / "out-c", epoch, sdist=False)
        c = _digests(work / "out-c")
        if c.get(wheels[0]) != a[wheels[0]]:
            raise BuildError(f"not reproducible: the wheel built from the sdist ({c}) differs "
                             f"from the wheel built from the tree ({a[wheels[0]]})")
        out.mkdir(parents=True, exist_ok=True)
        artifacts = []
        for name in (sdists[0], wheels[0]):
            target = out / name
            shutil.copyfile(work / "out-a" / name, target)
            artifacts.append(target)
    return Build(commit=commit, source_date_epoch=epoch, artifacts=artifacts,
                 digests={p.name: a[p.name] for p in artifacts},
                 backend=str(info["backend"]), backend_version=str(info["backend_version"]),
                 lock_sha256=lock_sha256,
                 checks=["two exports of the commit at different paths: identical sdist and "
                         "wheel", "the wheel built from the sdist: identical"])
