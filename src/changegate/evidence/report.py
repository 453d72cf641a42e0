"""The auditor's view of one change, built from the records alone.

Everything on the page comes from the change record (VSA) and the statements it names by digest,
re-checked against those digests as they are read, never from the CI system or the forge: the
report of a change made in 2026 renders the same in 2033 from the archive. `render` turns the
neutral sections built here into a self-contained HTML page (no JavaScript, no external assets)
and a Markdown summary, so both always show the same facts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from changegate.errors import ChangegateError
from changegate.evidence import statements as st
from changegate.evidence.canonical import sha256_hex
from changegate.evidence.ledger import entries
from changegate.evidence.stores import record_key

if TYPE_CHECKING:
    from changegate.evidence.stores import Store
    from changegate.evidence.verify import Verification


@dataclass(frozen=True)
class Code:
    """Text shown verbatim in a monospace font (digests, commands, identifiers)."""

    text: str


@dataclass(frozen=True)
class Badge:
    """A status shown as a coloured word (pass, FAILED, unsigned...)."""

    status: str


Cell: TypeAlias = str | Code | Badge


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell]]
    empty: str = "none"
    caption: str | None = None


@dataclass
class Section:
    title: str
    facts: list[tuple[str, Cell]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


@dataclass
class ChangeReport:
    title: str
    verdict: str
    record_sha256: str
    verify_command: str
    sections: list[Section]


@dataclass(frozen=True)
class LoadedChange:
    entry: dict[str, Any]
    record: dict[str, Any]
    inputs: dict[str, dict[str, Any]]  # gate (or predicate type) -> statement
    altered: list[str]  # inputs whose bytes no longer match their digest


def change_entries(store: Store) -> list[dict[str, Any]]:
    return list(entries(store, "change"))


def load_change(store: Store, record: str | None = None) -> LoadedChange:
    """The change entry (latest, or the one whose record is `record`) and its statements."""
    changes = change_entries(store)
    if record is not None:
        changes = [c for c in changes if c.get("record", {}).get("sha256") == record.lower()]
    if not changes:
        what = f"change record {record}" if record else "any change record"
        raise ChangegateError("EVIDENCE_NOT_FOUND", f"{store.label} holds no {what}",
                              fix="check the store location (--dir / --store) and the digest")
    entry = changes[-1]
    document, ok = _load(store, entry["record"]["sha256"])
    if document is None or not ok:
        raise ChangegateError("EVIDENCE_NOT_FOUND",
                              f"the change record {entry['record']['sha256']} is missing or "
                              "altered", fix="run `changegate evidence verify`")
    inputs: dict[str, dict[str, Any]] = {}
    altered: list[str] = []
    for item in document["predicate"].get("inputAttestations") or []:
        digest = (item.get("digest") or {}).get("sha256", "")
        statement, ok = _load(store, digest)
        name = item.get("name") or (item.get("annotations") or {}).get("predicateType", digest)
        if statement is None or not ok:
            altered.append(str(name))
            continue
        inputs[str(name)] = statement
    return LoadedChange(entry, document, inputs, altered)


def _load(store: Store, digest: str) -> tuple[dict[str, Any] | None, bool]:
    data = store.get(record_key(digest)) if len(digest) == 64 else None
    if data is None:
        return None, False
    try:
        document = json.loads(data)
    except ValueError:
        return None, False
    return (document if isinstance(document, dict) else None), sha256_hex(data) == digest


def build_report(loaded: LoadedChange, *, store_args: str,
                 verification: Verification | None = None) -> ChangeReport:
    predicate = loaded.record["predicate"]
    ext = predicate.get(st.CHANGE_RECORD_FIELD) or {}
    change = ext.get("change") or {}
    sha = loaded.entry["record"]["sha256"]
    command = _verify_command(store_args, sha, loaded.entry)
    sections = [
        _summary(loaded, predicate, ext, change),
        _verification(verification, command, loaded),
        _commits(loaded.inputs.get("verify-commits")),
        _approvals(loaded.inputs.get("approvals")),
        _sbom(loaded.inputs.get("sbom")),
        _vulnerabilities(loaded.inputs.get("audit")),
        _artifacts(loaded),
        _gates(ext.get("gates") or []),
        _controls(ext.get("controls") or {}),
        _inputs(predicate, loaded),
    ]
    repo = change.get("repository") or "local repository"
    title = f"Change record: {repo} @ {str(change.get('head', ''))[:12]}"
    return ChangeReport(title, str(predicate.get("verificationResult")), sha, command, sections)


def _verify_command(store_args: str, sha: str, entry: Mapping[str, Any]) -> str:
    command = f"changegate evidence verify {store_args} --record {sha}"
    signature = (entry.get("record") or {}).get("signature") or {}
    if signature.get("status") == "signed" and signature.get("identity"):
        command += f" --cert-identity {signature['identity']}"
        command += f" --cert-oidc-issuer {signature.get('issuer') or '<issuer>'}"
    return command


def _summary(loaded: LoadedChange, predicate: Mapping[str, Any], ext: Mapping[str, Any],
             change: Mapping[str, Any]) -> Section:
    policy = predicate.get("policy") or {}
    signature = loaded.entry["record"].get("signature") or {}
    signed: Cell = (Badge("signed") if signature.get("status") == "signed"
                    else Badge("unsigned"))
    number = change.get("number")
    facts: list[tuple[str, Cell]] = [
        ("Verdict", Badge(str(predicate.get("verificationResult")))),
        ("Repository", str(change.get("repository") or "(local)")),
        ("Change", f"#{number}" if number else str(change.get("event") or "")),
        ("Target", f"{change.get('ref_type', '')} {change.get('ref') or ''}".strip()),
        ("Environment", str(change.get("environment") or "(none matched)")),
        ("Head commit", Code(str(change.get("head", "")))),
        ("Base", Code(str(change.get("base") or "(whole history)"))),
        ("Verified at", str(predicate.get("timeVerified", ""))),
        ("Policy", Code(str(policy.get("uri", "")))),
        ("Policy sha256", Code(str((policy.get("digest") or {}).get("sha256", "(none)")))),
        ("Change record sha256", Code(loaded.entry["record"]["sha256"])),
        ("Ledger entry", str(loaded.entry.get("index"))),
        ("Signature", signed),
        ("Store", Code(str((ext.get("store") or {}).get("uri", "")))),
        ("CI run", str(change.get("run_url") or "")),
    ]
    if signature.get("status") != "signed":
        facts.append(("Unsigned because", str(signature.get("reason") or "")))
    else:
        facts.append(("Signed by", str(signature.get("identity") or "")))
    return Section("Summary", facts=[(k, v) for k, v in facts if v != ""])


def _verification(verification: Verification | None, command: str,
                  loaded: LoadedChange) -> Section:
    section = Section("Verification")
    section.facts.append(("Verify it all", Code(command)))
    if verification is not None:
        state = "intact" if verification.ok else f"{len(verification.problems)} problem(s)"
        section.facts.append(("Ledger at report time", Badge("pass" if verification.ok
                                                              else "fail")))
        section.text.append(f"{verification.entries} entries, {verification.checkpoints} "
                            f"checkpoints, {verification.signed} signed and "
                            f"{verification.unsigned} unsigned records: {state}.")
        if verification.problems:
            section.tables.append(Table(["Kind", "Where", "Problem"], [
                [Badge(p.kind), p.location or str(p.entry or ""), p.message]
                for p in verification.problems]))
    if loaded.altered:
        section.text.append("Input statements missing or altered: " + ", ".join(loaded.altered))
    return section


def _commits(statement: Mapping[str, Any] | None) -> Section:
    section = Section("Commits and their signatures")
    if statement is None:
        section.text.append("The verify-commits gate did not run for this change.")
        return section
    predicate = statement.get("predicate") or {}
    rows: list[list[Cell]] = []
    for commit in predicate.get("commits") or []:
        exception = commit.get("exception") or {}
        note = (f"exception by {exception.get('approver')}: {exception.get('reason')} "
                f"(until {exception.get('expires')})") if exception else ""
        rows.append([Code(str(commit.get("sha", ""))[:12]), Badge(str(commit.get("status"))),
                     str(commit.get("format") or ""), str(commit.get("signer") or ""),
                     Code(str(commit.get("fingerprint") or "")), str(commit.get("reason") or ""),
                     str(commit.get("author") or ""), note])
    section.tables.append(Table(["Commit", "Status", "Format", "Signer", "Key",
                                 "Reason", "Author", "Exception"], rows))
    return section


def _approvals(statement: Mapping[str, Any] | None) -> Section:
    section = Section("Reviewers, approvals and independence")
    if statement is None:
        section.text.append("The approvals gate did not run for this change.")
        return section
    predicate = statement.get("predicate") or {}
    rows: list[list[Cell]] = []
    for rule in predicate.get("rules") or []:
        counted = "; ".join(_person(p) for p in rule.get("counted") or [])
        excluded = "; ".join(f"{_person(e)} ({e.get('why', '')})" if isinstance(e, dict)
                             else str(e) for e in rule.get("excluded") or [])
        rows.append([str(rule.get("name", "")),
                     Badge("pass" if rule.get("satisfied") else "fail"),
                     str(rule.get("required", "")), counted, excluded,
                     str(rule.get("missing", ""))])
    section.tables.append(Table(["Rule", "Satisfied", "Required", "Approved by (time)",
                                 "Excluded (independence)", "Missing"], rows))
    reviews = predicate.get("reviews") or []
    if reviews:
        section.tables.append(Table(["Reviewer", "State", "At", "Commit"], [
            [_person(r), str(r.get("state", "")), str(r.get("submitted_at") or r.get("at") or ""),
             Code(str(r.get("commit") or r.get("commit_id") or "")[:12])]
            for r in reviews if isinstance(r, dict)], caption="Reviews as fetched at run time"))
    return section


def _person(item: object) -> str:
    if not isinstance(item, dict):
        return str(item)
    who = str(item.get("user") or item.get("login") or item.get("name") or "?")
    when = item.get("submitted_at") or item.get("at") or item.get("time")
    return f"{who} at {when}" if when else who


def _sbom(statement: Mapping[str, Any] | None) -> Section:
    section = Section("Software bill of materials")
    if statement is None:
        section.text.append("The sbom gate did not run for this change.")
        return section
    files = [s for s in statement.get("subject") or [] if not str(s.get("name", "")).startswith(
        "commit:")]
    if statement.get("predicateType") != st.CYCLONEDX:
        section.text.append("No CycloneDX document was recorded (the gate could not produce "
                            "one); see the gate results below.")
        return section
    bom = statement.get("predicate") or {}
    section.facts.extend([
        ("Format", f"CycloneDX {bom.get('specVersion', '?')}"),
        ("Serial number", Code(str(bom.get("serialNumber", "")))),
        ("Components", str(len(bom.get("components") or []))),
    ])
    for item in files:
        section.facts.append((f"File {item.get('name')}",
                              Code(f"sha256:{item['digest'].get('sha256', '')}")))
    return section


def _vulnerabilities(statement: Mapping[str, Any] | None) -> Section:
    section = Section("Vulnerabilities and exceptions")
    if statement is None:
        section.text.append("The audit gate did not run for this change.")
        return section
    predicate = statement.get("predicate") or {}
    scanner = predicate.get("scanner") or {}
    db = scanner.get("db") or {}
    if statement.get("predicateType") != st.VULNS:
        section.text.append("The audit could not complete; see the gate results below.")
        return section
    section.facts.extend([("Database", Code(str(db.get("uri", "")))),
                          ("Database version", Code(str(db.get("version", "")))),
                          ("Database last updated", str(db.get("lastUpdate", "")))])
    rows: list[list[Cell]] = []
    for vuln in scanner.get("result") or []:
        notes = (vuln.get("annotations") or [{}])[0]
        severity = ", ".join(f"{s.get('method')} {s.get('score')}"
                             for s in vuln.get("severity") or [])
        exception = notes.get("exception") or {}
        if exception:
            state = (f"exception by {exception.get('approver')}: {exception.get('reason')} "
                     f"(ticket {exception.get('ticket')}, until {exception.get('expires')})")
        else:
            state = "suppressed" if notes.get("suppressed") else "open"
        rows.append([Code(str(vuln.get("id", ""))), str(notes.get("package", "")),
                     str(notes.get("version", "")), severity,
                     ", ".join(str(v) for v in notes.get("fixed_in") or []), state])
    section.tables.append(Table(["Advisory", "Package", "Version", "Severity", "Fixed in",
                                 "Status"], rows, empty="no known vulnerabilities"))
    return section


def _artifacts(loaded: LoadedChange) -> Section:
    section = Section("Artifacts, digests and signatures")
    subjects = [s for s in loaded.record.get("subject") or []
                if not str(s.get("name", "")).startswith("commit:")]
    rows: list[list[Cell]] = [[str(s.get("name", "")),
                               Code(f"sha256:{(s.get('digest') or {}).get('sha256', '')}")]
                              for s in subjects]
    section.tables.append(Table(["Artifact", "Digest"], rows))
    provenance = loaded.inputs.get("sign")
    if provenance is not None and provenance.get("predicateType") == st.PROVENANCE:
        byproducts = ((provenance.get("predicate") or {}).get("runDetails") or {}).get(
            "byproducts") or []
        section.tables.append(Table(["Signature bundle", "Digest"], [
            [str(b.get("name", "")), Code(f"sha256:{(b.get('digest') or {}).get('sha256', '')}")]
            for b in byproducts], caption="Sigstore bundles of the artifacts"))
    return section


def _gates(gates: Iterable[Mapping[str, Any]]) -> Section:
    section = Section("Gate results")
    gates = list(gates)
    section.tables.append(Table(["Gate", "Status", "Summary"], [
        [str(g.get("gate")), Badge(str(g.get("status"))), str(g.get("summary", ""))]
        for g in gates]))
    findings: list[list[Cell]] = []
    for gate in gates:
        for finding in gate.get("findings") or []:
            location = finding.get("location") or {}
            where = ":".join(str(location[k]) for k in ("file", "line") if location.get(k))
            if location.get("commit"):
                where = f"{where} commit {str(location['commit'])[:12]}".strip()
            findings.append([str(gate.get("gate")), Code(str(finding.get("rule", ""))),
                             Badge(str(finding.get("severity", ""))), where,
                             str(finding.get("message", ""))])
    section.tables.append(Table(["Gate", "Rule", "Severity", "Where", "Message"], findings,
                                caption="Findings"))
    return section


def _controls(controls: Mapping[str, Any]) -> Section:
    section = Section("Control verdicts")
    section.text.append(f"Control mapping {controls.get('catalog', '?')} (changegate "
                        "evidence/data/controls-v1.json). A mapping says which evidence "
                        "changegate produced for a control; the auditor judges the control.")
    section.tables.append(Table(["Framework", "Control", "Title", "Verdict", "Why"], [
        [str(c.get("framework")), Code(str(c.get("id"))), str(c.get("title", "")),
         Badge(str(c.get("status"))), str(c.get("reason", ""))]
        for c in controls.get("results") or []]))
    return section


def _inputs(predicate: Mapping[str, Any], loaded: LoadedChange) -> Section:
    section = Section("Records this verdict was made from")
    section.tables.append(Table(["Name", "Predicate type", "sha256"], [
        [str(i.get("name") or "evidence store"),
         Code(str((i.get("annotations") or {}).get("predicateType", ""))),
         Code(str((i.get("digest") or {}).get("sha256", "")))]
        for i in predicate.get("inputAttestations") or []]))
    return section
