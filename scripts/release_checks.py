"""Release preconditions that need no build: one version everywhere, pins that cannot move.

- One version number: pyproject.toml, `changegate.__version__`, and the
  `# changegate-version: X.Y.Z` line of every GitHub action, GitLab template and catalog copy.
- Nothing in our own CI files refers to something that can change under a pinned user: every
  `uses:` is local or a full commit SHA, every image literal carries a digest, no URL names a
  branch or `latest`, and the installer takes the hash-locked requirements beside it (same commit).
- The CHANGELOG has a section for the version, with its upgrade notes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
VERSION = re.compile(r"^\d+\.\d+\.\d+$")
MARKER = re.compile(r"^# changegate-version: (\S+)[ \t]*$", re.MULTILINE)
SHA = re.compile(r"^[0-9a-f]{40}$")


def action_files(root: Path) -> list[Path]:
    return [p for p in [root / "action.yml", *sorted((root / "actions").glob("*/action.yml"))]
            if p.is_file()]


def template_files(root: Path) -> list[Path]:
    return sorted((root / "gitlab-templates").glob("*.yml"))


def catalog_files(root: Path) -> list[Path]:
    return sorted((root / "templates").glob("*.yml"))


def workflow_files(root: Path) -> list[Path]:
    base = root / ".github" / "workflows"
    return sorted([*base.glob("*.yml"), *base.glob("*.yaml")])


def project_version(root: Path) -> str | None:
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    project = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.MULTILINE | re.DOTALL)
    match = re.search(r'^version\s*=\s*"([^"]+)"', project.group(1) if project else "",
                      re.MULTILINE)
    return match.group(1) if match else None


def package_version(root: Path) -> str | None:
    text = (root / "src" / "changegate" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__\s*=\s*"([^"]+)"', text, re.MULTILINE)
    return match.group(1) if match else None


def marker(path: Path) -> str | None:
    found = MARKER.findall(path.read_text(encoding="utf-8"))
    return found[0] if len(found) == 1 else None


def versions(root: Path) -> dict[str, str | None]:
    """Where the version is written -> the version found there (None: missing or ambiguous)."""
    found: dict[str, str | None] = {
        "pyproject.toml": project_version(root),
        "src/changegate/__init__.py": package_version(root),
    }
    for path in [*action_files(root), *template_files(root), *catalog_files(root)]:
        found[path.relative_to(root).as_posix()] = marker(path)
    return found


def version_problems(root: Path, expected: str | None = None) -> list[str]:
    found = versions(root)
    expected = expected or found["pyproject.toml"]
    problems = []
    if not expected or not VERSION.match(expected):
        problems.append(f"the version must be X.Y.Z, got {expected!r}")
    for where, value in found.items():
        if value is None:
            problems.append(f"{where}: no `# changegate-version: X.Y.Z` line"
                            if where.endswith(".yml") else f"{where}: no version")
        elif value != expected:
            problems.append(f"{where}: version {value}, expected {expected}")
    return problems


# -- pins -----------------------------------------------------------------------------------------

_INTERPOLATION = re.compile(r"\$\[\[|\$\{\{")
_MOVING_URL = re.compile(
    r"https?://[^\s'\"<>)]*?(?:/(?:main|master|HEAD|latest|develop)(?:/|$)|"
    r"@(?:main|master|HEAD|latest|v\d+(?:\.\d+)*)(?:[/\s]|$)|/releases/latest\b)")


def _walk(node: Any, key: str | None = None) -> Any:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, str(k))
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, key)
    else:
        yield key, node


def _uses_problem(value: str) -> str | None:
    if value.startswith("./"):
        return None
    if value.startswith("docker://"):
        return None if "@sha256:" in value else "a container image without a digest"
    ref = value.rsplit("@", 1)[1] if "@" in value else ""
    return None if SHA.match(ref) else f"not pinned to a full commit SHA ({value})"


def _image_problem(value: str) -> str | None:
    if not value or _INTERPOLATION.search(value):
        return None
    return None if re.search(r"@sha256:[0-9a-f]{64}$", value) else \
        f"image without a digest ({value})"


def yaml_documents(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def moving_references(root: Path) -> list[str]:
    """Everything in our own CI files that a pin could not hold still."""
    problems: list[str] = []
    files = [*action_files(root), *template_files(root), *catalog_files(root),
             *workflow_files(root)]
    for path in files:
        rel = path.relative_to(root).as_posix()
        for document in yaml_documents(path):
            for key, value in _walk(document):
                if not isinstance(value, str):
                    continue
                problem = None
                if key == "uses":
                    problem = _uses_problem(value.strip())
                elif key in {"image", "container"}:
                    problem = _image_problem(value.strip())
                if problem:
                    problems.append(f"{rel}: {key}: {problem}")
            spec = document.get("spec") if isinstance(document, dict) else None
            if isinstance(spec, dict):
                image = (spec.get("inputs") or {}).get("image") or {}
                problem = _image_problem(str(image.get("default", ""))) if image else None
                if problem:
                    problems.append(f"{rel}: input image: {problem}")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in _MOVING_URL.finditer(line):
                problems.append(f"{rel}:{number}: a URL that names a moving ref: "
                                f"{match.group(0)}")
    problems += installer_problems(root)
    return problems


def installer_problems(root: Path) -> list[str]:
    """The installer must install the locks of its own commit, with hashes, wheels only."""
    path = root / "scripts" / "install-action.sh"
    if not path.is_file():
        return ["scripts/install-action.sh is missing"]
    text = path.read_text(encoding="utf-8")
    problems = []
    for lock in ("requirements/action.txt", "requirements/bootstrap.txt"):
        if f'"$source_dir/{lock}"' not in text:
            problems.append(f"scripts/install-action.sh: does not read $source_dir/{lock}")
    logical = re.sub(r"\\\n\s*", " ", text)
    for number, line in enumerate(logical.splitlines(), 1):
        code = line.split(" #", 1)[0].strip()
        if code.startswith("#"):
            continue
        # A literal `pip install` / `uv pip install`, or the definition of an install array.
        if re.search(r"\bpip3?\s+install\b|^\w*install\w*=\(", code) \
                and "--require-hashes" not in code:
            problems.append(f"scripts/install-action.sh (logical line {number}): an install "
                            f"without --require-hashes: {code}")
    if re.search(r"\b(curl|wget)\b", text):
        problems.append("scripts/install-action.sh: downloads something outside the lock")
    return problems


def action_install_problems(root: Path) -> list[str]:
    """Every action installs from its own checkout ($GITHUB_ACTION_PATH) with the installer."""
    problems = []
    for path in action_files(root):
        rel = path.relative_to(root).as_posix()
        (action,) = yaml_documents(path)
        steps = action.get("runs", {}).get("steps", [])
        install = next((s for s in steps if "install-action.sh" in str(s.get("run", ""))), None)
        if install is None:
            problems.append(f"{rel}: no step runs scripts/install-action.sh")
        elif "$GITHUB_ACTION_PATH" not in install["run"]:
            problems.append(f"{rel}: the installer is not taken from the action's own checkout")
    return problems
