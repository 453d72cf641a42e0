"""Evidence: signed, hash-chained records of every gate decision, kept for years.

`recorder.record_check` is the entry point `changegate check` calls. Modules: `statements`,
`predicates` and `vsa` (in-toto statements, one per gate, and the change record),
`signing` (the `Signer` interface), `ledger` and `merkle` (the chain and its checkpoints),
`stores` (directory, S3 with Object Lock), `verify`, `report`/`render` (auditor pages),
`population` (exports to sample from), `controls` (the shipped control mapping). Heavy
libraries (rfc8785, boto3, sigstore) are imported only where used. See docs/evidence.md.
"""
