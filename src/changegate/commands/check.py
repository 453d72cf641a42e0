"""`changegate check`: run every gate the policy enables for this change's environment."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from changegate.errors import ChangegateError

if TYPE_CHECKING:
    from changegate.commands import RunContext
    from changegate.result import GateResult

HELP = "run every gate the policy enables for this change's environment"



def configure(parser: argparse.ArgumentParser) -> None:
    """Besides the common options, `check` takes the range (default: from the CI context)."""
    parser.add_argument("--base", help="exclusive lower bound of the range (default: from CI)")
    parser.add_argument("--head", help="the last commit to check (default: from CI, or HEAD)")
    parser.add_argument("--evidence-dir", metavar="DIR",
                        help="where the evidence records and ledger go (default: the policy's "
                             "evidence.dir, else .changegate/evidence)")
    parser.add_argument("--no-evidence", action="store_true",
                        help="record no evidence (local experiments only: a CI run that "
                             "decides a change should always leave its record)")


def execute(args: argparse.Namespace, run: RunContext) -> list[GateResult]:
    from changegate.cli import execute_safely, load_command
    from changegate.result import Finding, GateResult, Severity, Status

    policy = run.policy()
    if policy is None:
        raise ChangegateError(
            "POLICY_MISSING", "`changegate check` needs a policy file, and none was found at "
            f"{run.trusted().label(args.policy or '.changegate.yml')}",
            fix="commit a .changegate.yml to the target branch (see docs/policy.md)")
    environment = run.environment_name()
    if environment is None:
        change = run.change()
        status = {"pass": Status.PASS, "fail": Status.FAIL, "error": Status.ERROR}[
            policy.unmatched]
        message = (f"no environment in the policy matches {change.ref_type} "
                   f"{change.ref or '(unknown)'}; no gates were run (unmatched: "
                   f"{policy.unmatched})")
        return [GateResult(gate="check", status=status, summary=message, findings=[
            Finding(rule="NO_ENVIRONMENT", message=message,
                    location=policy.location("environments"),
                    severity=Severity.NOTE if status is Status.PASS else Severity.ERROR)])]
    if environment not in policy.environments():
        raise ChangegateError("UNKNOWN_ENVIRONMENT",
                              f"environment {environment!r} is not defined in the policy",
                              policy.location("environments"))
    results: list[GateResult] = []
    for gate in policy.gates_for(environment):
        # A gate this version cannot run makes the run inconclusive for that gate (fail
        # closed) instead of being skipped silently.
        module = load_command(gate)
        if module is None or gate == "check":
            results.append(GateResult.inconclusive(
                gate, "GATE_UNAVAILABLE",
                f"the policy enables the {gate} gate for {environment}, but this version of "
                "changegate cannot run it",
                location=policy.location("environments", environment, "gates"),
                fix="upgrade changegate, or remove the gate from the environment"))
            continue
        gate_args = _defaults(module, args)
        results.extend(execute_safely(gate, module, gate_args, run))
    if not args.no_evidence:
        results.extend(_record_evidence(results, args, run, environment))
    return results


def _record_evidence(results: list[GateResult], args: argparse.Namespace, run: RunContext,
                     environment: str) -> list[GateResult]:
    """Leave the change record (DESIGN: every decision leaves evidence an auditor can check).

    A failure to record makes the run inconclusive: an unrecorded decision cannot be shown
    to an auditor, so it must not pass.
    """
    from changegate.result import GateResult

    policy = run.policy()
    settings = dict(policy.data.get("evidence", {})) if policy is not None else {}
    if args.evidence_dir:
        settings["dir"] = args.evidence_dir
    try:
        from changegate.evidence.recorder import record_check
        from changegate.evidence.run_signer import run_signer

        with run_signer(run.environ, run.gate_settings("sign"), run.workdir) as signer:
            run.evidence = record_check(results, change=run.change(), policy=policy,
                                        environment=environment, settings=settings,
                                        environ=run.environ, workdir=run.workdir,
                                        signer=signer)
    except ChangegateError as exc:
        return [GateResult.inconclusive("evidence", exc.rule, exc.message, exc.location,
                                        exc.fix)]
    return []


def _defaults(module: object, common: argparse.Namespace) -> argparse.Namespace:
    """The gate's own options at their defaults (the policy supplies settings), plus common."""
    parser = argparse.ArgumentParser()
    configure_gate = getattr(module, "configure")  # noqa: B009 - the command-module interface
    configure_gate(parser)
    namespace = parser.parse_args([])
    for key, value in vars(common).items():
        setattr(namespace, key, value)
    return namespace
