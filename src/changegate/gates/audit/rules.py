"""The audit gate's rule ids: stable, documented in docs/audit.md, each with its standard fix.

Users script against these ids (and GitLab/SARIF fingerprints include them), so renaming one is
a breaking change. Rules marked `inconclusive` mean something could not be checked: a finding
of such a rule makes the whole result `error` (exit 2), never a pass or a plain failure.
"""

from __future__ import annotations

from dataclasses import dataclass

from changegate.result import Finding, Location, Severity

HELP_BASE = "https://changegate.dev/docs/audit#"


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    fix: str
    inconclusive: bool = False

    @property
    def help_uri(self) -> str:
        return HELP_BASE + self.id.lower()


RULES: dict[str, Rule] = {rule.id: rule for rule in (
    Rule("VULNERABLE_DEPENDENCY", "known vulnerability at or above the policy's threshold",
         "upgrade the package to a fixed version, or have the policy owner add an exception "
         "with a reason, approver, ticket and expiry"),
    Rule("UNRATED_VULNERABILITY", "known vulnerability without a usable severity rating",
         "upgrade the package to a fixed version, or have the policy owner add an exception; "
         "`unknown_severity: warn` makes unrated advisories warnings"),
    Rule("VULNERABILITY_BELOW_THRESHOLD", "known vulnerability rated below the policy's threshold",
         "upgrade the package when you can; it does not fail the gate"),
    Rule("EXCEPTION_EXPIRED", "a policy exception has expired",
         "upgrade the package, or have the policy owner renew the exception with a new "
         "expiry date (and a fresh approval)"),
    Rule("EXCEPTION_TOO_LONG", "a policy exception expires beyond the allowed horizon",
         "shorten the exception's expiry to within exception_max_days of today"),
    Rule("EXCEPTION_UNUSED", "a policy exception matched no vulnerability",
         "remove the exception (the vulnerability is gone), or fix its id/package/versions"),
    Rule("EXCEPTION_PARTIAL", "an exception covers only some advisories of a vulnerability",
         "add exceptions naming the remaining advisory ids, or upgrade the package"),
    Rule("NOT_AUDITED", "a local package was not audited",
         "nothing to do for your own code; publish shared code to an index to have it audited"),
    Rule("UNPINNED", "a dependency has no exact version, so it cannot be audited",
         "pin it to one version (name==1.2.3), or audit a lock file or the installed "
         "environment instead", inconclusive=True),
    Rule("BAD_VERSION", "a dependency's version is not a PEP 440 version",
         "pin an installable (PEP 440) version", inconclusive=True),
    Rule("PACKAGE_NOT_FOUND", "the vulnerability service does not know the package",
         "audit it against an OSV database that covers your private index, or use the OSV "
         "service", inconclusive=True),
    Rule("DB_RECORD_SKIPPED", "an advisory record the policy allowed to skip could not be used",
         "report the record upstream, or refresh the database"),
    Rule("DB_STALE", "the vulnerability database is older than max_age_days",
         "refresh the vulnerability database", inconclusive=True),
)}


def finding(rule_id: str, severity: Severity, message: str, location: Location | None = None,
            *, fix: str | None = None, title: str | None = None) -> Finding:
    """A finding of a known rule, with the rule's fix and documentation link by default."""
    rule = RULES[rule_id]
    return Finding(rule=rule_id, severity=severity, message=message,
                   location=location or Location(), fix=fix or rule.fix,
                   title=title or rule.title, help_uri=rule.help_uri)


def is_inconclusive(item: Finding) -> bool:
    """True for an error finding that means "could not check" rather than "failed"."""
    rule = RULES.get(item.rule)
    return item.severity is Severity.ERROR and rule is not None and rule.inconclusive
