"""Command-line entry point: argument parsing and dispatch only.

Every gate module is imported lazily, after the subcommand is known, because some gates pull in
heavy libraries (sigstore alone imports in ~0.6 s) and `changegate --help` must stay instant.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from changegate import __version__

if TYPE_CHECKING:
    from changegate.change import Change
    from changegate.commands import RunContext
    from changegate.policy.model import Policy
    from changegate.policy.source import TrustedSource
    from changegate.result import GateResult

# name -> (module, one-line help). Help text lives here so `--help` imports no command module.
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("changegate.commands.check",
              "run every gate the policy enables for this change's environment"),
    "verify-commits": ("changegate.commands.verify_commits",
                       "verify the signature of every commit in the change"),
    "sbom": ("changegate.commands.sbom", "generate and check a CycloneDX SBOM"),
    "audit": ("changegate.commands.audit",
              "audit dependencies for known vulnerabilities (online or offline OSV)"),
    "sign": ("changegate.commands.sign", "sign artifacts and attestations with Sigstore"),
    "verify": ("changegate.commands.verify", "verify Sigstore bundles against an identity policy"),
    "approvals": ("changegate.commands.approvals",
                  "enforce reviewer and compliance approval rules on a PR/MR"),
    "evidence": ("changegate.commands.evidence",
                 "record, verify and report the evidence of gate decisions"),
    "policy": ("changegate.commands.policy", "validate a policy file or print its JSON Schema"),
}
# Commands that are gates: they share the policy/context/output options and return results.
GATE_COMMANDS = ("verify-commits", "sbom", "audit", "sign", "verify", "approvals")


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    environ = os.environ if environ is None else environ
    parser = _top_parser()
    if not argv or argv[0] not in COMMANDS:
        args = parser.parse_args(argv)  # prints help/version or an error and exits
        parser.print_help(sys.stderr)
        return 2
    name = argv[0]
    module = load_command(name)
    if module is None:
        sys.stderr.write(f"changegate: the {name} command is not available in this version "
                         f"({__version__})\n")
        return 2
    sub = argparse.ArgumentParser(prog=f"changegate {name}", description=COMMANDS[name][1])
    module.configure(sub)
    if name in GATE_COMMANDS or name == "check":
        add_common_arguments(sub)
    args = sub.parse_args(argv[1:])
    args.command = name
    if not hasattr(args, "json"):
        return int(module.execute(args, environ))
    return run_gate_command(name, module, args, environ)


def load_command(name: str) -> Any | None:
    """The command's module, or None when this version does not ship it yet."""
    module_name = COMMANDS[name][0]
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="changegate",
        description="Compliance gates for CI/CD: signed commits, SBOMs, dependency audits, "
                    "Sigstore signatures, approvals, and evidence an auditor can verify.",
        epilog="Exit codes: 0 passed, 1 failed by policy, 2 inconclusive (could not check). "
               "Run `changegate COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"changegate {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for command, (_module, text) in COMMANDS.items():
        commands.add_parser(command, help=text, add_help=False)
    return parser


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Options every gate shares: policy, environment, and where results are written."""
    group = parser.add_argument_group("policy and context")
    group.add_argument("--policy", metavar="FILE", default=None,
                       help="policy file, path in the repository (default: .changegate.yml)")
    group.add_argument("--environment", metavar="NAME",
                       help="deployment environment (default: matched from the ref by the policy)")
    group.add_argument("--trust-worktree", "--policy-from-worktree", action="store_true",
                       dest="trust_worktree",
                       help="read the policy and trusted keys from the working tree instead of "
                            "the base revision (local runs only: a pull request must not be "
                            "able to weaken its own gate)")
    group.add_argument("-C", "--directory", metavar="DIR", default=None,
                       help="the repository to check (default: the current directory)")
    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    out.add_argument("--json-file", metavar="FILE", help="also write the JSON result to FILE")
    out.add_argument("--sarif", metavar="FILE", help="also write a SARIF 2.1.0 report to FILE")
    out.add_argument("--summary", metavar="FILE",
                     help="also write the Markdown summary (as in GitHub's job summary) to FILE")
    out.add_argument("--codequality", metavar="FILE",
                     help="GitLab Code Quality report (default in GitLab CI: "
                          "gl-code-quality-report.json)")
    out.add_argument("--junit", metavar="FILE",
                     help="JUnit XML report (default in GitLab CI: changegate-junit.xml)")
    out.add_argument("--dotenv", metavar="FILE",
                     help="dotenv report (default in GitLab CI: changegate.env)")
    out.add_argument("--annotations", metavar="FILE",
                     help="GitLab annotations report: each gate's status and links to the "
                          "evidence on the job page (default in GitLab CI: gl-annotations.json)")
    out.add_argument("--quiet", action="store_true", help="no human-readable output on stderr")
    pub = parser.add_argument_group(
        "publishing on the pull/merge request",
        "Best effort: a refused or failed publish is a warning and never changes the exit code.")
    pub.add_argument("--check-runs", choices=("auto", "on", "off"), default=None,
                     help="a GitHub check run per gate with every finding as an annotation "
                          "(token with `checks: write`). auto: on GitHub Actions when a token "
                          "is available, falling back to workflow-command annotations (at most "
                          "10 per type) without the permission. Default: CHANGEGATE_CHECK_RUNS, "
                          "else off (the actions pass auto)")
    pub.add_argument("--comment", action=argparse.BooleanOptionalAction, default=None,
                     help="create or update the one summary comment on the pull request "
                          "(`pull-requests: write`) or merge request (a token with `api` scope "
                          "in CHANGEGATE_GITLAB_TOKEN). Default: off, or CHANGEGATE_COMMENT")
    pub.add_argument("--allow-inconclusive", action="store_true",
                     help="the workflow lets inconclusive results pass (the action's "
                          "fail-on-error: false; also CHANGEGATE_FAIL_ON_ERROR=false): show "
                          "them as neutral check runs. The exit code is still 2")


def build_run_context(args: argparse.Namespace, environ: Mapping[str, str]) -> RunContext:
    """Wire the lazily built Change, trusted source and policy for one command invocation."""
    from changegate.commands import RunContext, inside_git

    workdir = Path(args.directory or os.getcwd()).resolve()

    def change() -> Change:
        from changegate.context import detect_change

        return detect_change(environ, workdir, base=getattr(args, "base", None),
                             head=getattr(args, "head", None))

    def trusted() -> TrustedSource:
        from changegate.policy.source import TrustedSource

        if args.trust_worktree or not inside_git(workdir):
            # Outside a repository there is no base revision a change could weaken: an
            # `sbom --lock FILE` run on a plain directory reads its policy from disk.
            return TrustedSource(workdir, None)
        return TrustedSource(workdir, run.change().policy_revision)

    def policy() -> Policy | None:
        from changegate.errors import InputError
        from changegate.policy import DEFAULT_POLICY_PATH, load_policy

        path = args.policy or DEFAULT_POLICY_PATH
        loaded = load_policy(run.trusted(), path)
        if loaded is None and args.policy:
            raise InputError(f"policy file {run.trusted().label(path)} does not exist",
                             file=path, rule="POLICY_MISSING")
        return loaded

    run = RunContext(workdir=workdir, environ=environ, change_factory=change,
                     policy_factory=policy, trusted_factory=trusted,
                     environment_override=args.environment)
    return run


def run_gate_command(name: str, module: Any, args: argparse.Namespace,
                     environ: Mapping[str, str]) -> int:
    """Run a gate command, turn any failure to check into an `error` result, render, exit."""
    from changegate.result import combined_status

    run = build_run_context(args, environ)
    try:
        results = execute_safely(name, module, args, run)
    finally:
        if "trusted" in run._cache:
            run.trusted().close()
    from changegate.output import render_all

    render_all(results, args, run)
    return int(combined_status([r.status for r in results]).exit_code)


def execute_safely(name: str, module: Any, args: argparse.Namespace,
                   run: RunContext) -> list[GateResult]:
    """Never a traceback, never a pass: unexpected exceptions become an inconclusive result."""
    from changegate.errors import ChangegateError
    from changegate.result import GateResult

    try:
        outcome = module.execute(args, run)
    except ChangegateError as exc:
        return [GateResult.inconclusive(name, exc.rule, exc.message, exc.location, exc.fix)]
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # fail closed on anything unforeseen
        if run.environ.get("CHANGEGATE_DEBUG"):
            raise
        return [GateResult.inconclusive(
            name, "INTERNAL_ERROR", f"{type(exc).__name__}: {exc}",
            fix="this is a bug in changegate; rerun with CHANGEGATE_DEBUG=1 and report it")]
    if isinstance(outcome, list):
        return outcome
    return [outcome]


if __name__ == "__main__":
    raise SystemExit(main())
