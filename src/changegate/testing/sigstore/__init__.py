"""A local Sigstore instance for offline tests and demos: `LocalSigstore`.

One in-process HTTP server on 127.0.0.1 plays Fulcio (certificates with the OIDC extensions and
an embedded SCT from its own CT log), Rekor v1 (hashedrekord, dsse and intoto entries with
inclusion proofs, signed checkpoints and signed entry timestamps) and an OIDC issuer minting
GitHub- and GitLab-shaped tokens; `trust_config()` is the ClientTrustConfig that points at it.
The real sigstore-python Signer and Verifier run against it unchanged. `Faults` make one
component misbehave at a time, for negative tests. Needs the `sign` extra (sigstore).

See docs/testing-sigstore.md.
"""

from changegate.testing.sigstore.faults import Faults
from changegate.testing.sigstore.identities import GITHUB_ISSUER, GITLAB_ISSUER
from changegate.testing.sigstore.instance import LocalSigstore
from changegate.testing.sigstore.oidc import github_claims, gitlab_claims

__all__ = ["GITHUB_ISSUER", "GITLAB_ISSUER", "Faults", "LocalSigstore", "github_claims",
           "gitlab_claims"]
