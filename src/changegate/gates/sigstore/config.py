"""Policy settings of the sign and verify gates (`gates.sign`, `gates.verify`), typed and checked.

The policy loader validates against the JSON Schema, but we check again here: a typo such as
`identiy:` or `github: {repo: ...}` must stop the gate with the key named, never silently
verify against a weaker policy. Command-line options override these settings one by one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from changegate.errors import InputError

RULE = "POLICY_INVALID"
_SIGN_KEYS = {"artifacts", "identity", "issuer", "staging", "trust_config", "signature",
              "attest", "output_dir", "overwrite", "verify_after", "allow_public_log"}
_VERIFY_KEYS = {"artifacts", "identity", "issuer", "github", "gitlab", "key", "trusted_root",
                "trust_config", "staging", "predicate_type"}
_GITHUB_KEYS = {"repository", "workflow", "ref", "server"}
_GITLAB_KEYS = {"project", "config_path", "ref", "server"}
_ATTEST_KEYS = {"type", "predicate"}


def _error(key: str, message: str) -> InputError:
    return InputError(f"{key}: {message}", rule=RULE,
                      fix="fix the policy file (see docs/sign-and-verify.md, Policy)")


def _mapping(value: Any, key: str, known: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _error(key, f"must be a mapping, not {type(value).__name__}")
    unknown = sorted(set(value) - known)
    if unknown:
        raise _error(f"{key}.{unknown[0]}", f"is not a setting here (known: "
                                            f"{', '.join(sorted(known))})")
    return value


def _string(value: Any, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _error(key, f"must be a non-empty string, not {value!r}")
    return value


def _bool(value: Any, key: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _error(key, f"must be true or false, not {value!r}")
    return value


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _error(key, f"must be a list of paths or globs, not {value!r}")
    return tuple(value)


@dataclass(frozen=True)
class GitHubSettings:
    repository: str
    workflow: str | None = None
    ref: str | None = None
    server: str | None = None


@dataclass(frozen=True)
class GitLabSettings:
    project: str
    config_path: str | None = None
    ref: str | None = None
    server: str | None = None


@dataclass(frozen=True)
class VerifySettings:
    """`gates.verify`; paths (key, trusted_root, trust_config) are read from the base revision."""

    artifacts: tuple[str, ...] = ()
    identity: str | None = None
    issuer: str | None = None
    github: GitHubSettings | None = None
    gitlab: GitLabSettings | None = None
    key: str | None = None
    trusted_root: str | None = None
    trust_config: str | None = None
    staging: bool = False
    predicate_type: str | None = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> VerifySettings:
        prefix = "gates.verify"
        data = _mapping(settings, prefix, _VERIFY_KEYS)
        github = gitlab = None
        if data.get("github") is not None:
            raw = _mapping(data["github"], f"{prefix}.github", _GITHUB_KEYS)
            repository = _string(raw.get("repository"), f"{prefix}.github.repository")
            if repository is None or repository.count("/") != 1:
                raise _error(f"{prefix}.github.repository", "must be OWNER/REPO")
            github = GitHubSettings(repository,
                                    _string(raw.get("workflow"), f"{prefix}.github.workflow"),
                                    _string(raw.get("ref"), f"{prefix}.github.ref"),
                                    _string(raw.get("server"), f"{prefix}.github.server"))
        if data.get("gitlab") is not None:
            raw = _mapping(data["gitlab"], f"{prefix}.gitlab", _GITLAB_KEYS)
            project = _string(raw.get("project"), f"{prefix}.gitlab.project")
            if project is None or "/" not in project:
                raise _error(f"{prefix}.gitlab.project", "must be GROUP/PROJECT")
            gitlab = GitLabSettings(project,
                                    _string(raw.get("config_path"),
                                            f"{prefix}.gitlab.config_path"),
                                    _string(raw.get("ref"), f"{prefix}.gitlab.ref"),
                                    _string(raw.get("server"), f"{prefix}.gitlab.server"))
        chosen = [k for k in ("identity", "github", "gitlab", "key") if data.get(k) is not None]
        if len(chosen) > 1:
            raise _error(prefix, f"set only one of identity, github, gitlab and key (found "
                                 f"{', '.join(chosen)})")
        if data.get("trusted_root") is not None and data.get("trust_config") is not None:
            raise _error(prefix, "set trusted_root or trust_config, not both")
        return cls(
            artifacts=_strings(data.get("artifacts"), f"{prefix}.artifacts"),
            identity=_string(data.get("identity"), f"{prefix}.identity"),
            issuer=_string(data.get("issuer"), f"{prefix}.issuer"),
            github=github, gitlab=gitlab,
            key=_string(data.get("key"), f"{prefix}.key"),
            trusted_root=_string(data.get("trusted_root"), f"{prefix}.trusted_root"),
            trust_config=_string(data.get("trust_config"), f"{prefix}.trust_config"),
            staging=_bool(data.get("staging"), f"{prefix}.staging", False),
            predicate_type=_string(data.get("predicate_type"), f"{prefix}.predicate_type"),
        )


@dataclass(frozen=True)
class AttestSettings:
    """One attestation per artifact: `type` (sbom, audit, provenance or a URI), `predicate`."""

    type: str
    predicate: str | None = None


@dataclass(frozen=True)
class SignSettings:
    """`gates.sign`. `identity`/`issuer`: the signer must be this (refuse before signing)."""

    artifacts: tuple[str, ...] = ()
    identity: str | None = None
    issuer: str | None = None
    staging: bool = False
    trust_config: str | None = None
    signature: bool = True
    attest: tuple[AttestSettings, ...] = field(default_factory=tuple)
    output_dir: str | None = None
    overwrite: bool = False
    verify_after: bool = True
    allow_public_log: bool = False

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> SignSettings:
        prefix = "gates.sign"
        data = _mapping(settings, prefix, _SIGN_KEYS)
        attest: list[AttestSettings] = []
        raw_attest = data.get("attest") or []
        if not isinstance(raw_attest, list):
            raise _error(f"{prefix}.attest", "must be a list of {type, predicate}")
        for position, item in enumerate(raw_attest):
            where = f"{prefix}.attest[{position}]"
            entry = _mapping(item, where, _ATTEST_KEYS)
            kind = _string(entry.get("type"), f"{where}.type")
            if kind is None:
                raise _error(f"{where}.type", "is required (sbom, audit, provenance or a URI)")
            attest.append(AttestSettings(kind, _string(entry.get("predicate"),
                                                       f"{where}.predicate")))
        return cls(
            artifacts=_strings(data.get("artifacts"), f"{prefix}.artifacts"),
            identity=_string(data.get("identity"), f"{prefix}.identity"),
            issuer=_string(data.get("issuer"), f"{prefix}.issuer"),
            staging=_bool(data.get("staging"), f"{prefix}.staging", False),
            trust_config=_string(data.get("trust_config"), f"{prefix}.trust_config"),
            signature=_bool(data.get("signature"), f"{prefix}.signature", True),
            attest=tuple(attest),
            output_dir=_string(data.get("output_dir"), f"{prefix}.output_dir"),
            overwrite=_bool(data.get("overwrite"), f"{prefix}.overwrite", False),
            verify_after=_bool(data.get("verify_after"), f"{prefix}.verify_after", True),
            allow_public_log=_bool(data.get("allow_public_log"), f"{prefix}.allow_public_log",
                                   False),
        )
