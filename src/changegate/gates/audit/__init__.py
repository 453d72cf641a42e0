"""The audit gate: known vulnerabilities (OSV) in the packages a change ships.

The gate (`gate`, `changegate audit`): `config` (policy `gates.audit`, typed), `sources`
(dependencies: the sbom gate's readers, and CycloneDX SBOMs), `services` (the vulnerability
source interface and the offline database), `online` (pip-audit's OSV and PyPI services),
`exceptions` (policy exceptions), `rules` (finding ids), and the reports `vex` (CycloneDX 1.6
VEX), `gitlab_report` (GitLab dependency_scanning, schema v15) and `summary` (the job-summary
table).

The engine: `osv` (record model and parser), `evaluate` (the OSV affected-version algorithm with
PEP 440), `severity` (CVSS and database ratings), `database` (loading a directory or all.zip,
manifest, pin and freshness checks, index cache) and `engine` (`audit_packages`). Submodules are
imported explicitly so the CLI stays fast for the gates that do not need them.
"""
