"""Which Sigstore instance to trust: pinned production/staging roots, or a file the user names.

Verification never fetches trust material: the default production and staging roots are pinned
in this package (data/SOURCE.md), so the same bundle verifies the same way offline and years
later, and the JSON result names the root's sha256. A private instance is trusted through
`--trusted-root` (a trusted_root.json) or `--trust-config` (a ClientTrustConfig, as
`changegate.testing.sigstore` and `sigstore trust-instance` produce).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from changegate.errors import InputError

if TYPE_CHECKING:
    from sigstore.models import ClientTrustConfig, TrustedRoot

TRUSTED_ROOT_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
TRUST_CONFIG_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
PINNED = {"production": "trusted_root.production.json", "staging": "trusted_root.staging.json"}


@dataclass(frozen=True)
class TrustSource:
    """Trust material as read: its name (for reports), bytes and digest."""

    name: str
    data: dict[str, Any]
    sha256: str
    path: str | None = None

    @property
    def kind(self) -> str:
        """`trusted-root` or `trust-config`."""
        return "trust-config" if self.data.get("mediaType") == TRUST_CONFIG_TYPE else \
            "trusted-root"

    def trusted_root_json(self) -> dict[str, Any]:
        if self.kind == "trust-config":
            root = self.data.get("trustedRoot")
            if not isinstance(root, dict):
                raise _invalid(self, "the trust config has no trustedRoot")
            return root
        return self.data

    def describe(self) -> dict[str, Any]:
        return {"source": self.name, "path": self.path, "sha256": self.sha256}


def _invalid(source: TrustSource | str, message: str) -> InputError:
    name = source.name if isinstance(source, TrustSource) else source
    return InputError(f"{name}: {message}", file=name, rule="TRUST_ROOT_INVALID",
                      fix="pass a trusted_root.json (mediaType "
                          f"{TRUSTED_ROOT_TYPE}) or a ClientTrustConfig ({TRUST_CONFIG_TYPE})")


def load_pinned(instance: str) -> TrustSource:
    """The trusted root of the public-good `production` or `staging` instance, as pinned."""
    raw = resources.files("changegate.gates.sigstore").joinpath("data").joinpath(PINNED[instance])
    data = raw.read_bytes()
    return TrustSource(name=f"pinned {instance} trusted root", data=json.loads(data),
                       sha256=hashlib.sha256(data).hexdigest())


def load_file(path: Path, label: str | None = None) -> TrustSource:
    """A trusted root or a ClientTrustConfig from a file (media type decides which)."""
    name = label or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror or exc}", file=name,
                         rule="TRUST_ROOT_INVALID") from exc
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise _invalid(name, f"not JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("mediaType") not in (TRUSTED_ROOT_TYPE,
                                                                    TRUST_CONFIG_TYPE):
        media = data.get("mediaType") if isinstance(data, dict) else None
        raise _invalid(name, f"unexpected mediaType {media!r}")
    return TrustSource(name=name, data=data, sha256=hashlib.sha256(raw).hexdigest(),
                       path=str(path))


def trusted_root(source: TrustSource) -> TrustedRoot:
    """The sigstore-python TrustedRoot (loads sigstore: call only when verifying)."""
    from sigstore.errors import Error
    from sigstore.models import TrustedRoot
    from sigstore_models.trustroot import v1 as trustroot_v1

    try:
        inner = trustroot_v1.TrustedRoot.from_json(json.dumps(source.trusted_root_json()))
        return TrustedRoot(inner)
    except (ValueError, Error) as exc:
        raise _invalid(source, f"not a usable trusted root: {exc}") from exc


def client_trust_config(source: TrustSource) -> ClientTrustConfig:
    """A ClientTrustConfig for signing (a trusted root alone cannot say where to sign)."""
    from sigstore.errors import Error
    from sigstore.models import ClientTrustConfig

    if source.kind != "trust-config":
        raise _invalid(source, "signing needs a ClientTrustConfig (trusted root plus signing "
                               "config with the Fulcio and Rekor URLs), not a bare trusted root")
    try:
        config = ClientTrustConfig.from_json(json.dumps(source.data))
        config.signing_config  # noqa: B018 - parse now, so errors name the file
        return config
    except (ValueError, Error) as exc:
        raise _invalid(source, f"not a usable trust config: {exc}") from exc
