"""What a pin holds still: one version everywhere, and no moving reference in our own files.

A security team pins a commit SHA (GitHub) or a tag plus `integrity:` (GitLab). The pin only
holds if nothing inside our files moves: no `uses:` on a tag or branch, no image without a
digest, no URL naming a branch or `latest`, and an installer that takes the hash-locked
requirements of its own commit. Our own workflows use our own actions by local path, and
pass zizmor and shellcheck.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import release_checks
import yaml
from releasehelpers import ROOT, project_version, require_tool, run

WORKFLOWS = release_checks.workflow_files(ROOT)


def test_one_version_for_the_package_every_action_and_every_template() -> None:
    version = project_version()
    found = release_checks.versions(ROOT)
    expected = {"pyproject.toml", "src/changegate/__init__.py",
                *(p.relative_to(ROOT).as_posix() for p in release_checks.action_files(ROOT)),
                *(p.relative_to(ROOT).as_posix() for p in release_checks.template_files(ROOT)),
                *(p.relative_to(ROOT).as_posix() for p in release_checks.catalog_files(ROOT))}
    assert set(found) == expected
    assert "action.yml" in found and any(k.startswith("actions/") for k in found)
    assert release_checks.version_problems(ROOT) == [], found
    assert set(found.values()) == {version}


def test_the_version_check_names_each_file_that_disagrees(tmp_path: Path) -> None:
    (tmp_path / "src" / "changegate").mkdir(parents=True)
    (tmp_path / "actions" / "sbom").mkdir(parents=True)
    (tmp_path / "gitlab-templates").mkdir()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1.2.3"\n',
                                             encoding="utf-8")
    (tmp_path / "src/changegate/__init__.py").write_text('__version__ = "1.2.3"\n',
                                                         encoding="utf-8")
    (tmp_path / "action.yml").write_text("# changegate-version: 1.2.3\nname: x\n",
                                         encoding="utf-8")
    (tmp_path / "actions/sbom/action.yml").write_text("# changegate-version: 1.2.2\n",
                                                      encoding="utf-8")
    (tmp_path / "gitlab-templates/sbom.yml").write_text("spec: {}\n", encoding="utf-8")
    assert release_checks.version_problems(tmp_path) == [
        "actions/sbom/action.yml: version 1.2.2, expected 1.2.3",
        "gitlab-templates/sbom.yml: no `# changegate-version: X.Y.Z` line"]


def test_nothing_in_our_files_refers_to_a_moving_reference() -> None:
    assert release_checks.moving_references(ROOT) == []
    assert release_checks.action_install_problems(ROOT) == []


@pytest.mark.parametrize("text, problem", [
    ("runs:\n  steps:\n    - uses: actions/checkout@v4\n", "not pinned to a full commit SHA"),
    ("runs:\n  steps:\n    - uses: actions/checkout@main\n", "not pinned to a full commit SHA"),
    ("jobs:\n  a:\n    container: python:3.12\n", "image without a digest"),
    ("spec:\n  inputs:\n    image:\n      default: python:3.12-bookworm\n---\nj: {}\n",
     "image without a digest"),
    ("x: https://raw.githubusercontent.com/acme/changegate/main/gitlab-templates/sbom.yml\n",
     "a URL that names a moving ref"),
    ("x: https://gitlab.example.com/acme/changegate/-/raw/HEAD/x.yml\n",
     "a URL that names a moving ref"),
])
def test_the_moving_reference_check_catches(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "install-action.sh").write_text(
        (ROOT / "scripts" / "install-action.sh").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "gitlab-templates").mkdir()
    (tmp_path / "gitlab-templates" / "t.yml").write_text(text, encoding="utf-8")
    problems = release_checks.moving_references(tmp_path)
    assert len(problems) == 1 and problem in problems[0], problems


def test_the_installer_check_catches_an_unhashed_install(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    script = (ROOT / "scripts" / "install-action.sh").read_text(encoding="utf-8")
    (tmp_path / "scripts" / "install-action.sh").write_text(
        script + '\n"$venv_py" -m pip install requests\n', encoding="utf-8")
    problems = release_checks.installer_problems(tmp_path)
    assert len(problems) == 1 and "without --require-hashes" in problems[0], problems


def test_the_actions_install_from_their_own_checkout_and_lock() -> None:
    """`uses: org/changegate/actions/x@SHA` runs the installer and the lock of that SHA."""
    for path in release_checks.action_files(ROOT):
        (action,) = release_checks.yaml_documents(path)
        install = action["runs"]["steps"][0]
        assert "install-action.sh" in install["run"], path
        assert re.search(r'source_dir="\$\(cd -- "\$GITHUB_ACTION_PATH(/\.\./\.\.)?" && pwd -P\)"',
                         install["run"]), path
        assert 'CHANGEGATE_SOURCE="$source_dir"' in install["run"], path


# -- our own workflows ----------------------------------------------------------------------------

def test_our_workflows_use_only_our_own_actions_by_local_path() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "release.yml"}
    local = set()
    for path in WORKFLOWS:
        workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert workflow.get("permissions") == {}, f"{path.name}: default permissions not {{}}"
        for name, job in workflow["jobs"].items():
            assert "permissions" in job, f"{path.name}: job {name} has no permissions"
            for step in job["steps"]:
                if "uses" in step:
                    assert step["uses"].startswith("./"), (path.name, step["uses"])
                    assert (ROOT / step["uses"] / "action.yml").is_file(), step["uses"]
                    local.add(step["uses"])
    assert {"./actions/sbom", "./actions/audit", "./actions/sign", "./actions/verify"} <= local


def test_the_release_workflow_signs_with_its_own_identity_and_publishes_only_tags() -> None:
    workflow = yaml.safe_load((ROOT / ".github/workflows/release.yml").read_text(
        encoding="utf-8"))
    # PyYAML reads the bare key `on` as True.
    triggers = workflow.get("on", workflow.get(True))
    assert set(triggers) == {"push", "workflow_dispatch"}
    assert set(triggers["push"]) == {"tags"}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "write", "id-token": "write"}
    uses = [s.get("uses") for s in job["steps"]]
    assert uses.count("./actions/sign") == 4 and uses.count("./actions/verify") == 4
    publish = job["steps"][-1]
    assert publish["if"] == "github.event_name == 'push'"
    assert "gh release create" in publish["run"]


def test_our_workflows_pass_zizmor() -> None:
    zizmor = require_tool(ROOT / ".venv" / "bin" / "zizmor", "PyPI zizmor in the dev venv")
    proc = run([zizmor, "--offline", "--min-severity", "low", ".github/workflows/"], cwd=ROOT,
               check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pedantic = run([zizmor, "--offline", "--persona", "pedantic", ".github/workflows/"],
                   cwd=ROOT, check=False)
    assert pedantic.returncode == 0, pedantic.stdout + pedantic.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_our_workflow_scripts_are_shellcheck_clean(path: Path) -> None:
    tool = require_tool("shellcheck", "Debian package shellcheck: scripts/setup-tools.sh")
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    for name, job in workflow["jobs"].items():
        for step in job["steps"]:
            if "run" not in step:
                continue
            assert "${{" not in step["run"], f"{name}: an expression inside run: ({step['name']})"
            proc = subprocess.run([tool, "-s", "bash", "-"],
                                  input="#!/usr/bin/env bash\n" + step["run"],
                                  capture_output=True, text=True, check=False)
            assert proc.stdout == "", (step["name"], proc.stdout)
