"""The auditor report (self-contained HTML, Markdown) and the population export."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from evidence_support import FakeSigner, Workspace, make_change, sample_results

from changegate.evidence import population
from changegate.evidence.render import render_html, render_markdown
from changegate.evidence.report import build_report, load_change
from changegate.evidence.verify import verify_store

HOSTILE = '<script>alert(1)</script> | =HYPERLINK("http://evil") ![x](http://evil/i.png)'


@pytest.fixture
def hostile(workspace: Workspace) -> Workspace:
    results = sample_results(workspace.head, workspace.path)
    results[0].details["commits"][0]["signer"] = HOSTILE
    results[0].details["commits"][0]["subject"] = HOSTILE
    workspace.record(results=results, signer=FakeSigner())
    return workspace


def report_for(ws: Workspace):  # type: ignore[no-untyped-def]
    store = ws.store()
    return build_report(load_change(store), store_args="--dir .changegate/evidence",
                        verification=verify_store(store))


def test_html_is_self_contained_and_escaped(hostile: Workspace) -> None:
    page = render_html(report_for(hostile))
    assert "<script" not in page
    assert not re.search(r"<(link|img|iframe|object|embed|base)\b", page)
    assert not re.search(r"""(src|href)\s*=""", page)
    assert "url(" not in page and "@import" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "default-src 'none'" in page


def test_html_shows_what_an_auditor_asks_for(hostile: Workspace) -> None:
    report = report_for(hostile)
    page = render_html(report)
    titles = [s.title for s in report.sections]
    assert titles == ["Summary", "Verification", "Commits and their signatures",
                      "Reviewers, approvals and independence", "Software bill of materials",
                      "Vulnerabilities and exceptions", "Artifacts, digests and signatures",
                      "Gate results", "Control verdicts", "Records this verdict was made from"]
    for fact in (hostile.head, "SHA256:k3y", "bob at 2026-03-01T10:00:00Z", "alice (author)",
                 "GHSA-h5c8", "exception by sec: not reachable (ticket SEC-1, until 2027-01-15)",
                 "CycloneDX 1.6", "sbom.cdx.json", "6.5.4", "RTS 2024/1774 Art. 17",
                 "signed", report.record_sha256):
        assert fact in page, fact
    assert report.verify_command == (
        "changegate evidence verify --dir .changegate/evidence --record "
        f"{report.record_sha256} --cert-identity {FakeSigner().identity} "
        "--cert-oidc-issuer https://token.actions.githubusercontent.com")
    assert report.verify_command in page


def test_markdown_summary_is_inert(hostile: Workspace) -> None:
    text = render_markdown(report_for(hostile))
    assert text.startswith("# Change record: acme/payments @ ")
    assert "<script>" not in text and "![x](" not in text
    assert "## Control verdicts" in text and "| pci-dss-4.0.1 | `6.3.1` |" in text


def test_report_shows_ledger_problems(hostile: Workspace) -> None:
    path = hostile.evidence / "ledger.jsonl"
    lines = path.read_text().splitlines()
    del lines[1]
    path.write_text("".join(f"{line}\n" for line in lines))
    page = render_html(report_for(hostile))
    assert "entry 1 missing" in page


def test_population_lists_every_change_with_pointers(workspace: Workspace) -> None:
    workspace.record(2)
    other = make_change(workspace.path, workspace.head, ref="release/1.2", actor="=cmd|' /C calc")
    from changegate.evidence.recorder import record_check

    record_check(sample_results(workspace.head, workspace.path), change=other, policy=None,
                 environment="production", settings={}, environ={}, workdir=workspace.path)
    rows, meta = population.rows(workspace.store())
    assert meta["count"] == 3 and meta["ledger_size"] == 21
    assert meta["ledger_head"] == verify_store(workspace.store()).head
    assert [r["ref"] for r in rows] == ["main", "main", "release/1.2"]
    assert all(r["record_uri"].startswith(".changegate/evidence/records/") for r in rows)
    assert rows[0]["gates"] == "verify-commits=pass;sbom=pass;approvals=pass;audit=pass"
    parsed = list(csv.DictReader(io.StringIO(population.to_csv(rows))))
    assert parsed[2]["actor"] == "'=cmd|' /C calc"  # spreadsheet formulas neutralised
    assert parsed[0]["record_sha256"] == rows[0]["record_sha256"]
    document = json.loads(population.to_json(rows, meta))
    assert document["count"] == 3 and len(document["changes"]) == 3


def test_population_period_is_half_open(workspace: Workspace) -> None:
    workspace.record()
    now = datetime.now(timezone.utc)
    assert population.rows(workspace.store(), since=now - timedelta(hours=1))[1]["count"] == 1
    assert population.rows(workspace.store(), since=now + timedelta(hours=1))[1]["count"] == 0
    assert population.rows(workspace.store(), until=now - timedelta(hours=1))[1]["count"] == 0
