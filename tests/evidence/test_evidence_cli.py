"""`changegate evidence record|verify|report|export` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from evidence_support import Workspace

from changegate.cli import main


@pytest.fixture
def results_file(workspace: Workspace) -> Path:
    """A `check --json` document as the CLI prints it."""
    from evidence_support import sample_results

    from changegate.report.jsonout import document

    check = document(sample_results(workspace.head, workspace.path), aggregate=True)
    path = workspace.path / "check.json"
    path.write_text(json.dumps(check, default=str))
    return path


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args, environ={})
    out, err = capsys.readouterr()
    return code, out, err


def test_record_then_verify_report_export(workspace: Workspace, results_file: Path,
                                          capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workspace.path)
    code, out, err = run(["evidence", "record", str(results_file), "--trust-worktree",
                          "--environment", "production", "--json"], capsys)
    assert code == 0, err
    outcome = json.loads(out)
    assert len(outcome["statements"]) == 6 and outcome["verdict"] == "PASSED"
    assert "verify with: changegate evidence verify --dir .changegate/evidence" in err

    code, out, err = run(["evidence", "verify", "--record", outcome["record_sha256"], "--json"],
                         capsys)
    assert code == 0, err
    assert json.loads(out)["ok"] is True
    assert "intact: 7 entries, 1 change record(s), 1 checkpoint(s)" in err

    code, out, _ = run(["evidence", "report"], capsys)
    assert code == 0 and out.startswith("# Change record: ")
    code, _, _ = run(["evidence", "report", "--html", "r.html", "--markdown", "r.md",
                      "--record", outcome["record_sha256"]], capsys)
    assert code == 0
    assert (workspace.path / "r.html").read_text().startswith("<!DOCTYPE html>")
    code, _, err = run(["evidence", "report", "--all", "--out-dir", "reports"], capsys)
    assert code == 0 and "2 report file(s) written" in err
    assert len(list((workspace.path / "reports").iterdir())) == 2

    code, out, _ = run(["evidence", "export", "--format", "csv", "--since", "2000-01-01"],
                       capsys)
    assert code == 0 and out.splitlines()[0].startswith("recorded_at,repository")
    assert len(out.splitlines()) == 2
    code, _, _ = run(["evidence", "export", "--format", "json", "--output", "p.json"], capsys)
    assert json.loads((workspace.path / "p.json").read_text())["count"] == 1


def test_verify_exit_codes(workspace: Workspace, capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    workspace.record(2)
    monkeypatch.chdir(workspace.path)
    ledger = workspace.evidence / "ledger.jsonl"
    lines = ledger.read_text().splitlines()
    ledger.write_text("".join(f"{line}\n" for line in lines[:3] + lines[4:]))
    code, _, err = run(["evidence", "verify"], capsys)
    assert code == 1
    assert "TAMPERED deleted: ledger.jsonl:4: entry 3 missing after entry 2" in err
    code, _, err = run(["evidence", "report"], capsys)
    assert code == 1 and "problem(s)" in err

    code, _, err = run(["evidence", "verify", "--dir", str(tmp_path / "nothing")], capsys)
    assert code == 2 and "does not exist" in err
    code, _, err = run(["evidence", "verify", "--cert-identity", "x"], capsys)
    assert code == 2 and "go together" in err
    code, _, err = run(["evidence", "export", "--since", "last tuesday"], capsys)
    assert code == 2 and "is not a date" in err
    code, _, err = run(["evidence", "verify", "--store", "ftp://x"], capsys)
    assert code == 2


def test_record_rejects_malformed_results(workspace: Workspace,
                                          capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workspace.path)
    bad = workspace.path / "bad.json"
    bad.write_text(json.dumps({"gate": "sbom", "status": "maybe", "summary": "",
                               "findings": []}))
    code, _, err = run(["evidence", "record", str(bad), "--trust-worktree"], capsys)
    assert code == 2 and "malformed gate result" in err
    assert not (workspace.evidence / "ledger.jsonl").exists()
