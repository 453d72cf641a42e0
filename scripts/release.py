#!/usr/bin/env python3
"""Release changegate: `make release VERSION=x.y.z` (a dry run unless DRY_RUN=0).

One run, from one commit (default HEAD, exported with `git archive`; the working tree is never
built):

  1. checks    one version everywhere (package, actions, templates, catalog copy); the CHANGELOG
               section with its upgrade notes; contracts/<version>/ equal to the code and every
               change since the last release named in the upgrade notes; templates/ in sync;
               no moving reference in our own CI files; for a real release, a clean tree and the
               tag v<version> on the commit
  2. build     sdist and wheel with the hash-locked backend (requirements/build.txt),
               SOURCE_DATE_EPOCH = the commit's time, built twice plus the wheel from the sdist:
               byte-identical or the release stops
  3. gates     our own gates on our own release: `changegate sbom` (CycloneDX of the locked
               dependencies the actions install), `changegate audit` (offline OSV database),
               `changegate sign` (bundles for the sdist and wheel, SBOM and audit attestations)
               and `changegate verify` of every bundle. A dry run signs with a local Sigstore
               instance (changegate.testing.sigstore, on 127.0.0.1), so it runs offline; a real
               release signs with public-good Sigstore from the CI identity
  4. notes     release-notes.md (upgrade notes, contract diff, every digest, the SHA to pin,
               each template's integrity), release-manifest.json and SHA256SUMS

Everything lands in dist/changegate-<version>/. Nothing is published: the release workflow
(.github/workflows/release.yml) runs stages build and notes itself, does stage 3 with our own
actions (./actions/sbom, ./actions/audit, ./actions/sign, ./actions/verify), and publishes the
GitHub release on a tag push.

  python scripts/release.py --version 0.1.0                  # dry run, all stages
  python scripts/release.py --version 0.1.0 --stage build    # what the workflow runs first
  python scripts/release.py --version 0.1.0 --no-dry-run     # refuses a dirty tree or no tag
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import release_build
import release_checks
import release_contracts
import release_notes

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ".github/workflows/release.yml"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
DEFAULT_REPOSITORY = "changegate/changegate"
# DESIGN.md: the project's OSV snapshot beside the repository (../shared/data/...).
SHARED_OSV = ROOT.parent / "shared" / "data" / "pypa-advisory-database"
RUNTIME_LOCK = "requirements/action.txt"
STEPS = "steps.json"


class ReleaseError(RuntimeError):
    """The release stops here; the message says why and what to do."""


def log(message: str) -> None:
    print(f"release: {message}", file=sys.stderr, flush=True)


@dataclass
class Step:
    name: str
    status: str
    detail: str = ""


@dataclass
class Release:
    """One release run: its inputs, and what each step did."""

    version: str
    dry_run: bool
    commit: str
    out: Path
    repository: str
    environ: Mapping[str, str]
    steps: list[Step] = field(default_factory=list)

    @property
    def tag(self) -> str:
        return f"v{self.version}"

    @property
    def results(self) -> Path:
        return self.out / "results"

    def file(self, suffix: str) -> Path:
        return self.out / f"changegate-{self.version}{suffix}"

    def step(self, name: str, status: str, detail: str = "") -> None:
        self.steps.append(Step(name, status, detail))
        log(f"{name}: {status}" + (f" ({detail})" if detail else ""))
        # Kept beside the artifacts, so a later stage (another process) knows what ran.
        if self.out.is_dir():
            (self.out / STEPS).write_text(json.dumps([vars(s) for s in self.steps], indent=2)
                                          + "\n", encoding="utf-8")

    def load_steps(self) -> None:
        path = self.out / STEPS
        if path.is_file():
            self.steps = [Step(**s) for s in json.loads(path.read_text(encoding="utf-8"))]


@contextmanager
def exported(root: Path, commit: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="changegate-release-") as tmp:
        yield release_build.export(root, commit, Path(tmp) / "changegate")


# -- 1. checks ------------------------------------------------------------------------------------

def run_checks(release: Release, source: Path, root: Path) -> None:
    problems = release_checks.version_problems(source, release.version)
    changelog = source / "CHANGELOG.md"
    releases = release_contracts.changelog_releases(
        changelog.read_text(encoding="utf-8") if changelog.is_file() else "")
    entry = releases.get(release.version)
    if entry is None:
        problems.append(f"CHANGELOG.md has no section `## [{release.version}] - YYYY-MM-DD`")
    elif entry.section("Upgrade notes") is None:
        problems.append(f"CHANGELOG.md's {release.version} section has no `### Upgrade notes`")
    elif not release.dry_run and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry.date):
        problems.append(f"CHANGELOG.md's {release.version} section has no release date "
                        f"(`## [{release.version}] - YYYY-MM-DD`, got {entry.date!r})")
    problems += release_contracts.check(release.version, source)
    catalog = subprocess.run([sys.executable, str(source / "scripts" / "sync-catalog.py"),
                              "--check", "--root", str(source)],
                             capture_output=True, text=True, check=False)
    if catalog.returncode != 0:
        problems.append("templates/ is not the generated copy of gitlab-templates/: "
                        + catalog.stderr.strip().replace("\n", "; "))
    problems += release_checks.moving_references(source)
    problems += release_checks.action_install_problems(source)
    if not release.dry_run:
        dirty = release_build.dirty_paths(root)
        if dirty:
            problems.append(f"the working tree is not clean ({len(dirty)} paths, e.g. "
                            f"{dirty[0]}): a release is built from a commit, and only from one")
        tagged = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "--quiet",
                                 f"refs/tags/{release.tag}^{{commit}}"],
                                capture_output=True, text=True, check=False).stdout.strip()
        if tagged != release.commit:
            problems.append(f"tag {release.tag} does not point at {release.commit[:12]}: tag "
                            "the release commit first (git tag -s)")
    elif release_build.dirty_paths(root):
        log(f"note: uncommitted changes are not in this build; it is {release.commit[:12]} "
            "exactly")
    if problems:
        raise ReleaseError("the release checks failed:\n" + "\n".join(f"  - {p}"
                                                                       for p in problems))
    release.step("checks", "passed", "versions, CHANGELOG, contracts, catalog copy, pins")


# -- 2. build -------------------------------------------------------------------------------------

def run_build(release: Release, root: Path, lock: Path | None) -> release_build.Build:
    release.out.mkdir(parents=True, exist_ok=True)
    build = release_build.reproducible_build(root, release.commit, release.out, lock=lock,
                                             environ=release.environ)
    (release.out / "build.json").write_text(json.dumps(build.to_json(), indent=2) + "\n",
                                            encoding="utf-8")
    release.step("build", "reproducible", ", ".join(
        f"{name} {digest[:12]}" for name, digest in build.digests.items()))
    return build


def copy_contracts(release: Release, source: Path) -> None:
    target = release.out / "contracts"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source / "contracts" / release.version, target)


# -- 3. gates -------------------------------------------------------------------------------------

_CLI = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
        "from changegate.cli import main; raise SystemExit(main(sys.argv[1:]))")


def gate(source: Path, args: list[str], *, environ: Mapping[str, str],
         extra_env: Mapping[str, str] | None = None) -> tuple[int, dict[str, Any] | None, str]:
    """Run `changegate ARGS` from the release's own source (its src/), in that source tree."""
    env = {k: v for k, v in environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    env.update(extra_env or {})
    json_file = next((a.split("=", 1)[1] for a in args if a.startswith("--json-file=")), None)
    proc = subprocess.run([sys.executable, "-I", "-c", _CLI, str(source / "src"), *args],
                          cwd=source, env=env, capture_output=True, text=True, check=False,
                          timeout=600)
    document = None
    if json_file and Path(json_file).is_file():
        document = json.loads(Path(json_file).read_text(encoding="utf-8"))
    return proc.returncode, document, proc.stderr


def _require(rc: int, document: dict[str, Any] | None, stderr: str, what: str) -> dict[str, Any]:
    if rc != 0 or document is None:
        summary = document.get("summary") if document else stderr.strip()[-2000:]
        raise ReleaseError(f"{what} did not pass (exit {rc}): {summary}")
    return document


def audit_source(args: argparse.Namespace, environ: Mapping[str, str]) -> list[str] | None:
    db = args.audit_db or environ.get("CHANGEGATE_AUDIT_DB")
    service = args.audit_service or environ.get("CHANGEGATE_AUDIT_SERVICE")
    if service:
        if service not in {"osv", "pypi"}:
            raise ReleaseError(f"the audit service is osv or pypi, not {service!r}")
        return [f"--service={service}"]
    if db:
        found = [f"--db={Path(db).resolve()}"]
        digest = args.audit_db_sha256 or environ.get("CHANGEGATE_AUDIT_DB_SHA256")
        return found + ([f"--db-sha256={digest}"] if digest else [])
    if SHARED_OSV.is_dir():
        return [f"--db={SHARED_OSV}"]
    return None


def sign_available(source: Path, *, local_instance: bool) -> str | None:
    """None when `changegate sign` and `verify` can run here (and, for a dry run, the local
    Sigstore instance); else why not."""
    probe = subprocess.run(
        [sys.executable, "-I", "-c",
         "import sys; sys.path.insert(0, sys.argv[1]); from changegate import cli; "
         "m = cli.load_command('sign'); v = cli.load_command('verify'); "
         "import sigstore; sys.exit(0 if m and v else 3)", str(source / "src")],
        capture_output=True, text=True, check=False)
    if probe.returncode == 3:
        return "this commit does not ship `changegate sign` and `changegate verify`"
    if probe.returncode != 0:
        return (probe.stderr.strip().splitlines() or ["sign cannot be imported"])[-1]
    if local_instance:
        local = subprocess.run(
            [sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
             "import changegate.testing.sigstore", str(source / "src")],
            capture_output=True, text=True, check=False)
        if local.returncode != 0:
            return ("the local Sigstore instance (changegate.testing.sigstore) cannot run: "
                    + (local.stderr.strip().splitlines() or ["?"])[-1])
    return None


@contextmanager
def signing_instance(release: Release, source: Path, trust_config: Path | None
                     ) -> Iterator[tuple[dict[str, str], list[str], str]]:
    """(environment for `sign`, trust arguments, description) for this release's signatures.

    A dry run starts a local Sigstore instance (Fulcio, Rekor, an OIDC issuer on 127.0.0.1)
    and mints the token the release workflow would have on a tag push, so the bundles have the
    real release's identity, from a CA nobody else trusts. A real release signs on public-good
    Sigstore with the CI's own identity (GitHub: permissions id-token: write).
    """
    if not release.dry_run:
        args = [f"--trust-config={trust_config}"] if trust_config else []
        yield {}, args, ("a private instance" if trust_config else "public-good Sigstore")
        return
    if trust_config:
        shutil.copyfile(trust_config, release.out / "dry-run-trust-config.json")
        yield {}, [f"--trust-config={trust_config}"], "the given Sigstore instance, dry run"
        return
    sys.path.insert(0, str(source / "src"))
    from changegate.testing.sigstore import LocalSigstore

    with LocalSigstore() as instance:
        config = instance.write_trust_config(release.out / "dry-run-trust-config.json")
        token = instance.github_token(
            repository=release.repository, workflow=WORKFLOW, ref=f"refs/tags/{release.tag}",
            sha=release.commit, event_name="push", visibility="public")
        yield ({"SIGSTORE_IDENTITY_TOKEN": token}, [f"--trust-config={config}"],
               "a local, throw-away Sigstore instance, dry run")


def run_gates(release: Release, source: Path, args: argparse.Namespace) -> None:
    release.results.mkdir(parents=True, exist_ok=True)
    environ = release.environ
    artifacts = [p for p in sorted(release.out.iterdir())
                 if p.name.endswith((".tar.gz", ".whl"))]
    if len(artifacts) != 2:
        raise ReleaseError(f"expected the sdist and the wheel in {release.out}: run the build")

    # Whether we can sign at all, first: a real release stops before doing anything else.
    trust_config = Path(args.trust_config).resolve() if args.trust_config else None
    why_not = sign_available(source, local_instance=release.dry_run and trust_config is None)
    if why_not is not None and not release.dry_run:
        raise ReleaseError(f"cannot sign: {why_not}")

    sbom = release.file(".cdx.json")
    rc, doc, err = gate(source, ["sbom", f"--requirements={RUNTIME_LOCK}",
                                 "--pyproject=pyproject.toml", f"--output={sbom}",
                                 f"--json-file={release.results / 'sbom.json'}", "--quiet"],
                        environ=environ)
    doc = _require(rc, doc, err, "changegate sbom")
    release.step("sbom", doc["status"], f"{doc['sbom']['components']} components")

    audit = release.file(".audit.json")
    source_args = audit_source(args, environ)
    audited = False
    if source_args is None:
        if not release.dry_run:
            raise ReleaseError("no vulnerability database: pass --audit-db PATH (an OSV "
                               "snapshot) or --audit-service osv")
        release.step("audit", "skipped", "no OSV database: pass --audit-db PATH or "
                     "--audit-service osv")
    else:
        rc, doc, err = gate(source, ["audit", f"--sbom={sbom}", *source_args,
                                     f"--json-file={release.results / 'audit.json'}",
                                     "--quiet"], environ=environ)
        doc = _require(rc, doc, err, "changegate audit")
        shutil.copyfile(release.results / "audit.json", audit)
        audited = True
        release.step("audit", doc["status"],
                     f"{len(doc.get('vulnerabilities') or [])} known vulnerabilities")

    if why_not is not None:
        release.step("sign", "skipped: sign gate unavailable", why_not)
        return
    with signing_instance(release, source, trust_config) as (sign_env, trust_args, instance):
        names = [str(p) for p in artifacts]
        jobs: list[tuple[str, list[str]]] = [("sign", [])]
        jobs.append(("sign-sbom", ["--attest=sbom", f"--predicate={sbom}"]))
        if audited:
            jobs.append(("sign-audit", ["--attest=audit", f"--predicate={audit}"]))
        if environ.get("GITHUB_ACTIONS") == "true" or environ.get("GITLAB_CI") == "true":
            jobs.append(("sign-provenance", ["--attest=provenance"]))
        else:
            release.step("provenance", "skipped", "SLSA provenance is built from a CI run: the "
                         "release workflow attests it")
        identity = issuer = None
        for name, extra in jobs:
            rc, doc, err = gate(source, ["sign", *names, *extra, *trust_args, "--overwrite",
                                         f"--json-file={release.results / (name + '.json')}",
                                         "--quiet"], environ=environ, extra_env=sign_env)
            doc = _require(rc, doc, err, f"changegate {name.replace('-', ' --attest ', 1)}")
            identity, issuer = doc.get("identity"), doc.get("issuer")
        release.step("sign", "signed", f"{len(jobs)} runs as {identity}, on {instance}")

        verify_identity = ([f"--github-repository={release.repository}",
                            f"--github-workflow={Path(WORKFLOW).name}",
                            f"--github-ref=refs/tags/{release.tag}"])
        for name, kind in [("verify", None), ("verify-sbom", "sbom"),
                           ("verify-audit", "audit" if audited else None),
                           ("verify-provenance", "provenance"
                            if any(j == "sign-provenance" for j, _ in jobs) else None)]:
            if name != "verify" and kind is None:
                continue
            rc, doc, err = gate(source, ["verify", *names, *verify_identity, *trust_args,
                                         *([f"--predicate-type={kind}"] if kind else []),
                                         f"--json-file={release.results / (name + '.json')}",
                                         "--quiet"], environ=environ)
            _require(rc, doc, err, f"changegate {name.replace('-', ' --predicate-type ', 1)}")
        release.step("verify", "verified", f"every bundle against {release.repository} "
                     f"{WORKFLOW} refs/tags/{release.tag}")
    if issuer and issuer != GITHUB_ISSUER and not trust_config:
        log(f"note: signed by issuer {issuer}")


# -- 4. notes -------------------------------------------------------------------------------------

def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _results(release: Release) -> dict[str, dict[str, Any]]:
    found = {}
    if release.results.is_dir():
        for path in sorted(release.results.glob("*.json")):
            found[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return found


def collect(release: Release, source: Path) -> dict[str, Any]:
    """The manifest: everything the notes say, from the files in the release directory."""
    build = json.loads((release.out / "build.json").read_text(encoding="utf-8"))
    results = _results(release)
    problems = []
    for name, document in results.items():
        problems += [f"results/{name}.json: {p}" for p in
                     release_contracts.missing_fields(str(document.get("gate")), document)]
    if problems:
        raise ReleaseError("our own gates' output breaks the JSON contract "
                           "(scripts/release_contracts.py GATE_FIELDS):\n  "
                           + "\n  ".join(problems))

    artifacts = [{"name": name, **facts} for name, facts in build["artifacts"].items()]
    for artifact in artifacts:
        if _sha(release.out / artifact["name"]) != artifact["sha256"]:
            raise ReleaseError(f"{artifact['name']} changed after the build")

    sbom_file, audit_file = release.file(".cdx.json"), release.file(".audit.json")
    sbom: dict[str, Any] = {"skipped": "no SBOM (stage gates did not run)"}
    if sbom_file.is_file() and "sbom" in results:
        facts = results["sbom"]["sbom"]
        if facts.get("sha256") != _sha(sbom_file):
            raise ReleaseError(f"{sbom_file.name} is not the SBOM the gate reported")
        sbom = {"file": sbom_file.name, "sha256": facts["sha256"],
                "components": facts["components"], "spec_version": facts["spec_version"],
                "source": facts.get("source"), "status": results["sbom"]["status"]}
    audit: dict[str, Any] = {"skipped": "no OSV database was given (--audit-db)"}
    if audit_file.is_file():
        document = json.loads(audit_file.read_text(encoding="utf-8"))
        database = dict(document.get("database") or {})
        database["source"] = ("an OSV service" if not database.get("path")
                              else f"the OSV database {Path(str(database['path'])).name}")
        audit = {"file": audit_file.name, "sha256": _sha(audit_file),
                 "status": document["status"],
                 "vulnerabilities": len(document.get("vulnerabilities") or []),
                 "suppressed": len(document.get("suppressed") or []), "database": database}

    signing = _signing(release, results)
    contracts_dir = source / "contracts" / release.version
    previous = release_contracts.previous_version(release.version, source)
    changes = []
    if previous:
        changes = [c.line() for c in release_contracts.diff(
            release_contracts.load_snapshot(previous, source),
            release_contracts.load_snapshot(release.version, source))]
    entry = release_contracts.changelog_releases(
        (source / "CHANGELOG.md").read_text(encoding="utf-8")).get(release.version)
    return {
        "name": "changegate", "version": release.version, "tag": release.tag,
        "dry_run": release.dry_run, "commit": release.commit, "repository": release.repository,
        "source_date_epoch": build["source_date_epoch"], "build": build,
        "artifacts": artifacts,
        "actions": release_notes.action_pins(source, release.repository, release.commit),
        "templates": release_notes.template_digests(source),
        "sbom": sbom, "audit": audit, "signatures": signing,
        "contracts": {"previous": previous, "changes": changes,
                      "files": {p.name: _sha(p) for p in sorted(contracts_dir.glob("*.json"))}},
        "upgrade_notes": entry.section("Upgrade notes") if entry else None,
        "steps": [vars(step) for step in release.steps],
    }


def _signing(release: Release, results: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    signs = {k: v for k, v in results.items() if v.get("gate") == "sign"}
    verifies = {k: v for k, v in results.items() if v.get("gate") == "verify"}
    skipped = next((s.status for s in release.steps if s.name == "sign"
                    and s.status.startswith("skipped")), None)
    if skipped or not signs:
        return {"skipped": (skipped or "skipped: no signatures were made").removeprefix(
            "skipped: ")}
    first = next(iter(signs.values()))
    bundles = []
    for document in signs.values():
        for signed in document.get("signed") or []:
            path = release.out / Path(signed["bundle"]).name
            if not path.is_file():
                raise ReleaseError(f"bundle {path.name} is missing from {release.out}")
            of = Path(signed["artifact"]).name
            short = path.name.removeprefix(of).removesuffix(".sigstore.json").strip(".")
            kind = str(signed.get("kind") or "")
            bundles.append({"file": path.name, "of": of,
                            "kind": f"{kind} ({short})" if short else kind,
                            "predicate_type": signed.get("predicate_type"),
                            "sha256": _sha(path), "log_index": signed.get("log_index")})
    trust = release.out / "dry-run-trust-config.json"
    kind = str(first.get("instance"))
    if kind == "production":
        instance, trust_args = "public-good Sigstore", []
    elif kind == "staging":
        instance, trust_args = "the public-good staging instance, dry run", ["--staging"]
    elif trust.is_file():
        instance = "a local, throw-away Sigstore instance, dry run"
        trust_args = [f"--trust-config {trust.name}"]
    else:
        instance, trust_args = "a private Sigstore instance", ["--trust-config FILE"]
    verify_args = [f"--cert-identity {first.get('identity')}",
                   f"--cert-oidc-issuer {first.get('issuer')}", *trust_args]
    provenance = any("provenance" in str(b["predicate_type"]) for b in bundles)
    return {
        "instance": instance,
        "identity": first.get("identity"), "issuer": first.get("issuer"),
        "bundles": sorted(bundles, key=lambda b: (b["of"], b["file"])),
        "verified": bool(verifies) and all(v.get("verified") is True
                                           and v.get("status") == "pass"
                                           for v in verifies.values()),
        "verify_results": sorted(verifies),
        "not_signed": [] if provenance else [
            "SLSA provenance (built from a CI run; the release workflow attests it)"],
        "verify_args": verify_args,
    }


def run_notes(release: Release, source: Path) -> dict[str, Path]:
    copy_contracts(release, source)
    done = {step.name for step in release.steps}
    results = _results(release)
    for name in ("sbom", "audit", "sign", "verify"):
        runs = sorted(k for k in results if k == name or k.startswith(f"{name}-"))
        if name not in done and runs:
            # Made by the release workflow's own actions (./actions/<gate>), not this process.
            statuses = sorted({str(results[k].get("status")) for k in runs})
            release.step(name, "/".join(statuses), ", ".join(f"results/{k}.json" for k in runs))
    release.step("notes", "written", f"{release_notes.NOTES}, {release_notes.MANIFEST}, "
                 f"{release_notes.SUMS}")
    manifest = collect(release, source)
    return release_notes.write(release.out, manifest)


# -- main -----------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="release.py", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", required=True, help="the version to release, X.Y.Z")
    parser.add_argument("--no-dry-run", dest="dry_run", action="store_false",
                        help="a real release: clean tree, tag on the commit, public-good "
                             "signatures (still publishes nothing)")
    parser.add_argument("--stage", choices=["all", "build", "gates", "notes"], default="all",
                        help="run one stage (the release workflow: build, then notes)")
    parser.add_argument("--rev", default="HEAD", help="the commit to release (default HEAD)")
    parser.add_argument("--out", type=Path,
                        help="release directory (default dist/changegate-VERSION)")
    parser.add_argument("--repository", help="OWNER/REPO the release is published from "
                        "(default: $GITHUB_REPOSITORY, else changegate/changegate)")
    parser.add_argument("--build-lock", type=Path,
                        help="hash-locked build requirements (default: the commit's "
                             "requirements/build.txt)")
    parser.add_argument("--audit-db", help="an OSV database (directory or all.zip) "
                        "(default: $CHANGEGATE_AUDIT_DB, else ../shared/data/"
                        "pypa-advisory-database when present)")
    parser.add_argument("--audit-db-sha256", help="the database's expected content sha256")
    parser.add_argument("--audit-service", choices=["osv", "pypi"],
                        help="audit online instead (not offline: real releases in CI)")
    parser.add_argument("--trust-config", help="sign and verify against this Sigstore "
                        "instance (default: dry run: a local one; real: public-good)")
    parser.add_argument("--export-to", type=Path,
                        help="stage build: also export the commit's tree here (the release "
                             "workflow runs its gate actions in it)")
    args = parser.parse_args(argv)
    if not release_checks.VERSION.match(args.version):
        parser.error(f"--version must be X.Y.Z, got {args.version!r}")
    return args


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = parse_args(argv)
    environ = dict(os.environ if environ is None else environ)
    root = ROOT
    try:
        commit = release_build.resolve_commit(root, args.rev)
        out = (args.out or root / "dist" / f"changegate-{args.version}").resolve()
        release = Release(version=args.version, dry_run=args.dry_run, commit=commit, out=out,
                          repository=args.repository or environ.get("GITHUB_REPOSITORY")
                          or DEFAULT_REPOSITORY, environ=environ)
        log(f"{'dry run' if release.dry_run else 'RELEASE'} of changegate {args.version} from "
            f"{commit[:12]} into {out}")
        with exported(root, commit) as source:
            if args.stage == "all" and out.exists():
                shutil.rmtree(out)
            elif args.stage != "build":
                release.load_steps()  # what the earlier stages did
            if args.stage in {"all", "build"}:
                run_checks(release, source, root)
                run_build(release, root, args.build_lock.resolve() if args.build_lock else None)
                if args.export_to:
                    if args.export_to.exists():
                        shutil.rmtree(args.export_to)
                    release_build.export(root, commit, args.export_to.resolve())
            if args.stage in {"all", "gates"}:
                run_gates(release, source, args)
            if args.stage in {"all", "notes"}:
                written = run_notes(release, source)
                log(f"wrote {written['notes']}")
                if args.stage == "all":
                    sys.stdout.write(written["notes"].read_text(encoding="utf-8"))
    except (ReleaseError, release_build.BuildError) as exc:
        log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
