"""`changegate verify`: verify Sigstore bundles offline against an identity policy or a key."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from changegate.errors import ChangegateError, InputError

if TYPE_CHECKING:
    from changegate.commands import RunContext
    from changegate.gates.sigstore.config import VerifySettings
    from changegate.gates.sigstore.identity import IdentityPolicy
    from changegate.gates.sigstore.trust import TrustSource
    from changegate.gates.sigstore.verify_gate import Item
    from changegate.result import GateResult

HELP = "verify Sigstore bundles against an identity policy (offline)"


def configure(parser: argparse.ArgumentParser) -> None:
    """Every option defaults to None, so `changegate check` runs on the policy's settings."""
    parser.add_argument("artifacts", nargs="*", metavar="FILE|sha256:HEX",
                        help="artifacts to verify (default: gates.verify.artifacts)")
    parser.add_argument("--bundle", metavar="FILE",
                        help="the bundle (one artifact only; default: FILE.sigstore.json, or "
                             "FILE.<kind>.sigstore.json with --predicate-type sbom|audit|"
                             "provenance)")
    who = parser.add_argument_group(
        "identity policy (one of; default: gates.verify identity/github/gitlab/key)")
    who.add_argument("--cert-identity", metavar="ID",
                     help="the exact certificate identity (SAN): an email or a URI")
    who.add_argument("--cert-oidc-issuer", metavar="URL",
                     help="the OIDC issuer that must have vouched for the identity (required "
                          "with --cert-identity; overrides the helpers' default)")
    who.add_argument("--github-repository", metavar="OWNER/REPO",
                     help="signed by a GitHub Actions workflow of this repository")
    who.add_argument("--github-workflow", metavar="PATH",
                     help="... by this workflow file (release.yml or .github/workflows/...)")
    who.add_argument("--github-ref", metavar="REF",
                     help="... running on this ref (refs/heads/main, refs/tags/v*; globs)")
    who.add_argument("--github-server", metavar="URL", help="default: https://github.com")
    who.add_argument("--gitlab-project", metavar="GROUP/PROJECT",
                     help="signed by a GitLab CI pipeline of this project")
    who.add_argument("--gitlab-config-path", metavar="PATH",
                     help="... defined in this CI file (.gitlab-ci.yml; globs)")
    who.add_argument("--gitlab-ref", metavar="REF", help="... on this ref (refs/heads/main)")
    who.add_argument("--gitlab-server", metavar="URL",
                     help="default: https://gitlab.com (also the default issuer)")
    who.add_argument("--key", metavar="PEM",
                     help="verify a bundle signed with this managed public key instead")
    trust = parser.add_argument_group("trust (default: the pinned production trusted root)")
    trust.add_argument("--trusted-root", metavar="FILE", help="a trusted_root.json")
    trust.add_argument("--trust-config", metavar="FILE",
                       help="a ClientTrustConfig (private instance, changegate.testing)")
    trust.add_argument("--staging", action="store_true", default=None,
                       help="the pinned root of the public-good staging instance")
    parser.add_argument("--predicate-type", metavar="TYPE",
                        help="require a DSSE attestation of this predicate type (a URI, or sbom,"
                             " audit, provenance)")


def execute(args: argparse.Namespace, run: RunContext) -> GateResult:
    from changegate.gates.sigstore import verify_gate
    from changegate.gates.sigstore.config import VerifySettings
    from changegate.gates.sigstore.verifying import key_fingerprint, load_public_key

    settings = VerifySettings.from_settings(run.gate_settings("verify"))
    predicate_type = args.predicate_type or settings.predicate_type
    key = key_label = None
    if args.key and _identity_given(args):
        raise InputError("pass --key or an identity policy, not both: a managed-key bundle has "
                         "no certificate identity to check", rule="NO_IDENTITY_POLICY")
    if args.key or (settings.key and not _identity_given(args)):
        label, data = _read(args.key, settings.key, run)
        key = load_public_key(data, label)
        key_label = f"{key_fingerprint(key)} ({label})"
        policy = None
    else:
        policy = identity_policy(args, settings)
    request = verify_gate.VerifyRequest(
        items=_items(args, settings, run, predicate_type), trust=_trust(args, settings, run),
        policy=policy, key=key, key_label=key_label, predicate_type=predicate_type)
    return verify_gate.run(request)


def _identity_given(args: argparse.Namespace) -> bool:
    return any(getattr(args, name, None) for name in (
        "cert_identity", "github_repository", "gitlab_project"))


def identity_policy(args: argparse.Namespace, settings: VerifySettings) -> IdentityPolicy:
    """The identity policy: the command line's if it names one, else the policy file's."""
    from changegate.gates.sigstore.identity import (
        GITHUB_ISSUER,
        GITHUB_SERVER,
        GITLAB_SERVER,
        IdentityPolicy,
    )

    issuer = args.cert_oidc_issuer
    if _identity_given(args):
        identity, github, gitlab = args.cert_identity, None, None
        if args.github_repository:
            github = (args.github_repository, args.github_workflow, args.github_ref,
                      args.github_server)
        if args.gitlab_project:
            gitlab = (args.gitlab_project, args.gitlab_config_path, args.gitlab_ref,
                      args.gitlab_server)
    else:
        identity, issuer = settings.identity, issuer or settings.issuer
        github = (settings.github.repository, settings.github.workflow, settings.github.ref,
                  settings.github.server) if settings.github else None
        gitlab = (settings.gitlab.project, settings.gitlab.config_path, settings.gitlab.ref,
                  settings.gitlab.server) if settings.gitlab else None
    if sum(x is not None for x in (identity, github, gitlab)) > 1:
        raise InputError("name one identity: --cert-identity, the --github-* helpers or the "
                         "--gitlab-* helpers", rule="NO_IDENTITY_POLICY")
    if github is not None:
        repository, workflow, ref, server = github
        if "/" not in repository:
            raise InputError(f"--github-repository must be OWNER/REPO, not {repository!r}",
                             rule="NO_IDENTITY_POLICY")
        server = (server or GITHUB_SERVER).rstrip("/")
        if issuer is None and server != GITHUB_SERVER:
            raise InputError("a GitHub Enterprise Server identity needs --cert-oidc-issuer "
                             "(its token issuer URL)", rule="NO_IDENTITY_POLICY")
        return IdentityPolicy(issuer=issuer or GITHUB_ISSUER, github_repository=repository,
                              github_workflow=workflow, github_ref=ref, github_server=server)
    if gitlab is not None:
        project, config_path, ref, server = gitlab
        server = (server or GITLAB_SERVER).rstrip("/")
        return IdentityPolicy(issuer=issuer or server, gitlab_project=project,
                              gitlab_config_path=config_path, gitlab_ref=ref,
                              gitlab_server=server)
    if identity is not None:
        if issuer is None:
            raise InputError("--cert-identity needs --cert-oidc-issuer: the same identity "
                             "from another issuer is another signer", rule="NO_IDENTITY_POLICY")
        return IdentityPolicy(issuer=issuer, identity=identity)
    raise ChangegateError(
        "NO_IDENTITY_POLICY", "no identity to verify against: a keyless signature by anyone "
        "would pass", fix="pass --cert-identity with --cert-oidc-issuer, a --github-* or "
        "--gitlab-* helper, or --key; or set gates.verify.identity/github/gitlab/key")


def _read(cli: str | None, policy: str | None, run: RunContext) -> tuple[str, bytes]:
    """A trust file: from disk when named on the command line, else at the trusted revision."""
    if cli:
        try:
            return cli, Path(cli).read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {cli}: {exc.strerror or exc}", file=cli,
                             rule="TRUST_FILE_MISSING") from exc
    trusted = run.trusted()
    policy = policy or ""
    return trusted.label(policy), trusted.local_path(policy).read_bytes()


def _trust(args: argparse.Namespace, settings: VerifySettings, run: RunContext) -> TrustSource:
    from changegate.gates.sigstore import trust

    if args.trusted_root and args.trust_config:
        raise InputError("pass --trusted-root or --trust-config, not both",
                         rule="TRUST_ROOT_INVALID")
    cli = args.trusted_root or args.trust_config
    if cli:
        return trust.load_file(Path(cli))
    if args.staging:
        return trust.load_pinned("staging")
    named = settings.trusted_root or settings.trust_config
    if named:
        source = run.trusted()
        return trust.load_file(source.local_path(named), source.label(named))
    return trust.load_pinned("staging" if settings.staging else "production")


def _items(args: argparse.Namespace, settings: VerifySettings, run: RunContext,
           predicate_type: str | None) -> list[Item]:
    from changegate.gates.sigstore.artifacts import (
        find_bundle,
        from_argument,
        requested,
    )
    from changegate.gates.sigstore.statement import predicate_uri, short_name
    from changegate.gates.sigstore.verify_gate import Item

    names, base = requested(args.artifacts, settings.artifacts, run.workdir,
                            setting="gates.verify.artifacts", action="verify",
                            fix="pass FILE or sha256:HEX, or set gates.verify.artifacts")
    if args.bundle and len(names) > 1:
        raise InputError("--bundle names one bundle: verify one artifact with it, or keep each "
                         "bundle beside its artifact (FILE.sigstore.json)", rule="BAD_INPUT")
    kind = short_name(predicate_uri(predicate_type)) if predicate_type else None
    items = []
    for name in names:
        try:
            artifact = from_argument(name, base)
        except InputError as exc:
            items.append(Item(None, name, None, None, (exc.rule, exc.message)))
            continue
        bundle = Path(args.bundle) if args.bundle else (
            find_bundle(artifact.path, kind) if artifact.path is not None else None)
        if bundle is None:
            why = ("a digest needs --bundle" if artifact.path is None else
                   f"no {name}.sigstore.json beside it; pass --bundle")
            items.append(Item(artifact, name, None, None, ("BUNDLE_MISSING", why)))
            continue
        label = args.bundle or (str(bundle.relative_to(base)) if bundle.is_relative_to(base)
                                else str(bundle))
        items.append(Item(artifact, name, bundle, label))
    return items
