"""Side by side: `changegate sbom --python` against `cyclonedx-py environment`, same environment.

What it does (network to PyPI is needed once, to build the venvs; they are cached):
1. builds a target virtualenv of 78 pinned packages (the environment both tools describe);
2. installs each tool in its own virtualenv, as CI would (bytecode compiled, no shared deps):
   the peer is PyPI `cyclonedx-bom` (default JSON-schema validation on), ours is this checkout
   built as a wheel plus the `sbom` extra's dependencies;
3. runs each tool RUNS times as a command and reports the median wall time and the peak RSS
   of the process (from wait4), the ratio, and parity: the set of (name, version) each finds;
4. cross-checks exactness: our document must pass the peer library's own (slow, lark-based)
   validator, and the peer's document must pass ours.

Usage: .venv/bin/python benchmarks/bench_sbom.py [--runs N] [--workdir DIR] [--no-cross-check]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]

TARGET_PACKAGES = [
    "annotated-types==0.8.0", "anyio==4.16.0", "attrs==26.1.0", "blinker==1.9.0",
    "boolean-py==5.0", "boto3==1.44.8", "botocore==1.44.8", "cachecontrol==0.14.4",
    "certifi==2026.10.19.post1", "cffi==2.1.1", "charset-normalizer==3.5.3", "click==8.5.1",
    "cryptography==50.0.2", "cyclonedx-python-lib==11.12.0", "defusedxml==0.7.1",
    "dnspython==2.9.2", "email-validator==2.4.0", "filelock==4.3.1", "flask==3.1.3", "h11==0.16.0",
    "httpcore==1.0.9", "httpx==0.28.1", "id==1.6.1", "idna==3.20", "iniconfig==2.3.1",
    "itsdangerous==2.2.0", "jinja2==3.1.6", "jmespath==1.1.0", "jsonschema==4.26.0",
    "jsonschema-specifications==2025.9.1", "license-expression==30.4.4", "markdown-it-py==4.3.0",
    "markupsafe==3.0.4", "mdurl==0.1.2", "msgpack==1.2.4", "packageurl-python==0.17.6",
    "packaging==26.4", "pip==26.3", "pip-api==0.0.35", "pip-audit==2.10.1",
    "pip-requirements-parser==32.0.1", "platformdirs==4.14.8", "pluggy==1.7.0",
    "py-serializable==2.2.0", "pycparser==3.12", "pydantic==2.14.4", "pydantic-core==2.50.5",
    "pygithub==2.10.0", "pygments==2.21.0", "pyjwt==2.15.1", "pynacl==1.6.2", "pyparsing==3.3.3",
    "pytest==9.2.0", "python-dateutil==2.9.0.post0", "python-gitlab==8.6.0", "referencing==0.37.0",
    "requests==2.34.2", "requests-toolbelt==1.0.0", "rfc3161-client==1.0.9", "rfc8785==0.1.4",
    "rich==15.0.0", "rpds-py==2026.9.1", "s3transfer==0.19.3", "securesystemslib==1.6.0",
    "sigstore==4.5.1", "sigstore-models==0.0.6", "sigstore-rekor-types==0.0.18", "six==1.17.0",
    "sortedcontainers==2.4.0", "sqlalchemy==2.1.9", "tomli==2.5.0", "tomli-w==1.2.0", "tuf==7.0.1",
    "typing-extensions==4.16.0", "typing-inspection==0.4.5", "urllib3==2.8.0", "werkzeug==3.1.9",
    "setuptools==80.9.0",
]

PEER = ["cyclonedx-bom==7.5.0"]
# The `sbom` extra, for as long as pyproject.toml does not declare it yet.
SBOM_EXTRA = ["cyclonedx-python-lib>=8,<12", "jsonschema>=4.18", "packageurl-python>=0.11",
              "packaging>=22", "lxml>=4", 'tomli>=1.1; python_version < "3.11"']


def ours_requirements() -> list[str]:
    """changegate's core dependencies plus its `sbom` extra, as pyproject.toml declares them."""
    with (ROOT / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)["project"]
    extra = project.get("optional-dependencies", {}).get("sbom") or SBOM_EXTRA
    return sorted([*project.get("dependencies", []), *extra])


def _uv_command() -> list[str]:
    """uv from PATH, else the `uv` module of this or of the system interpreter."""
    found = shutil.which("uv")
    if found:
        return [found]
    if importlib.util.find_spec("uv") is not None:
        return [sys.executable, "-m", "uv"]
    return ["python3", "-m", "uv"]


def uv(*args: str) -> None:
    subprocess.run([*_uv_command(), *args], check=True, stdout=subprocess.DEVNULL)


def venv(path: Path, packages: list[str], marker: str) -> Path:
    """A cached virtualenv holding exactly `packages` (rebuilt when the list changes)."""
    python = path / "bin" / "python"
    stamp = path / ".bench-packages"
    wanted = marker + "\n" + "\n".join(packages)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    shutil.rmtree(path, ignore_errors=True)
    uv("venv", "-q", "--python", sys.executable, str(path))
    uv("pip", "install", "-q", "--compile-bytecode", "--python", str(python), *packages)
    stamp.write_text(wanted)
    return python


def ours_venv(path: Path) -> Path:
    """Our checkout built and installed as a wheel (what the action installs), rebuilt always."""
    python = venv(path, ours_requirements(), "ours")
    uv("pip", "install", "-q", "--compile-bytecode", "--reinstall-package", "changegate",
       "--no-deps", "--python", str(python), str(ROOT))
    return python


def measure(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int]:
    """(wall seconds, peak RSS in MiB) of one run of `command`, from wait4's rusage."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    stderr = process.stderr.read().decode() if process.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{command[0]} failed ({code}):\n{stderr}")
    return elapsed, usage.ru_maxrss // 1024


def components(path: Path) -> set[tuple[str, str]]:
    data = json.loads(path.read_text())
    return {(re.sub(r"[-_.]+", "-", c["name"]).lower(), c.get("version", ""))
            for c in data.get("components", [])}


def cross_check(peer_python: Path, ours_python: Path, ours_doc: Path, peer_doc: Path) -> None:
    """Exactness both ways: the peer's full validator on ours, our validator on the peer's."""
    slow = ("import sys; from cyclonedx.schema import SchemaVersion;"
            "from cyclonedx.validation.json import JsonStrictValidator;"
            "e = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read());"
            "print('invalid: ' + str(e) if e else 'valid'); sys.exit(1 if e else 0)")
    fast = ("import sys; from changegate.gates.sbom.validate import validate;"
            "p = validate(open(sys.argv[1]).read(), '1.6', 'json');"
            "print('invalid: ' + '; '.join(map(str, p)) if p else 'valid');"
            "sys.exit(1 if p else 0)")
    for label, python, code, doc in (
            ("peer's validator on our document", peer_python, slow, ours_doc),
            ("our validator on the peer's document", ours_python, fast, peer_doc)):
        result = subprocess.run([str(python), "-c", code, str(doc)], capture_output=True,
                                text=True, check=False)
        print(f"  {label}: {result.stdout.strip() or result.stderr.strip()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "changegate-bench-sbom")
    parser.add_argument("--no-cross-check", action="store_true")
    args = parser.parse_args()
    work: Path = args.workdir
    work.mkdir(parents=True, exist_ok=True)

    print("preparing virtualenvs (cached in", work, ")", flush=True)
    target = venv(work / "target", TARGET_PACKAGES, "target")
    peer = venv(work / "peer", PEER, "peer")
    ours = ours_venv(work / "ours")

    # Our CLI runs in a git checkout (the policy is read from it); an empty repository does.
    project = work / "project"
    if not (project / ".git").exists():
        project.mkdir(exist_ok=True)
        subprocess.run(["git", "init", "-q", str(project)], check=True)
        subprocess.run(["git", "-C", str(project), "-c", "user.name=bench", "-c",
                        "user.email=bench@example.com", "commit", "-q", "--allow-empty", "-m",
                        "bench"], check=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["SOURCE_DATE_EPOCH"] = "1700000000"
    peer_doc, ours_doc = work / "peer.cdx.json", work / "ours.cdx.json"
    peer_cmd = [str(peer.parent / "cyclonedx-py"), "environment", str(target), "--of", "JSON",
                "--sv", "1.6", "-o", str(peer_doc)]
    ours_cmd = [str(ours), "-m", "changegate", "sbom", "--python", str(target), "--output",
                str(ours_doc), "--quiet"]

    timings: dict[str, list[float]] = {"peer": [], "ours": []}
    memory: dict[str, list[int]] = {"peer": [], "ours": []}
    for run in range(args.runs):
        for name, command, cwd in (("peer", peer_cmd, work), ("ours", ours_cmd, project)):
            seconds, rss = measure(command, cwd, env)
            timings[name].append(seconds)
            memory[name].append(rss)
            print(f"  run {run + 1} {name}: {seconds:.3f} s, peak RSS {rss} MiB", flush=True)

    peer_set, ours_set = components(peer_doc), components(ours_doc)
    peer_time, ours_time = statistics.median(timings["peer"]), statistics.median(timings["ours"])
    print()
    print(f"target environment: {target.parent.parent} ({len(TARGET_PACKAGES)} packages pinned)")
    print(f"cyclonedx-py environment (validation on): median {peer_time:.3f} s, "
          f"peak RSS {max(memory['peer'])} MiB, {len(peer_set)} components")
    print(f"changegate sbom --python (validated):     median {ours_time:.3f} s, "
          f"peak RSS {max(memory['ours'])} MiB, {len(ours_set)} components")
    print(f"speed-up: {peer_time / ours_time:.1f}x")
    print(f"parity: only in cyclonedx-py: {sorted(peer_set - ours_set) or 'none'}; "
          f"only in changegate: {sorted(ours_set - peer_set) or 'none'}")
    if not args.no_cross_check:
        print("exactness:")
        cross_check(peer, ours, ours_doc, peer_doc)
    return 0 if peer_set == ours_set else 1


if __name__ == "__main__":
    raise SystemExit(main())
