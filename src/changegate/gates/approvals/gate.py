"""The approvals gate: turn a `Decision` into a `GateResult` a developer and an auditor can read.

One finding per rule (so the job summary lists every rule, satisfied or not, with who counted,
who did not and why, and what is still needed), one per blocking request for changes, notes for
self-approvals and stale approvals, and the emergency bookkeeping. `details` carries the same
in structured form (DESIGN.md: `rules: [{name, satisfied, required, counted, excluded,
missing}]`) plus every fetched fact, so the decision can be replayed offline.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from changegate.forges.models import ChangeFacts
from changegate.gates.approvals.config import ApprovalsConfig
from changegate.gates.approvals.evaluate import Decision, RuleOutcome, evaluate
from changegate.result import Finding, GateResult, Location, Severity, Status

GATE: Final = "approvals"
HELP_BASE: Final = "https://changegate.dev/docs/approvals#"

APPROVALS_MISSING: Final = "APPROVALS_MISSING"
APPROVAL_RULE_SATISFIED: Final = "APPROVAL_RULE_SATISFIED"
CHANGES_REQUESTED: Final = "CHANGES_REQUESTED"
SELF_APPROVAL_EXCLUDED: Final = "SELF_APPROVAL_EXCLUDED"
STALE_APPROVAL: Final = "STALE_APPROVAL"
EMERGENCY_APPROVAL_OWED: Final = "EMERGENCY_APPROVAL_OWED"
EMERGENCY_APPROVAL_OVERDUE: Final = "EMERGENCY_APPROVAL_OVERDUE"
EMERGENCY_NOT_ALLOWED: Final = "EMERGENCY_NOT_ALLOWED"
FORGE_NOTE: Final = "FORGE_NOTE"

Locator = Callable[..., Location]


def _finding(rule: str, severity: Severity, message: str, *, fix: str | None = None,
             location: Location | None = None, title: str | None = None) -> Finding:
    return Finding(rule=rule, severity=severity, message=message, fix=fix, title=title,
                   location=location or Location(), help_uri=HELP_BASE + rule.lower())


def _names(users: list[str]) -> str:
    return ", ".join(users) if users else "nobody"


def _rule_message(outcome: RuleOutcome) -> str:
    rule = outcome.rule
    head = (f"rule {rule.name!r}: {len(outcome.counted)} of {outcome.required} "
            f"approval{'s' if outcome.required != 1 else ''}")
    parts = [head, f"counted: {_names(outcome.counted)}"]
    # A satisfied rule needs no list of who else was not in scope: only why people were refused.
    shown = [e for e in outcome.excluded if not outcome.satisfied
             or e["reason"] not in ("not-eligible", "counted-elsewhere")]
    if shown:
        parts.append("not counted: " + "; ".join(f"{e['user']} ({e['why']})" for e in shown))
    if not outcome.satisfied:
        parts.append(f"still needed: {outcome.needs()}")
    return ". ".join(parts) + "."


def run(facts: ChangeFacts, config: ApprovalsConfig, *, environment: str | None,
        emergency_flag: bool = False, now: datetime | None = None,
        locate: Locator | None = None) -> GateResult:
    """Decide, then explain: findings for people, details for scripts and auditors."""
    decision = evaluate(facts, config, environment=environment,
                        emergency_flag=emergency_flag, now=now)
    findings = _findings(decision, facts, config, locate)
    emergency = decision.emergency
    bypass = emergency is not None and emergency.allowed
    failed = (not decision.rules_satisfied and not bypass) or bool(decision.changes_requested)
    failed = failed or (any(o.overdue for o in decision.owed) and (
        config.emergency is not None and config.emergency.overdue == "fail"))
    applicable = [o for o in decision.rules if o.applies]
    satisfied = sum(1 for o in applicable if o.satisfied)
    what = f"#{facts.number}" if facts.platform == "github" else f"!{facts.number}"
    summary = (f"{what}: {satisfied} of {len(applicable)} applicable approval rule"
               f"{'s' if len(applicable) != 1 else ''} satisfied")
    if decision.changes_requested:
        summary += f"; changes requested by {_names([u for u, _ in decision.changes_requested])}"
    if bypass and emergency is not None and emergency.owed:
        summary += "; emergency change: approval owed after the fact"
    if decision.owed:
        summary += f"; {len(decision.owed)} earlier emergency change(s) still unapproved"
    return GateResult(gate=GATE, status=Status.FAIL if failed else Status.PASS, summary=summary,
                      findings=findings, details=details(decision, facts, config, environment))


def details(decision: Decision, facts: ChangeFacts, config: ApprovalsConfig,
            environment: str | None) -> dict[str, Any]:
    return {
        "change_request": {"platform": facts.platform, "repository": facts.repository,
                   "number": facts.number, "url": facts.url, "state": facts.state,
                   "author": facts.author, "base_branch": facts.base_branch,
                   "head": facts.head_sha, "environment": environment,
                   **({"found_by": facts.found_by, "pushed_sha": facts.pushed_sha}
                      if facts.found_by else {})},
        "rules": [o.to_json() for o in decision.rules],
        "rules_source": "default" if config.default_rules else "policy",
        "require_current_head": config.require_current_head,
        "reviewers": [{"user": r.user, "state": r.state.value, "commit": r.commit,
                       "current": r.current(decision.head), "submitted_at": r.submitted_at,
                       "excluded_as": [{"reason": e.reason, "why": e.why}
                                       for e in decision.exclusions.get(r.user, [])]}
                      for r in decision.reviewers],
        "changes_requested": [{"user": u, "rules": rules}
                              for u, rules in decision.changes_requested],
        "emergency": decision.emergency.to_json() if decision.emergency else None,
        "emergencies_owed": [o.to_json() for o in decision.owed],
        "facts": facts.to_json(),
    }


def _findings(decision: Decision, facts: ChangeFacts, config: ApprovalsConfig,
              locate: Locator | None) -> list[Finding]:
    findings: list[Finding] = []
    emergency = decision.emergency
    bypass = emergency is not None and emergency.allowed

    def where(*path: str | int) -> Location:
        return locate(*path) if locate else Location()

    for index, outcome in enumerate(decision.rules):
        if not outcome.applies:
            continue
        at = where("gates", "approvals", "rules", index) if not config.default_rules else \
            where("gates", "approvals")
        if outcome.satisfied:
            findings.append(_finding(APPROVAL_RULE_SATISFIED, Severity.NOTE,
                                     _rule_message(outcome), location=at,
                                     title=outcome.rule.name))
            continue
        findings.append(_finding(
            APPROVALS_MISSING, Severity.WARNING if bypass else Severity.ERROR,
            _rule_message(outcome), location=at, title=outcome.rule.name,
            fix=f"get {outcome.needs()} on the current head {facts.head_sha[:12]}, then re-run "
                "this check (an approval does not start a pipeline by itself: see the re-run "
                "section of docs/approvals.md)"))
    for user, rules in decision.changes_requested:
        findings.append(_finding(
            CHANGES_REQUESTED, Severity.ERROR,
            f"{user} requested changes and is a required reviewer for "
            f"{', '.join(repr(r) for r in rules)}; this blocks until withdrawn",
            fix=f"address {user}'s review and ask them to approve, or have the review dismissed "
                "(GitHub) / the request for changes removed (GitLab)"))
    seen: set[tuple[str, str]] = set()
    for outcome in decision.rules:
        if not outcome.applies:
            continue
        for entry in outcome.excluded:
            key = (entry["user"], entry["reason"])
            if key in seen:
                continue
            seen.add(key)
            if entry["reason"] in ("author", "commit-author", "committer", "co-author",
                                   "last-pusher"):
                findings.append(_finding(
                    SELF_APPROVAL_EXCLUDED, Severity.NOTE,
                    f"{entry['user']} approved but {entry['why']}: their approval does not "
                    "count (the approver must be independent of the change)"))
            elif entry["reason"] == "stale":
                findings.append(_finding(
                    STALE_APPROVAL, Severity.NOTE,
                    f"{entry['user']} {entry['why']}: only approvals of the current head count",
                    fix=f"ask {entry['user']} to review the new commits and approve again"))
    if emergency is not None:
        if not emergency.allowed:
            findings.append(_finding(
                EMERGENCY_NOT_ALLOWED, Severity.WARNING,
                f"the change is marked as an emergency ({emergency.via}) but {emergency.reason};"
                " the approval rules apply as usual",
                fix="get the approvals, or have the security team allow emergency changes for "
                    "this environment in the policy (gates.approvals.emergency)",
                location=where("gates", "approvals", "emergency")))
        elif emergency.owed:
            policy = config.emergency
            label = policy.approved_label if policy else None
            findings.append(_finding(
                EMERGENCY_APPROVAL_OWED, Severity.WARNING,
                f"emergency change let through without the required approvals ({emergency.via});"
                f" an approval after the fact is owed by {emergency.owed_by}",
                fix=f"after the merge, have someone independent approve the pull/merge request "
                    f"(GitHub) or add the label {label!r} (GitHub and GitLab) by "
                    f"{emergency.owed_by}; later runs on {facts.base_branch} report it until then",
                location=where("gates", "approvals", "emergency")))
    overdue_fails = config.emergency is not None and config.emergency.overdue == "fail"
    for owed in decision.owed:
        label = config.emergency.approved_label if config.emergency else None
        sign = "#" if facts.platform == "github" else "!"
        if owed.overdue:
            findings.append(_finding(
                EMERGENCY_APPROVAL_OVERDUE, Severity.ERROR if overdue_fails else Severity.WARNING,
                f"emergency change {sign}{owed.number} merged into {facts.base_branch} at "
                f"{owed.merged_at} was never approved by anyone independent; it was due by "
                f"{owed.due}", location=where("gates", "approvals", "emergency"),
                fix=f"have someone who is not its author or a committer approve {sign}"
                    f"{owed.number} or add the label {label!r} to it"))
        else:
            findings.append(_finding(
                EMERGENCY_APPROVAL_OWED, Severity.WARNING,
                f"emergency change {sign}{owed.number} merged into {facts.base_branch} still "
                f"needs an approval after the fact, due by {owed.due}",
                location=where("gates", "approvals", "emergency"),
                fix=f"have someone independent approve {sign}{owed.number} or add the label "
                    f"{label!r} to it"))
    for note in facts.notes:
        findings.append(_finding(FORGE_NOTE, Severity.NOTE, note))
    if facts.last_pusher is not None and facts.last_pusher.source == "head-commit" and any(
            "last_pusher" in o.rule.exclude for o in decision.rules if o.applies):
        findings.append(_finding(
            FORGE_NOTE, Severity.NOTE,
            "the forge has no record of who pushed the head; its commit's author and committer "
            "are treated as the last pusher"))
    return findings
