"""The sign and verify gates: keyless Sigstore signatures and attestations, verified offline.

Layout: `signing` (the sign gate) and `verify_gate` (the verify gate) decide; `verifying`
verifies bundles with sigstore-python and `extended` what it refuses offline; `identity`,
`statement`, `predicates`, `tokens`, `trust`, `artifacts` and `config` are the pieces both use;
`compat` is every use of sigstore-python's private API. Nothing here imports sigstore at import
time: the commands import these modules only when they run (sigstore takes ~0.6 s to import).
"""
