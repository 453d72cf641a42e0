"""Dependency sources: the sbom gate's readers for locks, requirements and environments; SBOMs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from gate_support import DEMO_DB, LINES, REQUIREMENTS, cli, project

from changegate.errors import InputError
from changegate.gates.audit.sources import (
    EnvironmentSource,
    LockFileSource,
    RequirementsSource,
    SbomSource,
    read_cyclonedx_json,
    select_source,
)

SBOM_DATA = Path(__file__).resolve().parents[1] / "sbom" / "data"


def _sbom(root: Path, fmt: str) -> Path:
    """An SBOM of the requirements file, written by the sbom gate itself."""
    out = root / f"sbom.cdx.{fmt}"
    proc = subprocess.run([sys.executable, "-m", "changegate", "sbom", "--requirements",
                           "requirements.txt", "--output", out.name, "--format", fmt,
                           "-C", str(root)], capture_output=True, text=True, check=False,
                          env={"PATH": "/usr/bin:/bin", "SOURCE_DATE_EPOCH": "1700000000"})
    assert out.exists(), proc.stderr
    return out


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_sbom_gates_output_is_audited_at_the_component_lines(tmp_path: Path,
                                                                fmt: str) -> None:
    root = project(tmp_path)
    sbom = _sbom(root, fmt)
    run_ = cli(["--sbom", sbom.name, "--db", str(DEMO_DB), "--json"], root)
    assert run_.code == 1, run_.out
    document = run_.json
    assert document["source"]["kind"] == "sbom" and document["source"]["audited"] == 5
    lines = sbom.read_text().splitlines()
    for finding in document["findings"]:
        assert finding["location"]["file"] == sbom.name
        package = finding["message"].split()[0]
        assert f"pkg:pypi/{package}@" in lines[finding["location"]["line"] - 1]


def test_cyclonedx_json_nested_local_and_unnamed_components() -> None:
    document = {
        "bomFormat": "CycloneDX", "specVersion": "1.6",
        "metadata": {"component": {"type": "application", "name": "payments",
                                   "version": "3.1"}},
        "components": [
            {"type": "library", "name": "urllib3", "version": "1.24.1",
             "purl": "pkg:pypi/urllib3@1.24.1",
             "components": [{"type": "library", "name": "Jinja2", "version": "2.10",
                             "purl": "pkg:pypi/jinja2@2.10"}]},
            {"type": "library", "name": "internal", "version": "1.0",
             "bom-ref": "pkg:pypi/internal@1.0?changegate_local=true"},
            {"type": "library", "name": "left-pad", "version": "1.3.0",
             "purl": "pkg:npm/left-pad@1.3.0"},
            {"type": "library", "name": "mystery"},
        ],
    }
    text = json.dumps(document, indent=2).encode()
    inventory = read_cyclonedx_json(text, "bom.json")
    assert [(p.name, p.version, p.local) for p in inventory.packages] == [
        ("urllib3", "1.24.1", False), ("jinja2", "2.10", False), ("internal", "1.0", True)]
    assert inventory.packages[1].line == text.decode().splitlines().index(
        '          "purl": "pkg:pypi/jinja2@2.10"') + 1
    assert inventory.project == "payments" and inventory.project_version == "3.1"
    assert [n.rule for n in inventory.notices] == ["NOT_AUDITED"]  # the unnamed component


@pytest.mark.parametrize(("data", "message"), [
    (b'{"bomFormat": "SPDX"}', "not a CycloneDX SBOM"),
    (b'{"bomFormat": "CycloneDX", "components": {}}', "components must be a list"),
    (b'{"bomFormat": "CycloneDX",\n "components": [', "not valid JSON"),
    (b"<bom xmlns='http://example.com'/>", "not a CycloneDX SBOM"),
    (b"<bom", "not well-formed XML"),
])
def test_bad_sboms_are_located_input_errors(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(data)
    with pytest.raises(InputError) as raised:
        SbomSource(path, "bom.json", tmp_path).read()
    assert message in raised.value.message
    assert raised.value.location.file == "bom.json"


def test_xml_entities_are_not_expanded(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("urllib3")
    path = tmp_path / "bom.xml"
    path.write_text(f"""<?xml version="1.0"?>
<!DOCTYPE bom [<!ENTITY leak SYSTEM "file://{secret}">]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.6" version="1">
  <components><component type="library"><name>&leak;</name><version>1</version>
    <purl>pkg:pypi/leak@1</purl></component></components>
</bom>
""")
    inventory = SbomSource(path, "bom.xml", tmp_path).read()
    assert [(p.name, p.version) for p in inventory.packages] == [("leak", "1")]


@pytest.mark.parametrize(("lock", "count"), [
    ("uvproject/uv.lock", 13), ("uvproject/pylock.toml", 13), ("poetry2/poetry.lock", 12),
    ("pipenv/Pipfile.lock", 8),
])
def test_lock_files_use_the_sbom_readers(tmp_path: Path, lock: str, count: int) -> None:
    path = SBOM_DATA / lock
    inventory = LockFileSource(path, lock, SBOM_DATA).read()
    assert len(inventory.packages) == count
    assert all(p.file == lock and p.line for p in inventory.packages)


def test_requirements_exclude_the_project_itself() -> None:
    path = SBOM_DATA / "uvproject" / "requirements.txt"
    inventory = RequirementsSource(path, "requirements.txt", path.parent).read()
    names = [p.name for p in inventory.packages]
    assert "demo-app" not in names and "certifi" in names
    assert inventory.packages[names.index("certifi")].line == 4


def test_installed_environment(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = venv.glob("lib/python*/site-packages")
    for name, version in (("urllib3", "1.24.1"), ("certifi", "2024.2.2")):
        info = site / f"{name}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\n"
                                       f"Version: {version}\n\n")
    inventory = EnvironmentSource(venv, "venv", tmp_path, {"PATH": "/usr/bin:/bin"}).read()
    assert sorted((p.name, p.version) for p in inventory.packages) == [
        ("certifi", "2024.2.2"), ("urllib3", "1.24.1")]
    urllib3 = next(p for p in inventory.packages if p.name == "urllib3")
    assert urllib3.file and urllib3.file.startswith("venv/lib/") and \
        urllib3.file.endswith("urllib3-1.24.1.dist-info/METADATA")
    run_ = cli(["--python", "venv", "--db", str(DEMO_DB), "--json"], tmp_path)
    assert run_.code == 1
    assert {f["location"]["file"] for f in run_.json["findings"]} == {urllib3.file}


def test_source_selection(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "uv.lock").write_text("version = 1\n")
    found = select_source(workdir=root, environ={})
    assert (found.kind, found.label) == ("lock", "uv.lock")
    assert select_source(workdir=root, environ={}, requirements="requirements.txt").kind == \
        "requirements"
    for policy, kind in (("requirements.txt", "requirements"), ("bom.cdx.json", "sbom"),
                         (".venv", "python"), ("sbom:out/bom.json", "sbom"),
                         ("lock:deps.lock", "lock"), ("poetry.lock", "lock")):
        assert select_source(workdir=root, environ={}, policy_source=policy).kind == kind
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError) as raised:
        select_source(workdir=empty, environ={})
    assert raised.value.rule == "AUDIT_INPUT_INVALID"
    assert LINES["urllib3"] == REQUIREMENTS.splitlines().index("urllib3==1.24.1") + 1
