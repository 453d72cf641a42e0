"""`changegate verify-commits`: verify every commit's signature in the change's range."""

from __future__ import annotations

import argparse
from datetime import date
from typing import TYPE_CHECKING, Any

from changegate.errors import ChangegateError, InputError

if TYPE_CHECKING:
    from changegate.commands import RunContext
    from changegate.gates.verify_commits.gate import CommitException, Verifiers
    from changegate.result import GateResult

HELP = "verify the signature of every commit in the pull/merge request or push"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", help="exclusive lower bound of the range (default: from CI)")
    parser.add_argument("--head", help="the last commit to check (default: from CI, or HEAD)")
    parser.add_argument("--allowed-signers", metavar="FILE",
                        help="OpenSSH allowed_signers file (overrides the policy)")
    parser.add_argument("--revoked-keys", metavar="FILE",
                        help="SSH public keys that are revoked, one per line")
    parser.add_argument("--openpgp-keys", metavar="PATH",
                        help="directory or keyring of trusted OpenPGP certificates")
    parser.add_argument("--bind", choices=["committer", "author", "none"],
                        help="who the signer must be (default: committer)")


def execute(args: argparse.Namespace, run: RunContext) -> GateResult:
    from changegate.context import resolve_range
    from changegate.gates.verify_commits import gate
    from changegate.gates.verify_commits.objects import read_commits
    from changegate.git import Git

    settings = run.gate_settings("verify-commits")
    change = run.change()
    verifiers, trust = build_verifiers(args, settings, run)
    config = gate.VerifyCommitsConfig(
        bind=args.bind or settings.get("bind", "committer"),
        allow_github_web_flow=bool(settings.get("allow_github_web_flow", False)),
        exceptions=parse_exceptions(settings.get("exceptions", [])),
        today=date.today(),
        trust=trust,
    )
    shas = resolve_range(change, Git(change.workdir))
    commits = read_commits(change.workdir, shas)
    if commits and not any((verifiers.ssh, verifiers.openpgp, config.allow_github_web_flow)):
        policy = run.policy()
        where = policy.location("gates", "verify-commits") if policy else None
        raise ChangegateError(
            "NO_TRUSTED_KEYS",
            "no trusted keys are configured, so no commit signature can be verified", where,
            fix="set gates.verify-commits.allowed_signers and/or openpgp_keys in the policy, or "
                "pass --allowed-signers / --openpgp-keys")
    result = gate.run(commits, config, verifiers)
    result.details["range"] = {"base": change.base, "head": change.head, "commits": len(shas)}
    return result


def build_verifiers(args: argparse.Namespace, settings: dict[str, Any],
                    run: RunContext) -> tuple[Verifiers, dict[str, str]]:
    """Load trust material: command-line paths from disk, policy paths from the trusted revision.

    Paths named in the policy are read at the base revision (a PR cannot add its own key);
    paths given on the command line were chosen by the workflow author and are read as files.
    """
    from pathlib import Path

    from changegate.gates.verify_commits.gate import Verifiers
    from changegate.gates.verify_commits.openpgp import OpenPgpKeyring, OpenPgpVerifier
    from changegate.gates.verify_commits.ssh import AllowedSigners, RevokedKeys, SshVerifier
    from changegate.gates.verify_commits.webflow import web_flow_keyring
    from changegate.gates.verify_commits.x509 import X509Recognizer

    trusted = run.trusted()
    trust: dict[str, str] = {}

    names: dict[str, str] = {}

    def locate(cli_value: str | None, key: str) -> Path | None:
        if cli_value:
            trust[key] = names[key] = cli_value
            path = Path(cli_value)
            if not path.exists():
                raise InputError(f"{cli_value} does not exist", file=cli_value,
                                 rule="TRUST_FILE_MISSING")
            return path
        policy_value = settings.get(key)
        if not policy_value:
            return None
        trust[key] = trusted.label(policy_value)
        names[key] = policy_value
        return trusted.local_path(policy_value)

    # GitHub's pinned web-flow keys are judged at signing time: GitHub rotated its key in
    # January 2024 and the commits it signed before that remain GitHub's.
    verifiers = Verifiers(web_flow=OpenPgpVerifier(web_flow_keyring(),
                                                   key_validity="signing-time"),
                          x509=X509Recognizer())
    signers = locate(args.allowed_signers, "allowed_signers")
    if signers is not None:
        revoked_path = locate(args.revoked_keys, "revoked_keys")
        revoked = (RevokedKeys.from_file(revoked_path, names["revoked_keys"])
                   if revoked_path else None)
        verifiers.ssh = SshVerifier(
            AllowedSigners.from_file(signers, names["allowed_signers"]), revoked)
    keys = locate(args.openpgp_keys, "openpgp_keys")
    if keys is not None:
        validity = settings.get("openpgp_key_validity", "now")
        verifiers.openpgp = OpenPgpVerifier(OpenPgpKeyring.from_path(keys),
                                            key_validity=validity)
    return verifiers, trust


def parse_exceptions(items: list[dict[str, Any]]) -> tuple[CommitException, ...]:
    """Policy exceptions, already schema-checked; dates parsed here."""
    from changegate.gates.verify_commits.gate import CommitException

    out = []
    for item in items:
        out.append(CommitException(
            commit=item["commit"], reason=item["reason"], approver=item["approver"],
            expires=date.fromisoformat(str(item["expires"])), ticket=item.get("ticket")))
    return tuple(out)
