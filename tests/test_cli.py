"""The CLI contract: lazy imports, exit codes, fail-closed errors, policy commands."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from changegate.cli import COMMANDS, main

HEAVY = ("cryptography", "pysequoia", "jsonschema", "yaml", "sigstore", "cyclonedx")


SHIPPED = [name for name, (module, _) in COMMANDS.items() if importlib.util.find_spec(module)]


@pytest.mark.parametrize("args", [["--help"], *([name, "--help"] for name in SHIPPED)])
def test_help_imports_no_heavy_library(args: list[str]) -> None:
    code = (
        "import sys\nfrom changegate.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout
    assert "usage: changegate" in proc.stdout


def test_version_and_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert "changegate 0.1.0" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["nonsense"])
    assert info.value.code == 2
    assert main([]) == 2


def test_a_command_not_shipped_says_so(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(COMMANDS, "approvals", ("changegate.commands._absent", "not shipped"))
    assert main(["approvals", "--pr", "1"]) == 2
    assert "not available in this version" in capsys.readouterr().err


def test_policy_schema_and_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"].startswith("changegate policy")
    good = tmp_path / "good.yml"
    good.write_text("version: 1\n")
    assert main(["policy", "validate", str(good)]) == 0
    bad = tmp_path / "bad.yml"
    bad.write_text("version: 1\ngatez: {}\n")
    assert main(["policy", "validate", str(bad)]) == 2
    assert f"{bad}:2: unknown key(s) 'gatez'" in capsys.readouterr().err
    assert main(["policy", "validate", str(tmp_path / "missing.yml")]) == 2


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty",
        "-m", "root")
    return tmp_path


def run_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    code = main([*args, "--json", "--quiet"], environ={})
    return code, json.loads(capsys.readouterr().out)


def test_check_without_policy_is_inconclusive(repo: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(["check", "-C", str(repo)], capsys)
    assert code == 2
    assert doc["status"] == "error"
    findings = doc["findings"]
    assert isinstance(findings, list) and findings[0]["rule"] == "POLICY_MISSING"


def test_malformed_policy_is_located_and_inconclusive(repo: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".changegate.yml").write_text("version: 1\ngates:\n  verify-commits: {bind: x}\n")
    code, doc = run_json(["check", "-C", str(repo), "--trust-worktree"], capsys)
    assert code == 2
    finding = doc["findings"][0]  # type: ignore[index]
    assert finding["rule"] == "POLICY_INVALID"
    assert finding["location"] == {"file": ".changegate.yml", "line": 3}


def test_gate_the_version_cannot_run_is_inconclusive(
        repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(COMMANDS, "approvals", ("changegate.commands._absent", "not shipped"))
    (repo / ".changegate.yml").write_text(
        "version: 1\nenvironments:\n  prod: {match: {branches: [main]}, gates: [approvals]}\n")
    code, doc = run_json(["check", "-C", str(repo), "--trust-worktree",
                          "--environment", "prod"], capsys)
    assert code == 2
    assert doc["gates"] == [{"gate": "approvals", "status": "error",  # type: ignore[comparison-overlap]
                             "summary": doc["results"][0]["summary"]}]  # type: ignore[index]
    assert doc["findings"][0]["rule"] == "GATE_UNAVAILABLE"  # type: ignore[index]
    assert doc["findings"][0]["location"]["line"] == 3  # type: ignore[index]


def test_unmatched_environment_follows_policy(repo: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    policy = repo / ".changegate.yml"
    policy.write_text("version: 1\nenvironments:\n"
                      "  prod: {match: {branches: [release]}, gates: [verify-commits]}\n")
    code, doc = run_json(["check", "-C", str(repo), "--trust-worktree"], capsys)
    assert code == 0 and doc["findings"][0]["rule"] == "NO_ENVIRONMENT"  # type: ignore[index]
    policy.write_text(policy.read_text() + "unmatched: error\n")
    code, doc = run_json(["check", "-C", str(repo), "--trust-worktree"], capsys)
    assert code == 2 and doc["status"] == "error"


def test_unexpected_exception_is_inconclusive_not_a_traceback(
        repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from changegate.commands import check

    def boom(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(check, "execute", boom)
    code, doc = run_json(["check", "-C", str(repo)], capsys)
    assert code == 2
    assert doc["findings"][0]["rule"] == "INTERNAL_ERROR"  # type: ignore[index]
