"""The audit gate: known vulnerabilities (OSV) in the packages a change ships.

Modules: `osv` (record model and parser), `evaluate` (the OSV affected-version algorithm with
PEP 440), `severity` (CVSS and database ratings), `database` (loading a directory or all.zip,
manifest, pin and freshness checks, index cache) and `engine` (`audit_packages`). Submodules are
imported explicitly so the CLI stays fast for the gates that do not need them.
"""
