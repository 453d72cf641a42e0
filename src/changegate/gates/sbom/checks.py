"""The sbom gate's policy checks, on the resolved graph (never on the serialized document).

Each check yields findings located at the package's own line of the lock/requirements file, so
a developer sees the annotation where the fix goes. Licenses are judged on SPDX semantics: an
`OR` is a choice (allowed if some alternative is entirely allowed), an `AND` needs every part,
and several declared licenses are read as all applying (the cautious reading).
"""

from __future__ import annotations

from collections.abc import Iterable

from changegate.gates.sbom import licenses
from changegate.gates.sbom.config import LicenseEntry, LicensePolicy, SbomConfig
from changegate.gates.sbom.graph import Resolved
from changegate.gates.sbom.model import DependencyGraph, Licensing, Notice, Package
from changegate.gates.sbom.rules import finding
from changegate.result import Finding, Severity

MAX_LISTED = 10


def check(resolved: Resolved, graph: DependencyGraph, config: SbomConfig) -> list[Finding]:
    findings = [_notice(n) for n in (*graph.notices, *resolved.notices)]
    packages = list(resolved.packages.values())
    if config.require_purl_and_version:
        findings += _purl_and_version(packages)
    findings += _hash_coverage(packages, graph, config.min_hash_coverage)
    if config.licenses.allow or config.licenses.deny:
        for package in packages:
            findings += _license(package, config.licenses)
    if not config.allow_unreachable:
        for package in resolved.unreachable:
            findings.append(finding(
                "SBOM_UNREACHABLE", Severity.ERROR,
                f"{_label(package)} is in {graph.source_file} but no dependency path leads to "
                f"it from {resolved.root.name}", package.source_file, package.source_line))
    return findings


def _notice(notice: Notice) -> Finding:
    return finding(notice.rule, Severity.WARNING, notice.message, notice.file, notice.line,
                   fix=notice.fix)


def _label(package: Package) -> str:
    return f"{package.name} {package.version}" if package.version else package.name


def _purl_and_version(packages: Iterable[Package]) -> list[Finding]:
    out = []
    for package in packages:
        if package.local:
            out.append(finding("SBOM_MISSING_PURL", Severity.ERROR,
                               f"{_label(package)} comes from a local path, so it has no "
                               "package URL (purl) that identifies it outside this machine",
                               package.source_file, package.source_line))
        if package.version is None:
            out.append(finding("SBOM_MISSING_VERSION", Severity.ERROR,
                               f"{package.name} has no pinned version, so the SBOM cannot say "
                               "which release is used", package.source_file,
                               package.source_line))
    return out


def _hash_coverage(packages: list[Package], graph: DependencyGraph,
                   threshold: float) -> list[Finding]:
    if threshold <= 0 or not packages:
        return []
    if not graph.carries_hashes:
        return [finding("SBOM_HASH_COVERAGE", Severity.NOTE,
                        f"hash coverage is not checked for an installed environment "
                        f"({graph.source_file}): installed packages keep no artifact hashes; "
                        "check the lock file instead", graph.source_file)]
    missing = [p for p in packages if not p.hashes]
    coverage = 1 - len(missing) / len(packages)
    if coverage >= threshold:
        return []
    listed = ", ".join(_label(p) for p in missing[:MAX_LISTED])
    more = f" and {len(missing) - MAX_LISTED} more" if len(missing) > MAX_LISTED else ""
    out = [finding("SBOM_HASH_COVERAGE", Severity.ERROR,
                   f"{coverage:.1%} of {len(packages)} components have hashes, below the "
                   f"required {threshold:.1%}; without hashes: {listed}{more}",
                   graph.source_file)]
    out += [finding("SBOM_HASH_MISSING", Severity.WARNING,
                    f"{_label(p)} is locked without a hash", p.source_file, p.source_line)
            for p in missing]
    return out


def _license(package: Package, policy: LicensePolicy) -> list[Finding]:
    where = (package.source_file, package.source_line)
    info = package.licenses
    if info.empty:
        if policy.allow:
            return [finding("SBOM_LICENSE_UNKNOWN", Severity.ERROR,
                            f"{_label(package)} declares no license, so the allow list cannot "
                            "be checked", *where)]
        return [finding("SBOM_LICENSE_UNKNOWN", Severity.WARNING,
                        f"{_label(package)} declares no license, so the deny list cannot be "
                        "checked", *where)]
    try:
        choices = _alternatives(info)
    except licenses.ExpressionError as exc:
        return [finding("SBOM_LICENSE_UNKNOWN", Severity.ERROR,
                        f"{_label(package)}: cannot evaluate its license ({exc})", *where)]
    declared = describe(info)

    def whole_matches(entries: tuple[LicenseEntry, ...]) -> bool:
        whole = (info.expression or "").lower()
        return any(e.compound and (e.expression or "").lower() == whole for e in entries)

    def denied(choice: frozenset[Term]) -> bool:
        return any(_matches(e, term) for e in policy.deny for term in choice)

    if policy.deny and (whole_matches(policy.deny) or all(denied(c) for c in choices)):
        return [finding("SBOM_LICENSE_DENIED", Severity.ERROR,
                        f"{_label(package)} is licensed {declared}, which the policy denies",
                        *where)]
    if not policy.allow or whole_matches(policy.allow):
        return []
    for choice in choices:
        if not denied(choice) and all(any(_matches(e, term) for e in policy.allow)
                                      for term in choice):
            return []
    return [finding("SBOM_LICENSE_NOT_ALLOWED", Severity.ERROR,
                    f"{_label(package)} is licensed {declared}, which is not on the policy's "
                    "allow list", *where)]


def describe(info: Licensing) -> str:
    if info.expression:
        return info.expression
    return " AND ".join((*info.ids, *(f"'{n}'" for n in info.names)))


Term = licenses.Leaf | str  # an SPDX leaf, or a license name


def _alternatives(info: Licensing) -> list[frozenset[Term]]:
    if info.expression:
        return [frozenset(choice) for choice in
                licenses.alternatives(licenses.parse_expression(info.expression))]
    terms: set[Term] = {licenses.Leaf(i) for i in info.ids}
    terms.update(info.names)
    return [frozenset(terms)]


def _matches(entry: LicenseEntry, term: Term) -> bool:
    """Whether a policy entry covers one license of a component.

    An SPDX id entry covers that license with or without a `WITH` exception (exceptions only
    add permissions); a name entry covers a name equal to it or a classifier ending in it.
    """
    if isinstance(term, str):
        name = term.strip().lower()
        return entry.expression is None and (name == entry.name_key
                                             or name.endswith(":: " + entry.name_key))
    if entry.expression is None or entry.compound:
        return False
    parsed = licenses.parse_expression(entry.expression)
    if not isinstance(parsed, licenses.Leaf):
        return False
    if parsed.license.lower() != term.license.lower():
        return False
    return parsed.exception is None or (parsed.exception.lower()
                                        == (term.exception or "").lower())
