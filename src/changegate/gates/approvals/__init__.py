"""The approvals gate: reviewer and compliance sign-off rules, the same on GitHub and GitLab.

`config` parses the policy, `evaluate` decides from forge-neutral facts (`changegate.forges`),
`gate` explains the decision as a `GateResult`. Nothing here talks to a forge, so a decision
can be replayed offline from the facts recorded in its JSON result.
"""
