"""Ways the local instance can misbehave, one precise defect each, for negative tests.

A verifier that accepts a bundle from a misbehaving Fulcio or Rekor is broken; each fault here
produces a bundle that is otherwise perfect, so a test that expects rejection proves the check
for that one defect is really made (and the signer's own checks, where it has any, too).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import timedelta


@dataclass
class Faults:
    """Fault switches; all off by default. Use `LocalSigstore.faults(...)` to set them briefly."""

    # Fulcio
    rogue_ca: bool = False  # certificates issued by a CA that is not in the trusted root
    rogue_ct_log: bool = False  # SCTs signed by a CT log that is not in the trusted root
    cert_lifetime: timedelta | None = None  # another validity than the instance's default
    # Rekor
    clock_skew: timedelta = timedelta(0)  # integrated time off by this much (validly signed)
    rogue_checkpoint_key: bool = False  # the checkpoint is signed by a key nobody trusts
    wrong_root_hash: bool = False  # proof and checkpoint name a root the leaf is not under
    rogue_set_key: bool = False  # the signed entry timestamp is signed by a key nobody trusts
    substitute_body: bool = False  # the log records another body than the one submitted

    def names(self) -> list[str]:
        return [f.name for f in fields(self)]
