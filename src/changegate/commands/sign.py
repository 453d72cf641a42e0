"""`changegate sign`: keyless Sigstore signatures and attestations for build artifacts."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from changegate.errors import InputError

if TYPE_CHECKING:
    from changegate.commands import RunContext
    from changegate.gates.sigstore.ci import CIFacts
    from changegate.gates.sigstore.config import SignSettings
    from changegate.gates.sigstore.signing import Job
    from changegate.gates.sigstore.trust import TrustSource
    from changegate.result import GateResult

HELP = "sign artifacts and attestations with Sigstore (keyless, from the CI identity)"


def configure(parser: argparse.ArgumentParser) -> None:
    """Every option defaults to None, so `changegate check` runs on the policy's settings."""
    parser.add_argument("artifacts", nargs="*", metavar="FILE",
                        help="files to sign (default: gates.sign.artifacts)")
    who = parser.add_argument_group("identity")
    who.add_argument("--identity-token", metavar="TOKEN",
                     help="OIDC token (audience sigstore); default: SIGSTORE_IDENTITY_TOKEN, "
                          "else the CI's (GitHub id-token: write; GitLab SIGSTORE_ID_TOKEN)")
    who.add_argument("--expect-identity", metavar="ID",
                     help="refuse to sign unless the certificate names this identity "
                          "(default: gates.sign.identity)")
    who.add_argument("--expect-issuer", metavar="URL",
                     help="... and this OIDC issuer (default: gates.sign.issuer)")
    where = parser.add_argument_group("Sigstore instance (default: public-good production)")
    where.add_argument("--staging", action="store_true", default=None,
                       help="the public-good staging instance")
    where.add_argument("--trust-config", metavar="FILE",
                       help="a ClientTrustConfig for a private instance")
    where.add_argument("--allow-public-log", action="store_true", default=None,
                       help="sign a private repository's artifacts on the public-good log "
                            "anyway (its names become public)")
    what = parser.add_argument_group("what to sign")
    what.add_argument("--attest", metavar="TYPE",
                      help="sign an in-toto attestation instead: sbom, audit, provenance or a "
                           "predicate type URI")
    what.add_argument("--predicate", metavar="FILE",
                      help="the predicate (a CycloneDX JSON SBOM, a changegate audit result, "
                           "or any JSON object); provenance is built from the CI run")
    out = parser.add_argument_group("bundles")
    out.add_argument("--bundle", metavar="FILE",
                     help="the bundle to write (one artifact only; default FILE.sigstore.json, "
                          "FILE.<type>.sigstore.json for attestations)")
    out.add_argument("--output-dir", metavar="DIR", help="write bundles here instead")
    out.add_argument("--overwrite", action="store_true", default=None,
                     help="replace existing bundles")
    check = parser.add_argument_group("checks")
    check.add_argument("--verify-after", dest="verify_after", action="store_true",
                       default=None, help="verify each bundle right after signing (default)")
    check.add_argument("--no-verify-after", dest="verify_after", action="store_false",
                       help="do not verify after signing")
    check.add_argument("--dry-run", action="store_true", default=None,
                       help="show the identity, artifacts and bundle paths; sign nothing")


def execute(args: argparse.Namespace, run: RunContext) -> GateResult:
    from changegate.gates.sigstore import ci, signing, tokens
    from changegate.gates.sigstore.config import SignSettings

    settings = SignSettings.from_settings(run.gate_settings("sign"))
    instance, trust = _instance(args, settings, run)
    jobs = _jobs(args, settings, run, ci.read(run.environ))
    token = tokens.acquire(args.identity_token, run.environ)
    request = signing.SignRequest(
        jobs=jobs, token=token, instance=instance, trust=trust,
        expected_identity=args.expect_identity or settings.identity,
        expected_issuer=args.expect_issuer or settings.issuer,
        verify_after=settings.verify_after if args.verify_after is None else args.verify_after,
        dry_run=bool(args.dry_run), overwrite=bool(args.overwrite or settings.overwrite),
        allow_public_log=bool(args.allow_public_log or settings.allow_public_log))
    return signing.run(request)


def _instance(args: argparse.Namespace, settings: SignSettings,
              run: RunContext) -> tuple[str, TrustSource | None]:
    from changegate.gates.sigstore import trust

    if args.trust_config:
        return "custom", trust.load_file(Path(args.trust_config))
    if args.staging:
        return "staging", None
    if settings.trust_config:
        source = run.trusted()
        return "custom", trust.load_file(source.local_path(settings.trust_config),
                                         source.label(settings.trust_config))
    return ("staging" if settings.staging else "production"), None


def _jobs(args: argparse.Namespace, settings: SignSettings, run: RunContext,
          facts: CIFacts) -> list[Job]:
    from changegate.gates.sigstore import predicates
    from changegate.gates.sigstore.artifacts import (
        bundle_path,
        from_argument,
        requested,
    )
    from changegate.gates.sigstore.signing import Job
    from changegate.gates.sigstore.statement import short_name

    names, base = requested(args.artifacts, settings.artifacts, run.workdir,
                            setting="gates.sign.artifacts", action="sign",
                            fix="pass FILE..., or set gates.sign.artifacts in the policy")
    if args.attest:
        kinds: list[tuple[str, Path | None]] = [
            (args.attest, Path(args.predicate) if args.predicate else None)]
    else:
        if args.predicate:
            raise InputError("--predicate needs --attest TYPE", rule="BAD_INPUT")
        kinds = [("", None)] if settings.signature else []
        kinds += [(a.type, run.workdir / a.predicate if a.predicate else None)
                  for a in settings.attest]
    output_dir = Path(args.output_dir or settings.output_dir or "") if (
        args.output_dir or settings.output_dir) else None
    built = {kind: predicates.build(kind, path, facts) if kind else None
             for kind, path in kinds}
    jobs: list[Job] = []
    for name in names:
        artifact = from_argument(name, base)
        if artifact.path is None:
            raise InputError(f"{name}: signing needs the file itself", rule="ARTIFACT_MISSING")
        for kind, _path in kinds:
            made = built[kind]
            suffix = ".sigstore.json"
            if made is not None:
                suffix = f".{short_name(made[0]) or 'attestation'}.sigstore.json"
            target = bundle_path(artifact.path, suffix=suffix, output_dir=output_dir)
            jobs.append(Job(artifact=artifact, bundle=target, bundle_label=_label(target, base),
                            predicate_type=made[0] if made else None,
                            predicate=made[1] if made else None))
    if args.bundle:
        if len(jobs) != 1:
            raise InputError("--bundle names one bundle: sign one artifact with it, or use "
                             "--output-dir", rule="BAD_INPUT")
        jobs[0] = Job(jobs[0].artifact, Path(args.bundle), args.bundle, jobs[0].predicate_type,
                      jobs[0].predicate)
    return jobs


def _label(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)
