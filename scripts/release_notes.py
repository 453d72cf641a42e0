"""Release notes, checksums and the machine-readable manifest, with every digest a pin needs.

The notes are written for the security team that moves a pin: what changed in the contracts
(from the CHANGELOG's upgrade notes and the machine diff of contracts/), the SHA to pin the
actions to, each GitLab template's sha256 and its `integrity:` value (GitLab's format: `sha256-`
and the base64 of the SHA-256 of the file's bytes), the artifacts' digests, the SBOM and audit
result, and the Sigstore bundles with the identity to verify them against.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MANIFEST = "release-manifest.json"
NOTES = "release-notes.md"
SUMS = "SHA256SUMS"


def sri(data: bytes) -> str:
    """Subresource-integrity form of the SHA-256, as GitLab's `include: integrity` wants it."""
    return "sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def template_digests(root: Path) -> list[dict[str, Any]]:
    """Each template under gitlab-templates/ (and its catalog copy): sha256 and integrity."""
    rows = []
    for path in sorted((root / "gitlab-templates").glob("*.yml")):
        data = path.read_bytes()
        catalog = root / "templates" / path.name
        rows.append({"path": f"gitlab-templates/{path.name}",
                     "catalog": f"templates/{path.name}" if catalog.is_file() else "",
                     "catalog_identical": catalog.is_file() and catalog.read_bytes() == data,
                     "component": path.stem,
                     "sha256": hashlib.sha256(data).hexdigest(), "integrity": sri(data)})
    return rows


def action_pins(root: Path, repository: str, commit: str) -> list[dict[str, str]]:
    paths = ["", *(p.parent.relative_to(root).as_posix()
                   for p in sorted((root / "actions").glob("*/action.yml")))]
    return [{"path": path or ".", "uses": f"{repository}{'/' + path if path else ''}@{commit}"}
            for path in paths]


def checksums(directory: Path) -> str:
    """`sha256sum` format for every file under `directory` (SHA256SUMS itself excluded)."""
    lines = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and p.name != SUMS):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{digest}  {path.relative_to(directory).as_posix()}")
    return "\n".join(lines) + "\n"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def render(manifest: Mapping[str, Any]) -> str:
    """The release notes (Markdown) from the manifest; every digest comes from the manifest."""
    version, commit = manifest["version"], manifest["commit"]
    repository = manifest["repository"]
    tag = manifest["tag"]
    lines = [f"# changegate {version}", ""]
    if manifest["dry_run"]:
        lines += ["> **Dry run.** Nothing was published, and the signatures below are not a "
                  "release's: they come from the Sigstore instance named there (a dry run never "
                  "signs on public-good production).", ""]
    lines += [
        f"- Commit: `{commit}` (tag `{tag}`)",
        f"- One version for the Python package, every GitHub action and every GitLab template: "
        f"`{version}`",
        f"- Built reproducibly with `SOURCE_DATE_EPOCH={manifest['source_date_epoch']}` "
        f"(the commit's time) by {manifest['build']['backend']['name']} "
        f"{manifest['build']['backend']['version']} from `requirements/build.txt` "
        f"(sha256 `{manifest['build']['backend']['lock_sha256']}`)",
        "",
        "## Upgrade notes", "",
        (manifest.get("upgrade_notes") or "None.").strip(), "",
    ]
    contracts = manifest["contracts"]
    lines += ["## Contract changes", ""]
    if contracts.get("previous"):
        changes = contracts.get("changes") or []
        lines.append(f"Machine diff of `contracts/{contracts['previous']}/` against "
                     f"`contracts/{version}/` (CLI, exit codes, JSON fields, policy keys, action "
                     f"inputs/outputs, template inputs); each is named in the upgrade notes above:")
        lines.append("")
        lines += [f"- {change}" for change in changes] or ["- none"]
    else:
        lines.append(f"First release with versioned contracts: `contracts/{version}/` is the "
                     "baseline later releases are compared with.")
    lines += ["", "## Artifacts", ""]
    lines += _table(["file", "sha256", "bytes"],
                    [[f"`{a['name']}`", f"`{a['sha256']}`", str(a["size"])]
                     for a in manifest["artifacts"]])
    lines += ["", "Rebuild and compare: check out the commit and run "
              f"`make release VERSION={version}` (dry run); the sdist and wheel come out "
              "byte-identical (the release itself built them twice from two exports, and the "
              "wheel a third time from the sdist).", ""]

    lines += ["## Pin the GitHub actions", "",
              "Pin the full commit SHA (a tag can be moved; a SHA cannot):", "", "```yaml"]
    lines += [f"- uses: {pin['uses']}  # {tag}" for pin in manifest["actions"]]
    lines += ["```", "", "Each action installs `requirements/action.txt` of this same commit "
              "with `--require-hashes`, and runs this commit's `src/`: nothing else is fetched.",
              ""]

    lines += ["## GitLab templates", "",
              f"`include: remote` with `integrity:` (GitLab 17.9+; the file at commit "
              f"`{commit}`), `include: project` with `ref: {commit}`, or the CI/CD Catalog "
              f"component (`templates/`, the same bytes):", ""]
    lines += _table(["template", "sha256", "integrity"],
                    [[f"`{t['path']}`", f"`{t['sha256']}`", f"`{t['integrity']}`"]
                     for t in manifest["templates"]])
    if manifest["templates"]:
        first = next((t for t in manifest["templates"] if t["component"] == "changegate"),
                     manifest["templates"][0])
        lines += ["", "```yaml", "include:",
                  f"  - remote: https://raw.githubusercontent.com/{repository}/{commit}/"
                  f"{first['path']}",
                  f"    integrity: '{first['integrity']}'",
                  "    inputs:",
                  f"      source-url: https://github.com/{repository}.git   # or your mirror",
                  f"      source-ref: {commit}",
                  "```", "",
                  "The same file from your GitLab mirror (`/-/raw/<sha>/...`) has the same "
                  "integrity value; so has the catalog copy `templates/<name>.yml`."]
    lines += [""]

    lines += ["## SBOM and audit", ""]
    sbom, audit = manifest["sbom"], manifest["audit"]
    if sbom.get("skipped"):
        lines.append(f"- SBOM: skipped: {sbom['skipped']}")
    else:
        lines.append(f"- SBOM: `{sbom['file']}` (CycloneDX {sbom['spec_version']}, "
                     f"{sbom['components']} components of `{sbom['source']}`, the dependencies "
                     f"the actions and templates install), sha256 `{sbom['sha256']}`, by "
                     f"`changegate sbom` ({sbom['status']})")
    if audit.get("skipped"):
        lines.append(f"- Audit: skipped: {audit['skipped']}")
    else:
        database = audit.get("database") or {}
        lines.append(f"- Audit: `{audit['file']}`, sha256 `{audit['sha256']}`, by "
                     f"`changegate audit`: **{audit['status']}**, {audit['vulnerabilities']} "
                     f"known vulnerabilities ({audit.get('suppressed', 0)} suppressed) against "
                     f"{database.get('source', 'the OSV database')} (sha256 "
                     f"`{database.get('sha256')}`, {database.get('records')} records, newest "
                     f"modified {database.get('newest_modified')})")
    lines += [""]

    signing = manifest["signatures"]
    lines += ["## Signatures and attestations", ""]
    if signing.get("skipped"):
        lines.append(f"Skipped: {signing['skipped']}. No bundle was written; nothing here is "
                     "signed.")
    else:
        lines.append(f"Signed with `changegate sign` ({signing['instance']}) as "
                     f"`{signing['identity']}` (issuer `{signing['issuer']}`), each bundle "
                     f"verified with `changegate verify` against that identity: "
                     f"{'all verified' if signing.get('verified') else 'NOT verified'}.")
        lines.append("")
        lines += _table(["bundle", "of", "kind", "sha256", "log index"],
                        [[f"`{b['file']}`", f"`{b['of']}`", b["kind"], f"`{b['sha256']}`",
                          str(b.get("log_index"))] for b in signing.get("bundles", [])])
        for skipped in signing.get("not_signed", []):
            lines.append(f"\nNot attested: {skipped}")
        lines += ["", "Verify (offline, with changegate installed):", "", "```sh"]
        for artifact in manifest["artifacts"]:
            lines.append(f"changegate verify {artifact['name']} "
                         + " ".join(signing["verify_args"]))
        lines.append(f"changegate verify {manifest['artifacts'][-1]['name']} "
                     "--predicate-type sbom " + " ".join(signing["verify_args"]))
        lines.append("```")
    lines += [""]

    lines += ["## Contracts", ""]
    lines += _table(["file", "sha256"], [[f"`contracts/{version}/{name}`", f"`{digest}`"]
                                         for name, digest in contracts["files"].items()])
    lines += ["", "## Steps", ""]
    lines += [f"- {step['name']}: {step['status']}" + (f" ({step['detail']})"
                                                        if step.get("detail") else "")
              for step in manifest["steps"]]
    lines += ["", f"`{SUMS}` lists the sha256 of every file of this release; "
              f"`{MANIFEST}` holds all of the above as JSON.", ""]
    return "\n".join(lines)


def write(directory: Path, manifest: Mapping[str, Any]) -> dict[str, Path]:
    """release-manifest.json, release-notes.md and SHA256SUMS into `directory`."""
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n",
                                      encoding="utf-8")
    (directory / NOTES).write_text(render(manifest), encoding="utf-8")
    (directory / SUMS).write_text(checksums(directory), encoding="utf-8")
    return {"manifest": directory / MANIFEST, "notes": directory / NOTES,
            "sums": directory / SUMS}
