"""Small pieces several renderers must agree on, so the same finding looks the same everywhere.

The fingerprint in particular must be identical in the GitLab Code Quality report and in SARIF:
it is how both systems recognise a finding they have seen before.
"""

from __future__ import annotations

import hashlib
import json

from changegate.result import Finding

# Where a finding with no file is placed in formats that require a file (Code Quality, SARIF):
# the policy file is what decided the finding, and it exists in every repository using us.
DEFAULT_POLICY_PATH = ".changegate.yml"

# Enough hex digits to be unique in any real repository, short enough to read in an annotation.
SHORT_SHA = 12


def short_commit(sha: str) -> str:
    """The abbreviated commit id used in messages (the same length `Location.describe` uses)."""
    return sha[:SHORT_SHA]


def fingerprint(gate: str, finding: Finding) -> str:
    """A stable SHA-256 identity of a finding: same gate, rule, place and message, same hash.

    Severity and fix are left out on purpose: re-grading a rule must not make every existing
    finding look new in a merge request widget or a code scanning alert list.
    """
    loc = finding.location
    key = [gate, finding.rule, loc.file, loc.line, loc.column, loc.commit, finding.message]
    data = json.dumps(key, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()
