"""The Sigstore signer for a `check` run's evidence, when the run has an identity.

Records are signed with the same machinery and the same trust choices as the sign gate
(`gates.sign`: production by default, `staging`, or a `trust_config` for a private instance), with
the identity the CI gives the job (GitHub `id-token: write`, GitLab `id_tokens`). A run without an
identity still records everything, unsigned and marked so; so does a private repository whose
records would otherwise land in the public transparency log, unless the policy allows it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from changegate.errors import ChangegateError, InputError

if TYPE_CHECKING:
    from changegate.evidence.signing import Signer

PUBLIC_INSTANCES = ("production", "staging")


@contextmanager
def run_signer(environ: Mapping[str, str], sign_settings: Mapping[str, Any],
               workdir: Path) -> Iterator[Signer | None]:
    """Yield a signer for the run's evidence, or None when the run has no usable identity."""
    from changegate.gates.sigstore.tokens import acquire

    try:
        token = acquire(None, environ)
    except ChangegateError:
        yield None
        return
    instance, config = _trust(sign_settings, workdir)
    visibility = (token.claims.get("repository_visibility")
                  or token.claims.get("project_visibility"))
    if (instance in PUBLIC_INSTANCES and visibility in ("private", "internal")
            and not sign_settings.get("allow_public_log", False)):
        yield None
        return
    from sigstore.oidc import IdentityToken
    from sigstore.sign import SigningContext

    from changegate.evidence.signing import SigstoreSigner

    try:
        context = SigningContext.from_trust_config(config)
        session = context.signer(IdentityToken(token.raw), cache=True)
    except Exception as exc:  # sigstore raises many types; the run must say why, not crash
        raise ChangegateError("EVIDENCE_SIGNING_FAILED",
                              f"cannot sign the evidence with {token.source}: {exc}") from exc
    with session as api_signer:
        yield SigstoreSigner(api_signer)


def _trust(settings: Mapping[str, Any], workdir: Path) -> tuple[str, Any]:
    from sigstore.models import ClientTrustConfig

    from changegate.gates.sigstore.trust import client_trust_config, load_file

    path = settings.get("trust_config")
    if path:
        full = Path(path) if Path(path).is_absolute() else workdir / path
        if not full.is_file():
            raise InputError(f"trust config {path} does not exist", file=str(path),
                             rule="TRUST_ROOT_INVALID")
        return "custom", client_trust_config(load_file(full, str(path)))
    if settings.get("staging"):
        return "staging", ClientTrustConfig.staging()
    return "production", ClientTrustConfig.production()
