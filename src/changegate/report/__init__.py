"""Renderers: every way a `GateResult` is shown to a developer, a CI system or an auditor.

Gates never print; the CLI picks renderers for where it runs. Each module is one output format
and knows nothing of the others except the shared escaping (`escape`), the shared Markdown
summary (`markdown`) and the shared fingerprint (`common`):

- `terminal`: human output on a terminal or CI log.
- `jsonout`: the `--json` document users script against.
- `github`: annotations, the job summary and step outputs on GitHub Actions.
- `gitlab`: Code Quality, JUnit and dotenv report artifacts on GitLab CI.
- `sarif`: SARIF 2.1.0 for code scanning.

Nothing is imported here, so importing one renderer does not load the others.
"""
