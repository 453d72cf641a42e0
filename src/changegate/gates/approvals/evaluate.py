"""The decision: which rules apply, who counts for each, who does not and why, what is missing.

Pure and forge-neutral: it reads `ChangeFacts` and the parsed policy and nothing else, so the
same facts always give the same decision (GitHub and GitLab alike, today or replayed offline).

The steps, in order:
1. Each reviewer's current state is their latest review that says something (an approval, a
   request for changes, or a dismissal); comments change nothing.
2. Approvals given on an older head are stale (with `require_current_head`): listed, not counted.
3. A rule applies when every condition kind it lists holds (any value within a kind).
4. A reviewer is eligible for a rule when they approved the current head, are not excluded by
   the rule's `exclude` switches, and are in its `users`/`teams` when it names any.
5. Rules with `distinct` share one pool of people (a maximum matching, restrictive rules first);
   a rule with `distinct: false` counts its eligible reviewers regardless of other rules.
6. A request for changes from anyone eligible for an applicable rule blocks until withdrawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from fnmatch import fnmatchcase
from typing import Any

from changegate.forges.gitlab import parse_time
from changegate.forges.models import ChangeFacts, ReviewState
from changegate.gates.approvals.config import ApprovalsConfig, Rule
from changegate.gates.approvals.identities import Exclusion, exclusions_for
from changegate.gates.approvals.matching import assign
from changegate.policy.model import glob_matches

_EXCLUSION_WORDS = {"author": "the author", "committers": "a committer or co-author",
                    "last_pusher": "the last pusher"}


@dataclass
class Reviewer:
    """One reviewer's current standing on the change."""

    user: str
    state: ReviewState
    commit: str | None
    submitted_at: str | None

    def current(self, head: str) -> bool:
        return self.commit == head


@dataclass
class RuleOutcome:
    rule: Rule
    applies: bool
    reason: str
    counted: list[str] = field(default_factory=list)
    excluded: list[dict[str, str]] = field(default_factory=list)
    stale: list[dict[str, str | None]] = field(default_factory=list)

    @property
    def required(self) -> int:
        return self.rule.count if self.applies else 0

    @property
    def missing(self) -> int:
        return max(0, self.required - len(self.counted))

    @property
    def satisfied(self) -> bool:
        return self.missing == 0

    def needs(self) -> str | None:
        if self.satisfied:
            return None
        noun = "approval" if self.missing == 1 else "approvals"
        return f"{self.missing} more {noun} {who_phrase(self.rule)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.rule.name, "applies": self.applies, "reason": self.reason,
            "satisfied": self.satisfied, "required": self.required,
            "counted": list(self.counted), "excluded": list(self.excluded),
            "stale": list(self.stale), "missing": self.missing, "needs": self.needs(),
            "users": list(self.rule.users), "teams": list(self.rule.teams),
            "distinct": self.rule.distinct, "exclude": sorted(self.rule.exclude),
            "if": self.rule.conditions.to_json(),
        }


@dataclass
class EmergencyOutcome:
    active: bool
    via: str | None  # label | flag
    allowed: bool
    reason: str
    owed: bool = False
    owed_by: date | None = None

    def to_json(self) -> dict[str, Any]:
        return {"active": self.active, "via": self.via, "allowed": self.allowed,
                "reason": self.reason, "approval_owed": self.owed,
                "owed_by": self.owed_by.isoformat() if self.owed_by else None}


@dataclass
class OwedEmergency:
    number: int
    url: str | None
    merged_at: str | None
    due: date | None
    overdue: bool

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "url": self.url, "merged_at": self.merged_at,
                "due": self.due.isoformat() if self.due else None, "overdue": self.overdue}


@dataclass
class Decision:
    head: str
    rules: list[RuleOutcome]
    reviewers: list[Reviewer]
    exclusions: dict[str, list[Exclusion]]
    changes_requested: list[tuple[str, list[str]]]  # (user, rules they are eligible for)
    emergency: EmergencyOutcome | None
    owed: list[OwedEmergency]

    @property
    def rules_satisfied(self) -> bool:
        return all(r.satisfied for r in self.rules)


def who_phrase(rule: Rule) -> str:
    parts = list(rule.teams)
    if rule.users:
        parts.append("one of " + ", ".join(rule.users) if len(rule.users) > 1
                     else rule.users[0])
    if parts:
        return "from " + " or ".join(parts)
    words = [_EXCLUSION_WORDS[k] for k in ("author", "committers", "last_pusher")
             if k in rule.exclude]
    if not words:
        return "from any reviewer"
    if len(words) > 1:
        return "from someone who is not " + ", ".join(words[:-1]) + " or " + words[-1]
    return "from someone who is not " + words[0]


def path_matches(pattern: str, path: str) -> bool:
    """A changed path against a policy glob: `*` within a segment, `**` across segments.

    A pattern without a `/` matches a file name in any directory (`*.tf`), as in CODEOWNERS
    and .gitignore; a leading `/` anchors it at the repository root.
    """
    pattern = pattern.strip()
    if pattern.startswith("/"):
        return glob_matches(pattern[1:] + ("**" if pattern.endswith("/") else ""), path)
    if pattern.endswith("/"):  # a directory: everything under it, at any depth if unanchored
        inner = pattern + "**"
        return glob_matches(inner, path) or (
            "/" not in pattern[:-1] and glob_matches("**/" + inner, path))
    if "/" not in pattern:
        return fnmatchcase(path.rsplit("/", 1)[-1], pattern) or glob_matches(pattern, path)
    return glob_matches(pattern, path)


def latest_states(facts: ChangeFacts) -> list[Reviewer]:
    """Each reviewer's standing: the last approval, request for changes or dismissal."""
    states: dict[str, Reviewer] = {}
    for review in facts.reviews:
        if review.state in (ReviewState.COMMENTED, ReviewState.PENDING):
            continue
        states[review.user] = Reviewer(review.user, review.state, review.commit,
                                       review.submitted_at)
    return list(states.values())


def _applies(rule: Rule, facts: ChangeFacts, environment: str | None) -> tuple[bool, str]:
    cond = rule.conditions
    reasons: list[str] = []
    if cond.paths:
        hit = next((p for p in facts.files for g in cond.paths if path_matches(g, p)), None)
        if hit is None:
            return False, f"no changed path matches {', '.join(cond.paths)}"
        reasons.append(f"changes {hit}")
    if cond.branches:
        if not any(glob_matches(b, facts.base_branch) for b in cond.branches):
            return False, f"target branch {facts.base_branch} is not {', '.join(cond.branches)}"
        reasons.append(f"targets {facts.base_branch}")
    if cond.environments:
        if environment not in cond.environments:
            return False, (f"environment {environment or '(none)'} is not "
                           f"{', '.join(cond.environments)}")
        reasons.append(f"deploys to {environment}")
    if cond.labels:
        label = next((x for x in cond.labels if x in facts.labels), None)
        if label is None:
            return False, f"none of the labels {', '.join(cond.labels)} is set"
        reasons.append(f"labelled {label}")
    if cond.author_in_teams:
        team = next((t for t in cond.author_in_teams
                     if facts.author and facts.author in facts.teams[t].members), None)
        if team is None:
            return False, f"the author is not in {', '.join(cond.author_in_teams)}"
        reasons.append(f"author is in {team}")
    return True, ("applies: " + "; ".join(reasons)) if reasons else "applies to every change"


def _in_scope(rule: Rule, user: str, facts: ChangeFacts) -> bool:
    if not rule.restricted:
        return True
    if any(u.casefold() == user.casefold() for u in rule.users):
        return True
    return any(user in facts.teams[t].members for t in rule.teams)


def evaluate(facts: ChangeFacts, config: ApprovalsConfig, *, environment: str | None,
             emergency_flag: bool = False, now: datetime | None = None) -> Decision:
    now = now or datetime.now(timezone.utc)
    head = facts.head_sha
    reviewers = latest_states(facts)
    exclusions = {r.user: exclusions_for(facts, r.user) for r in reviewers}
    approvers = [r for r in reviewers if r.state is ReviewState.APPROVED]
    current = [r for r in approvers if r.current(head) or not config.require_current_head]

    outcomes = [RuleOutcome(rule, *_applies(rule, facts, environment)) for rule in config.rules]
    eligible: dict[str, list[str]] = {}
    for outcome in outcomes:
        rule = outcome.rule
        names: list[str] = []
        for r in approvers:
            blocked = [e for e in exclusions[r.user] if e.kind in rule.exclude]
            for e in blocked:
                outcome.excluded.append({"user": r.user, "reason": e.reason, "why": e.why})
            if r not in current:
                outcome.stale.append({"user": r.user, "commit": r.commit})
                outcome.excluded.append({
                    "user": r.user, "reason": "stale",
                    "why": (f"approved an older commit {r.commit[:12]}" if r.commit else
                            "approved, but the forge does not say on which commit") +
                           f"; the head is {head[:12]}"})
                continue
            if blocked:
                continue
            if not _in_scope(rule, r.user, facts):
                outcome.excluded.append({"user": r.user, "reason": "not-eligible",
                                         "why": f"not {who_phrase(rule)[5:]}"})
                continue
            names.append(r.user)
        eligible[rule.name] = names

    applicable = [o for o in outcomes if o.applies]
    shared = sorted((o for o in applicable if o.rule.distinct),
                    key=lambda o: (not o.rule.restricted, config.rules.index(o.rule)))
    counted = assign([(o.rule.name, o.rule.count, eligible[o.rule.name]) for o in shared])
    for o in shared:
        o.counted = counted[o.rule.name]
    for o in applicable:
        if not o.rule.distinct:
            o.counted = eligible[o.rule.name][:o.rule.count]
    owner = {u: o.rule.name for o in shared for u in o.counted}
    for o in shared:
        if o.satisfied:
            continue
        for user in eligible[o.rule.name]:
            if user not in o.counted and user in owner:
                o.excluded.append({"user": user, "reason": "counted-elsewhere",
                                   "why": f"already counted for {owner[user]!r} (distinct "
                                          "approvers)"})

    blockers: list[tuple[str, list[str]]] = []
    for r in reviewers:
        if r.state is not ReviewState.CHANGES_REQUESTED:
            continue
        rules = [o.rule.name for o in applicable
                 if _in_scope(o.rule, r.user, facts)
                 and not any(e.kind in o.rule.exclude for e in exclusions[r.user])]
        if rules:
            blockers.append((r.user, rules))

    decision = Decision(head=head, rules=outcomes, reviewers=reviewers, exclusions=exclusions,
                        changes_requested=blockers, emergency=None, owed=[])
    decision.emergency = _emergency(facts, config, environment, flag=emergency_flag,
                                    decision=decision, now=now)
    decision.owed = _owed(facts, config, now)
    return decision


def _emergency(facts: ChangeFacts, config: ApprovalsConfig, environment: str | None, *,
               flag: bool, decision: Decision, now: datetime) -> EmergencyOutcome | None:
    policy = config.emergency
    by_label = policy is not None and policy.label in facts.labels
    if not by_label and not flag:
        return None
    via = "label" if by_label else "flag"
    if policy is None:
        return EmergencyOutcome(True, via, False, "the policy has no `emergency` section, so "
                                "emergency changes are not allowed")
    if policy.environments and environment not in policy.environments:
        return EmergencyOutcome(True, via, False, f"emergency changes are allowed only for "
                                f"{', '.join(policy.environments)}, not "
                                f"{environment or '(no environment)'}")
    owed = not decision.rules_satisfied
    return EmergencyOutcome(
        True, via, True, "allowed by the policy's emergency section", owed=owed,
        owed_by=(now + timedelta(days=policy.approve_within_days)).date() if owed else None)


def _owed(facts: ChangeFacts, config: ApprovalsConfig, now: datetime) -> list[OwedEmergency]:
    policy = config.emergency
    if policy is None:
        return []
    out = []
    for past in facts.emergencies:
        excluded = {x.casefold() for x in past.excluded}
        if any(a.casefold() not in excluded for a in past.approvers):
            continue
        merged = parse_time(past.merged_at)
        due = (merged + timedelta(days=policy.approve_within_days)).date() if merged else None
        out.append(OwedEmergency(number=past.number, url=past.url, merged_at=past.merged_at,
                                 due=due, overdue=due is None or now.date() > due))
    return out
