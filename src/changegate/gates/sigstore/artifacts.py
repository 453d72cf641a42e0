"""Artifacts to sign or verify: files (hashed as a stream, never loaded) or bare digests.

A release tarball can be gigabytes; signing and verifying need only its SHA-256, so files are
read once in 1 MiB blocks. `sha256:HEX` names an artifact that is not at hand (a container
layer, a file on another machine) by its digest alone.
"""

from __future__ import annotations

import glob
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from changegate.errors import ChangegateError, InputError

_DIGEST = re.compile(r"^sha256:([0-9a-fA-F]{64})$")
_BLOCK = 1 << 20
BUNDLE_SUFFIXES = (".sigstore.json", ".sigstore")


@dataclass(frozen=True)
class Artifact:
    """What is signed or verified: `label` as the user named it, `path` unless a digest."""

    label: str
    sha256: str
    path: Path | None = None

    def digests(self, *, sha512: bool = False) -> dict[str, str]:
        """Hex digests by in-toto algorithm name; sha512 only when a statement needs it."""
        out = {"sha256": self.sha256}
        if sha512 and self.path is not None:
            out["sha512"] = hash_file(self.path, "sha512")
        return out


def hash_file(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def is_digest(text: str) -> bool:
    return _DIGEST.match(text) is not None


def from_argument(text: str, base: Path) -> Artifact:
    """`sha256:HEX`, or a file path (relative to `base`)."""
    match = _DIGEST.match(text)
    if match:
        return Artifact(label=f"sha256:{match[1].lower()}", sha256=match[1].lower())
    path = Path(text) if Path(text).is_absolute() else base / text
    if not path.is_file():
        raise InputError(f"artifact {text} does not exist or is not a file", file=text,
                         rule="ARTIFACT_MISSING",
                         fix="build the artifact before this step, or fix the path")
    return Artifact(label=text, sha256=hash_file(path), path=path)


def expand(patterns: Sequence[str], base: Path, *, setting: str) -> list[str]:
    """Globs from the policy (relative to the repository) -> matching files, sorted.

    Bundles are never artifacts themselves. A pattern that matches nothing is an error: a
    policy that names `dist/*.whl` and finds none must not pass by signing nothing.
    """
    out: list[str] = []
    for pattern in patterns:
        if is_digest(pattern):
            out.append(pattern)
            continue
        matches = sorted(m for m in glob.glob(pattern, root_dir=base, recursive=True)
                         if (base / m).is_file() and not m.endswith(BUNDLE_SUFFIXES))
        if not matches:
            raise InputError(f"{setting}: {pattern!r} matches no file under {base}",
                             rule="ARTIFACT_MISSING",
                             fix="build the artifacts before this step, or fix the pattern")
        out.extend(m for m in matches if m not in out)
    return out


def command_line(arguments: Sequence[str], base: Path) -> list[str]:
    """Command-line artifacts: each a file, a `sha256:` digest, or a glob (for the actions and
    templates, whose inputs are lines of paths or patterns)."""
    out: list[str] = []
    for argument in arguments:
        if any(c in argument for c in "*?[") and not (base / argument).exists():
            out.extend(m for m in expand([argument], base, setting="artifact")
                       if m not in out)
        elif argument not in out:
            out.append(argument)
    return out


def bundle_path(artifact: Path, *, suffix: str = ".sigstore.json",
                output_dir: Path | None = None) -> Path:
    """Where a bundle for `artifact` goes: beside it (`<file>.sigstore.json`) or in a dir."""
    directory = output_dir if output_dir is not None else artifact.parent
    return directory / f"{artifact.name}{suffix}"


def find_bundle(artifact: Path, attestation: str | None = None) -> Path | None:
    """The bundle beside an artifact: `<file>.<kind>.sigstore.json` for an attestation kind,
    else `<file>.sigstore.json`, else the legacy `<file>.sigstore`."""
    names = [f"{artifact.name}.{attestation}.sigstore.json"] if attestation else []
    names += [f"{artifact.name}.sigstore.json", f"{artifact.name}.sigstore"]
    for name in names:
        candidate = artifact.parent / name
        if candidate.is_file():
            return candidate
    return None


def requested(arguments: Sequence[str], configured: Sequence[str], workdir: Path, *,
              setting: str, action: str, fix: str) -> tuple[list[str], Path]:
    """The artifacts a sign/verify run is about, and the folder their names are relative to.

    Command-line names win and are relative to the current directory; otherwise the policy's
    globs (`setting`) are expanded in the repository. Nothing at all is an error, never a pass
    over zero artifacts.
    """
    if arguments:
        base = Path.cwd()
        names = command_line(arguments, base)
    else:
        base = workdir
        names = expand(configured, workdir, setting=setting)
    if not names:
        raise ChangegateError("NO_ARTIFACTS", f"nothing to {action}", fix=fix)
    return names, base
