"""The sbom gate's rule ids: stable, documented in docs/sbom.md, each with its standard fix.

Users script against these ids and read their docs through `help_uri`; renaming one is a
breaking change.
"""

from __future__ import annotations

from dataclasses import dataclass

from changegate.result import Finding, Location, Severity

HELP_BASE = "https://changegate.dev/docs/sbom#"


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    fix: str


RULES: dict[str, Rule] = {rule.id: rule for rule in (
    Rule("SBOM_MISSING_PURL", "component without a package URL",
         "install or lock the package from an index (a local path or an unnamed URL has no "
         "public identity), or set gates.sbom.require_purl_and_version: false"),
    Rule("SBOM_MISSING_VERSION", "component without a version",
         "pin the dependency to one version (name==1.2.3) in the lock/requirements file"),
    Rule("SBOM_HASH_COVERAGE", "too few components carry hashes",
         "regenerate the lock with hashes (pip-compile/uv pip compile --generate-hashes, "
         "uv lock, poetry lock), or lower gates.sbom.min_hash_coverage"),
    Rule("SBOM_HASH_MISSING", "component without a hash",
         "lock this dependency with its artifact hashes"),
    Rule("SBOM_LICENSE_DENIED", "license denied by the policy",
         "replace the dependency, or have the policy owner add an approved exception"),
    Rule("SBOM_LICENSE_NOT_ALLOWED", "license not on the policy's allow list",
         "replace the dependency, or have the policy owner review and allow the license"),
    Rule("SBOM_LICENSE_UNKNOWN", "no license could be determined",
         "generate the SBOM from the installed environment (--python), where license "
         "metadata is available, or ask upstream to declare License-Expression (PEP 639)"),
    Rule("SBOM_UNREACHABLE", "component not reachable from the project",
         "declare it as a dependency (or dependency group) of the project, remove it from the "
         "environment/lock, or set gates.sbom.allow_unreachable: true"),
    Rule("SBOM_INVALID", "the SBOM does not validate against the CycloneDX schema",
         "this is a bug in changegate or in the input's metadata; rerun with "
         "CHANGEGATE_DEBUG=1 and report it"),
    Rule("SBOM_WRITE_FAILED", "the SBOM could not be written",
         "choose a writable --output path"),
    Rule("SBOM_INPUT_INVALID", "the input could not be read",
         "fix the file at the reported line (or regenerate it with its tool)"),
    Rule("SBOM_DEPENDENCY_MISSING", "a declared dependency is not present",
         "install or lock the dependency (pip check lists broken requirements)"),
    Rule("SBOM_DUPLICATE_PACKAGE", "a package is installed more than once",
         "remove the stale .dist-info directory"),
    Rule("SBOM_METADATA_UNREADABLE", "package metadata could not be fully read",
         "reinstall the package"),
    Rule("SBOM_HASH_UNSUPPORTED", "a digest in an algorithm CycloneDX cannot carry",
         "lock with sha256 hashes"),
)}


def finding(rule: str, severity: Severity, message: str, file: str | None = None,
            line: int | None = None, *, fix: str | None = None) -> Finding:
    """A finding for one of our rules, with its title, standard fix and documentation link."""
    known = RULES[rule]
    return Finding(rule=rule, severity=severity, message=message,
                   location=Location(file=file, line=line), fix=fix or known.fix,
                   title=known.title, help_uri=HELP_BASE + rule.lower())
