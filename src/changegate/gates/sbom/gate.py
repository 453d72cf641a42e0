"""The sbom gate: read a source, build the SBOM, validate it, write it, check the policy.

The order matters for the guarantees: the document is validated as the exact text that will be
written, and only a valid document is ever written (atomically, so a crash leaves no half file);
an invalid one makes the result `error` (exit 2) and nothing is written. Policy findings are
judged on the model, so they are reported even when the document could not be written.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from changegate.errors import ChangegateError, InputError
from changegate.gates.sbom import checks, gitlab
from changegate.gates.sbom.config import SbomConfig
from changegate.gates.sbom.graph import Resolved, adopt_installed_root, resolve
from changegate.gates.sbom.model import DependencyGraph, Package, RootProject
from changegate.gates.sbom.readers import find_default_source, read_dependencies
from changegate.gates.sbom.readers.environment import read_environment
from changegate.gates.sbom.readers.pyproject import read_pyproject
from changegate.gates.sbom.rules import finding
from changegate.result import Finding, GateResult, Severity, Status

GATE = "sbom"


@dataclass(frozen=True)
class SbomRequest:
    """What the command line asked for; anything left None comes from the policy or defaults."""

    workdir: Path
    environ: Mapping[str, str]
    python: str | None = None
    requirements: str | None = None
    lock: str | None = None
    pyproject: str | None = None
    output: str | None = None
    format: str | None = None
    spec_version: str | None = None


@dataclass(frozen=True)
class Source:
    kind: str  # "python", "requirements" or "lock"
    path: Path
    label: str


SourceDate = Callable[[Mapping[str, str], Path], "datetime | None"]


def run(request: SbomRequest, settings: Mapping[str, Any],
        source_date: SourceDate | None = None) -> GateResult:
    """Generate, validate and write the SBOM, then judge it against `settings` (gates.sbom)."""
    config = SbomConfig.from_settings(settings)
    spec_version = request.spec_version or config.spec_version
    output = _output_path(request, config)
    fmt = request.format or config.format or ("xml" if output.suffix == ".xml" else "json")
    source = _source(request, config)
    graph, root = _read(source, request)
    resolved = resolve(graph, root)
    findings = checks.check(resolved, graph, config)
    timestamp = (source_date or source_date_from)(request.environ, request.workdir)
    properties = gitlab.metadata_properties(graph, request.workdir, root.source_file)

    from changegate.gates.sbom.build import build_document
    from changegate.gates.sbom.validate import validate

    text = build_document(resolved, spec_version=spec_version, fmt=fmt, timestamp=timestamp,
                          properties=properties)
    problems = validate(text, spec_version, fmt)
    output_label = gitlab.relative_to(str(output), request.workdir) or str(output)
    details = {"path": None, "sha256": None, "components": len(resolved.packages),
               "spec_version": spec_version, "format": fmt, "source": source.label,
               **inventory_facts(list(resolved.packages.values()), graph.carries_hashes)}
    if problems:
        invalid = [finding("SBOM_INVALID", Severity.ERROR,
                           f"the generated CycloneDX {spec_version} document is invalid at "
                           f"{problem}; it was not written", output_label, problem.line)
                   for problem in problems]
        return GateResult(gate=GATE, status=Status.ERROR,
                          summary=f"the SBOM failed CycloneDX {spec_version} schema validation "
                                  f"({len(problems)} problem(s)); nothing was written",
                          findings=invalid + findings, details={"sbom": details})
    data = text.encode("utf-8")
    write_atomic(output, data)
    details.update(path=output_label, sha256=hashlib.sha256(data).hexdigest())
    failed = any(f.severity is Severity.ERROR for f in findings)
    return GateResult(gate=GATE, status=Status.FAIL if failed else Status.PASS,
                      summary=_summary(resolved, details, findings),
                      findings=findings, details={"sbom": details})


def inventory_facts(packages: Sequence[Package], carries_hashes: bool) -> dict[str, Any]:
    """What a summary shows about the inventory: hash coverage and the license landscape.

    `hash_coverage` is None for an installed environment, which keeps no artifact hashes.
    """
    hashed = sum(1 for p in packages if p.hashes)
    named = Counter(checks.describe(p.licenses) for p in packages if not p.licenses.empty)
    return {
        "hashed": hashed,
        "hash_coverage": (hashed / len(packages) if packages else 1.0) if carries_hashes else None,
        "licenses": dict(sorted(named.items())),
        "unlicensed": sum(1 for p in packages if p.licenses.empty),
    }


def _summary(resolved: Resolved, details: dict[str, Any], findings: list[Finding]) -> str:
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    text = (f"CycloneDX {details['spec_version']} SBOM of {details['components']} components "
            f"from {details['source']} written to {details['path']} "
            f"(sha256 {str(details['sha256'])[:12]})")
    if errors:
        text += f"; {errors} policy violation(s)"
    return text


def _output_path(request: SbomRequest, config: SbomConfig) -> Path:
    value = request.output or config.output
    if value is None:
        fmt = request.format or config.format or "json"
        value = f"sbom.cdx.{fmt}"
    path = Path(value)
    return path if path.is_absolute() else request.workdir / path


def _label(path: Path, workdir: Path) -> str:
    return gitlab.relative_to(str(path), workdir) or str(path)


def _source(request: SbomRequest, config: SbomConfig) -> Source:
    """The command line's source, else the policy's `source`, else a lock file found here."""
    workdir = request.workdir
    for kind, value in (("python", request.python), ("requirements", request.requirements),
                        ("lock", request.lock)):
        if value:
            path = Path(value) if Path(value).is_absolute() else workdir / value
            return Source(kind, path, value)
    if config.source:
        kind, sep, value = config.source.partition(":")
        if not sep or kind not in ("python", "requirements", "lock"):
            kind, value = "", config.source
        path = Path(value) if Path(value).is_absolute() else workdir / value
        if not kind:
            kind = "python" if path.is_dir() or path.name.startswith("python") else "lock"
        return Source(kind, path, value)
    found = find_default_source(workdir)
    if found is None:
        raise InputError(
            f"no dependency source: none of uv.lock, poetry.lock, pylock.toml, Pipfile.lock, "
            f"requirements.txt is in {workdir}", file=str(workdir), rule="SBOM_INPUT_INVALID",
            fix="pass --python PATH, --lock FILE or --requirements FILE, or set "
                "gates.sbom.source in the policy")
    kind = "requirements" if found.name.endswith(".txt") else "lock"
    return Source(kind, found, _label(found, workdir))


def _read(source: Source, request: SbomRequest) -> tuple[DependencyGraph, RootProject]:
    workdir = request.workdir
    if source.kind == "python":
        project_dir = workdir
        graph = read_environment(source.path, request.environ, source.label, cwd=workdir)
    else:
        project_dir = source.path.parent
        fmt = "requirements" if source.kind == "requirements" else None
        graph = read_dependencies(source.path, source.label, project_dir=project_dir, fmt=fmt)
    root = _root(graph, request, project_dir)
    if source.kind == "python":
        # Findings about installed packages point at their METADATA: repository-relative
        # when the environment lives in the checkout (.venv), so annotations can land.
        for package in graph.packages:
            package.source_file = _label(Path(package.source_file), workdir) \
                if package.source_file else None
        if not root.synthetic:
            adopt_installed_root(graph, root)
    return graph, root


def _root(graph: DependencyGraph, request: SbomRequest, project_dir: Path) -> RootProject:
    """The project from pyproject.toml (--pyproject, beside the source, or here), else a
    stand-in named as the source names the project, else after the directory."""
    workdir = request.workdir
    if request.pyproject:
        candidates = [Path(request.pyproject) if Path(request.pyproject).is_absolute()
                      else workdir / request.pyproject]
        if not candidates[0].is_file():
            raise InputError(f"{request.pyproject} does not exist", file=request.pyproject,
                             rule="SBOM_INPUT_INVALID")
    else:
        candidates = [project_dir / "pyproject.toml", workdir / "pyproject.toml"]
    for candidate in candidates:
        if candidate.is_file():
            project = read_pyproject(candidate, _label(candidate, workdir))
            if project is not None:
                if project.version is None and graph.root_name is not None \
                        and project.key == RootProject(graph.root_name).key:
                    project.version = graph.root_version
                return project
    name = graph.root_name or (project_dir.resolve().name or "project")
    return RootProject(name=name, version=graph.root_version, synthetic=graph.root_name is None)


def source_date_from(environ: Mapping[str, str], workdir: Path) -> datetime | None:
    """SOURCE_DATE_EPOCH, else the head commit's committer time, else no timestamp at all.

    Never the wall clock: the same input must give the same bytes.
    """
    value = environ.get("SOURCE_DATE_EPOCH", "").strip()
    if value:
        try:
            return datetime.fromtimestamp(int(value), tz=timezone.utc)
        except (ValueError, OverflowError, OSError):
            raise InputError(f"SOURCE_DATE_EPOCH must be a Unix timestamp, not {value!r}",
                             rule="SBOM_INPUT_INVALID",
                             fix="set SOURCE_DATE_EPOCH to an integer number of seconds, e.g. "
                                 "$(git log -1 --format=%ct)") from None
    try:
        completed = subprocess.run(
            ["git", "-C", str(workdir), "log", "-1", "--format=%ct"], capture_output=True,
            text=True, env=dict(environ), timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if completed.returncode != 0 or not completed.stdout.strip().isdigit():
        return None
    return datetime.fromtimestamp(int(completed.stdout.strip()), tz=timezone.utc)


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same directory and rename: never a partial SBOM."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            # mkstemp creates 0600; an SBOM is for sharing, so honour the umask like open().
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ChangegateError("SBOM_WRITE_FAILED", f"cannot write {path}: {exc.strerror}",
                              fix="choose a writable --output path") from None
