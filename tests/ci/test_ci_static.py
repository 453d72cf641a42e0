"""Static rules for the actions, templates, installer and lock (fast; no runner needed).

The rules are the project's: inputs reach a shell only through `env:`/variables, never through
`${{ }}` or `$[[ ]]` text in a script; no remote `uses:`; no global keywords in a template;
every input described and typed; every dependency pinned with hashes; zizmor and shellcheck
clean.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cihelpers import ROOT, require_tool, run
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None

# Every action and template the project ships: a new one is checked the moment it exists.
ACTIONS = [ROOT / "action.yml", *sorted((ROOT / "actions").glob("*/action.yml"))]
TEMPLATES = sorted((ROOT / "gitlab-templates").glob("*.yml"))
SCRIPTS = sorted((ROOT / "scripts").glob("*.sh"))
# Top-level keywords that would change the including pipeline, not just add a job.
GLOBAL_KEYWORDS = {"stages", "default", "variables", "workflow", "include", "image", "services",
                   "before_script", "after_script", "cache", "spec", "pages"}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def template(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    header, body = yaml.safe_load_all(path.read_text(encoding="utf-8"))
    return header["spec"]["inputs"], body


def shellcheck(script: str, shell: str) -> str:
    tool = require_tool("shellcheck", "Debian package shellcheck: scripts/setup-tools.sh")
    proc = subprocess.run([tool, "-s", shell, "-"], input=script, capture_output=True,
                          text=True, check=False)
    return proc.stdout


# -- GitHub actions ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", ACTIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_action_is_composite_with_inputs_only_through_env(path: Path) -> None:
    action = load(path)
    assert action["runs"]["using"] == "composite"
    for name, spec in action["inputs"].items():
        assert spec.get("description"), f"input {name} has no description"
    for name, spec in action["outputs"].items():
        assert spec.get("description"), f"output {name} has no description"
        assert spec["value"].startswith("${{ steps."), name
    assert {"status", "exit-code", "findings", "result-json"} <= set(action["outputs"])
    used = set()
    for step in action["runs"]["steps"]:
        assert "uses" not in step, "no action may depend on another, remote or local"
        assert step["shell"] == "bash"
        assert "${{" not in step["run"], f"expression inside run: in step {step.get('name')}"
        for value in step.get("env", {}).values():
            used.update(re.findall(r"inputs\.([a-z0-9-]+)", str(value)))
    assert used == set(action["inputs"]), "every input is passed through env:, and only there"


@pytest.mark.parametrize("path", ACTIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_action_scripts_are_shellcheck_clean(path: Path) -> None:
    for step in load(path)["runs"]["steps"]:
        assert shellcheck("#!/usr/bin/env bash\n" + step["run"], "bash") == ""


def test_zizmor_finds_nothing() -> None:
    zizmor = require_tool(ROOT / ".venv" / "bin" / "zizmor", "PyPI zizmor in the dev venv")
    proc = run([zizmor, "--offline", "--persona", "pedantic", "action.yml", "actions/"],
               cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings" in proc.stdout + proc.stderr


# -- GitLab templates -------------------------------------------------------------------------

@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_inputs_are_typed_described_and_constrained(path: Path) -> None:
    inputs, _ = template(path)
    for name in ("stage", "job-prefix", "image", "source-url", "source-ref", "policy",
                 "environment", "fail-on-error"):
        assert name in inputs, name
    for name, spec in inputs.items():
        assert spec.get("description"), f"{name}: no description"
        assert spec.get("type") in {"string", "boolean", "number", "array"}, name
        if spec["type"] == "string":
            assert "regex" in spec or "options" in spec, f"{name}: neither regex nor options"
        if "regex" in spec:
            pattern = re.compile(spec["regex"])
            if "default" in spec:
                assert pattern.fullmatch(str(spec["default"])), f"{name}: default fails regex"
    assert re.fullmatch(inputs["source-ref"]["regex"], "a" * 40)
    assert not re.fullmatch(inputs["source-ref"]["regex"], "main")
    assert not re.fullmatch(inputs["policy"]["regex"], "x; rm -rf /")
    assert "@sha256:" in inputs["image"]["default"]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_adds_one_job_and_no_global_keywords(path: Path) -> None:
    inputs, body = template(path)
    assert not GLOBAL_KEYWORDS & set(body), GLOBAL_KEYWORDS & set(body)
    (name, job), = body.items()
    assert name.startswith("$[[ inputs.job-prefix ]]")
    assert job["stage"] == "$[[ inputs.stage ]]"
    assert job["image"] == "$[[ inputs.image ]]"
    reports = job["artifacts"]["reports"]
    assert reports["codequality"] == "gl-code-quality-report.json"
    assert reports["junit"] == "changegate-junit.xml"
    assert reports["dotenv"] == "changegate.env"
    assert job["artifacts"]["when"] == "always"
    # Inputs reach the script only as variables; the one exception is typed boolean.
    script = "\n".join(job["script"])
    for used in re.findall(r"\$\[\[\s*inputs\.([a-z0-9-]+)", script):
        assert inputs[used]["type"] == "boolean", f"{used} interpolated into the script"
    referenced = set(re.findall(r"inputs\.([a-z0-9-]+)", path.read_text(encoding="utf-8")
                                .split("\n---\n", 1)[1]))
    assert referenced == set(inputs), set(inputs) ^ referenced


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_script_is_shellcheck_clean_as_sh_and_bash(path: Path) -> None:
    _, body = template(path)
    (job,) = body.values()
    script = "\n".join(job["script"]).replace("$[[ inputs.fail-on-error ]]", "true")
    for shell in ("sh", "bash"):
        assert shellcheck(script, shell) == "", shell


# -- scripts and lock -------------------------------------------------------------------------

@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_scripts_are_strict_and_shellcheck_clean(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert shellcheck(text, "bash") == ""


def locked(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) for every requirement of a hash-locked requirements file."""
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    entries: dict[str, tuple[str, list[str]]] = {}
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        spec, *options = line.split(" --hash=")
        requirement = Requirement(spec.strip())
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", line
        hashes = [o.strip() for o in options]
        assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), line
        key = canonicalize_name(requirement.name)
        if key in entries:  # the same package pinned per Python version (markers)
            key = f"{key};{requirement.marker}"
        entries[key] = (specifier.version, hashes)
    return entries


def test_lock_pins_every_dependency_with_hashes() -> None:
    action = locked(ROOT / "requirements" / "action.txt")
    names = {k.split(";")[0] for k in action}
    assert {"pyyaml", "fastjsonschema", "cryptography", "pysequoia"} <= names
    bootstrap = locked(ROOT / "requirements" / "bootstrap.txt")
    assert set(bootstrap) == {"uv"}


@pytest.mark.skipif(tomllib is None, reason="tomllib needs Python 3.11")
def test_lock_inputs_match_pyproject() -> None:
    """requirements/action.in == the package's dependencies plus every extra (what `check` runs)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = {str(Requirement(r)) for r in project["dependencies"]}
    for requirements in project.get("optional-dependencies", {}).values():
        wanted |= {str(Requirement(r)) for r in requirements
                   if canonicalize_name(Requirement(r).name) != "changegate"}
    lines = (ROOT / "requirements" / "action.in").read_text(encoding="utf-8").splitlines()
    have = {str(Requirement(line)) for line in lines if line.strip() and not line.startswith("#")}
    assert have == wanted, "update requirements/action.in and run scripts/lock-requirements.sh"
    # And the lock satisfies them.
    versions = {k.split(";")[0]: v for k, (v, _) in
                locked(ROOT / "requirements" / "action.txt").items()}
    for text in wanted:
        requirement = Requirement(text)
        version = versions.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement.name} is not in requirements/action.txt"
        assert requirement.specifier.contains(version), (requirement, version)
