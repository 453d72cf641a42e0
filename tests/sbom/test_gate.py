"""The gate end to end: reproducible output, validation before writing, policy, GitLab, CLI."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sbom_fixtures import DATA, FakeSite, git_repo, marker_environment

from changegate.errors import InputError
from changegate.gates.sbom import build as build_module
from changegate.gates.sbom import gate
from changegate.gates.sbom.gate import SbomRequest, run
from changegate.result import GateResult, Status

EPOCH = {"SOURCE_DATE_EPOCH": "1700000000", "PATH": "/usr/bin:/bin"}


def project(tmp_path: Path, name: str = "uvproject") -> Path:
    target = tmp_path / "repo"
    shutil.copytree(DATA / name, target)
    return target


def generate(workdir: Path, settings: dict[str, Any] | None = None,
             environ: dict[str, str] | None = None, **options: Any) -> GateResult:
    request = SbomRequest(workdir=workdir, environ=environ or EPOCH, **options)
    return run(request, settings or {})


def rules(result: GateResult) -> list[str]:
    return [f.rule for f in result.findings]


def test_two_runs_are_byte_identical_and_serial_is_uuid5_of_content(tmp_path: Path) -> None:
    workdir = project(tmp_path)
    first = generate(workdir, lock="uv.lock", output="a.cdx.json")
    second = generate(workdir, lock="uv.lock", output="b.cdx.json")
    a, b = (workdir / "a.cdx.json").read_bytes(), (workdir / "b.cdx.json").read_bytes()
    assert a == b
    assert first.details["sbom"]["sha256"] == second.details["sbom"]["sha256"]
    document = json.loads(a)
    serial = document["serialNumber"]
    zeroed = a.decode().replace(serial, build_module.PLACEHOLDER_SERIAL.urn)
    expected = uuid.uuid5(build_module.SERIAL_NAMESPACE,
                          hashlib.sha256(zeroed.encode()).hexdigest())
    assert serial == expected.urn
    assert document["metadata"]["timestamp"] == "2023-11-14T22:13:20+00:00"
    assert all(c["bom-ref"] == c["purl"] for c in document["components"])


def test_result_contract_and_document_content(tmp_path: Path) -> None:
    workdir = project(tmp_path)
    result = generate(workdir, lock="uv.lock")
    assert result.status is Status.PASS and result.findings == []
    details = result.details["sbom"]
    assert set(details) >= {"path", "sha256", "components", "spec_version"}
    assert details["path"] == "sbom.cdx.json" and details["components"] == 13
    data = (workdir / "sbom.cdx.json").read_bytes()
    assert details["sha256"] == hashlib.sha256(data).hexdigest()
    assert result.to_json()["sbom"] == details
    document = json.loads(data)
    assert document["specVersion"] == "1.6"
    metadata = document["metadata"]
    assert metadata["component"]["purl"] == "pkg:pypi/demo-app@1.2.0"
    assert metadata["component"]["licenses"] == [
        {"license": {"id": "Apache-2.0", "acknowledgement": "declared"}}]
    assert [t["name"] for t in metadata["tools"]["components"]] == [
        "changegate", "cyclonedx-python-lib"]
    props = {p["name"]: p["value"] for p in metadata["properties"]}
    assert props == {"gitlab:meta:schema_version": "1",
                     "gitlab:dependency_scanning:input_file:path": "uv.lock",
                     "gitlab:dependency_scanning:source_file:path": "pyproject.toml",
                     "gitlab:dependency_scanning:package_manager:name": "uv",
                     "gitlab:dependency_scanning:language:name": "python"}
    by_name = {c["name"]: c for c in document["components"]}
    assert by_name["requests"]["scope"] == "required"
    assert by_name["rich"]["scope"] == "optional"
    assert by_name["iniconfig"]["scope"] == "excluded"
    assert by_name["iniconfig"]["properties"] == [
        {"name": "gitlab:dependency_scanning:category", "value": "development"}]
    assert all(c["hashes"] and c["hashes"][0]["alg"] == "SHA-256" for c in by_name.values())
    deps = {d["ref"]: d.get("dependsOn", []) for d in document["dependencies"]}
    assert "pkg:pypi/pysocks@1.7.1" in deps["pkg:pypi/requests@2.34.2"]
    assert deps["pkg:pypi/demo-app@1.2.0"] == sorted(deps["pkg:pypi/demo-app@1.2.0"])


@pytest.mark.parametrize(("fmt", "spec"), [("json", "1.5"), ("xml", "1.6"), ("xml", "1.5")])
def test_formats_and_spec_versions_validate_with_the_library_too(tmp_path: Path, fmt: str,
                                                                 spec: str) -> None:
    from cyclonedx.schema import OutputFormat, SchemaVersion
    from cyclonedx.validation import make_schemabased_validator

    workdir = project(tmp_path)
    result = generate(workdir, lock="uv.lock", format=fmt, spec_version=spec)
    assert result.status is Status.PASS
    text = (workdir / f"sbom.cdx.{fmt}").read_text()
    validator = make_schemabased_validator(
        OutputFormat.XML if fmt == "xml" else OutputFormat.JSON,
        SchemaVersion.V1_5 if spec == "1.5" else SchemaVersion.V1_6)
    assert validator.validate_str(text) is None
    assert result.details["sbom"]["spec_version"] == spec


def test_invalid_document_is_never_written(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    workdir = project(tmp_path)
    (workdir / "sbom.cdx.json").write_text("previous\n")
    original = build_module.build_document

    def broken(*args: Any, **kwargs: Any) -> str:
        return original(*args, **kwargs).replace('"library"', '"gadget"', 1)

    monkeypatch.setattr(build_module, "build_document", broken)
    result = generate(workdir, lock="uv.lock")
    assert result.status is Status.ERROR
    assert rules(result)[0] == "SBOM_INVALID"
    assert "/components/0/type" in result.findings[0].message
    assert result.details["sbom"]["path"] is None and result.details["sbom"]["sha256"] is None
    assert (workdir / "sbom.cdx.json").read_text() == "previous\n"
    assert not list(workdir.glob(".sbom.cdx.json.*"))


def test_invalid_xml_document_is_never_written(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    workdir = project(tmp_path)
    original = build_module.build_document

    def broken(*args: Any, **kwargs: Any) -> str:
        return original(*args, **kwargs).replace("<name>", "<nom>", 1).replace(
            "</name>", "</nom>", 1)

    monkeypatch.setattr(build_module, "build_document", broken)
    result = generate(workdir, lock="uv.lock", format="xml")
    assert result.status is Status.ERROR and rules(result)[0] == "SBOM_INVALID"
    assert not (workdir / "sbom.cdx.xml").exists()


def test_timestamp_from_head_commit_else_none(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", when=1_600_000_000)
    assert gate.source_date_from({"PATH": "/usr/bin:/bin"}, repo) == datetime(
        2020, 9, 13, 12, 26, 40, tzinfo=timezone.utc)
    bare = tmp_path / "not-a-repo"
    bare.mkdir()
    assert gate.source_date_from({"PATH": "/usr/bin:/bin", "GIT_CEILING_DIRECTORIES":
                                  str(tmp_path)}, bare) is None
    with pytest.raises(InputError, match="SOURCE_DATE_EPOCH"):
        gate.source_date_from({"SOURCE_DATE_EPOCH": "yesterday"}, bare)


def test_no_timestamp_outside_git_keeps_output_reproducible(tmp_path: Path) -> None:
    workdir = project(tmp_path)
    environ = {"PATH": "/usr/bin:/bin", "GIT_CEILING_DIRECTORIES": str(tmp_path)}
    generate(workdir, environ=environ, lock="uv.lock")
    document = json.loads((workdir / "sbom.cdx.json").read_text())
    assert "timestamp" not in document["metadata"]


@pytest.mark.parametrize(("source", "options", "count", "manager"), [
    ("uvproject", {"lock": "pylock.toml"}, 13, "uv"),
    ("uvproject", {"requirements": "requirements.txt"}, 13, "pip"),
    ("poetry2", {"lock": "poetry.lock"}, 12, "poetry"),
    ("poetry1", {"lock": "poetry.lock"}, 12, "poetry"),
    ("pipenv", {"lock": "Pipfile.lock"}, 8, "pipenv"),
])
def test_every_source_format(tmp_path: Path, source: str, options: dict[str, str], count: int,
                             manager: str) -> None:
    workdir = project(tmp_path, source)
    result = generate(workdir, **options)
    assert result.status is Status.PASS, result.findings
    assert result.details["sbom"]["components"] == count
    document = json.loads((workdir / "sbom.cdx.json").read_text())
    props = {p["name"]: p["value"] for p in document["metadata"]["properties"]}
    assert props["gitlab:dependency_scanning:package_manager:name"] == manager
    assert props["gitlab:dependency_scanning:input_file:path"] == next(iter(options.values()))


def test_source_is_found_in_the_workdir(tmp_path: Path) -> None:
    workdir = project(tmp_path, "poetry2")
    result = generate(workdir)
    assert result.details["sbom"]["source"] == "poetry.lock"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no dependency source"):
        generate(empty)


def test_policy_hash_coverage_version_and_purl(tmp_path: Path) -> None:
    workdir = tmp_path / "repo"
    workdir.mkdir()
    (workdir / "requirements.txt").write_text(
        "a==1.0 --hash=sha256:" + "a" * 64 + "\n"
        "b>=2\n"
        "c @ file:///opt/c-1.0.tar.gz\n")
    result = generate(workdir, {"min_hash_coverage": 0.9}, requirements="requirements.txt")
    assert result.status is Status.FAIL
    located = {(f.rule, f.location.line) for f in result.findings}
    assert ("SBOM_MISSING_VERSION", 2) in located
    assert ("SBOM_MISSING_PURL", 3) in located
    assert ("SBOM_HASH_MISSING", 2) in located
    coverage = next(f for f in result.findings if f.rule == "SBOM_HASH_COVERAGE")
    assert coverage.location.file == "requirements.txt" and "33.3%" in coverage.message
    document = json.loads((workdir / "sbom.cdx.json").read_text())
    local = next(c for c in document["components"] if c["name"] == "c")
    assert "purl" not in local  # a local file has no public identity
    relaxed = generate(workdir, {"require_purl_and_version": False},
                       requirements="requirements.txt")
    assert relaxed.status is Status.PASS


def test_unreachable_components(tmp_path: Path) -> None:
    workdir = project(tmp_path, "poetry2")
    lock = workdir / "poetry.lock"
    lock.write_text(lock.read_text().replace(
        "[extras]", '[[package]]\nname = "stale"\nversion = "0.1"\ndescription = ""\n'
        'optional = false\npython-versions = "*"\ngroups = ["main"]\nfiles = []\n\n[extras]'))
    result = generate(workdir, lock="poetry.lock")
    assert result.status is Status.FAIL
    (finding,) = [f for f in result.findings if f.rule == "SBOM_UNREACHABLE"]
    assert finding.location.file == "poetry.lock"
    assert lock.read_text().splitlines()[finding.location.line - 1] == 'name = "stale"'
    assert generate(workdir, {"allow_unreachable": True}, lock="poetry.lock").status is \
        Status.PASS


def test_environment_source_with_licenses(tmp_path: Path, site: FakeSite,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    site.add("good", "1.0", license_expression="MIT")
    site.add("bad", "2.0", classifiers=["License :: OSI Approved :: GNU Affero General Public "
                                        "License v3"])
    workdir = tmp_path / "repo"
    workdir.mkdir()
    (workdir / "pyproject.toml").write_text('[project]\nname = "svc"\nversion = "1"\n'
                                            'dependencies = ["good", "bad"]\n')
    from changegate.gates.sbom.readers import environment

    def fake_probe(path: Path, environ: Any, label: str,
                   cwd: Path | None = None) -> environment.Interpreter:
        return environment.Interpreter(str(path), (str(site.path),), marker_environment())

    monkeypatch.setattr(environment, "probe", fake_probe)
    result = generate(workdir, {"licenses": {"deny": ["AGPL-3.0-only"]}},
                      python=sys.executable)
    assert rules(result) == ["SBOM_LICENSE_DENIED"]
    assert "bad 2.0" in result.findings[0].message
    document = json.loads((workdir / "sbom.cdx.json").read_text())
    props = {p["name"]: p["value"] for p in document["metadata"]["properties"]}
    assert props["gitlab:dependency_scanning:input_file:path"] == "pyproject.toml"
    assert props["gitlab:dependency_scanning:package_manager:name"] == "pip"
    bad = next(c for c in document["components"] if c["name"] == "bad")
    assert bad["licenses"] == [{"license": {"id": "AGPL-3.0-only",
                                            "acknowledgement": "declared"}}]


def test_input_errors_propagate_with_location(tmp_path: Path) -> None:
    workdir = tmp_path / "repo"
    workdir.mkdir()
    (workdir / "uv.lock").write_text('version = 1\n[[package]]\nname = "x"\nversion = 1.0.0\n')
    with pytest.raises(InputError) as raised:
        generate(workdir, lock="uv.lock")
    assert raised.value.location.file == "uv.lock" and raised.value.location.line == 4


def run_cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "changegate", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)


def cli_env() -> dict[str, str]:
    src = Path(__file__).resolve().parents[2] / "src"
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(src), "SOURCE_DATE_EPOCH": "1700000000",
            "HOME": "/tmp"}


def test_cli_json_result_and_exit_codes(tmp_path: Path) -> None:
    workdir = git_repo(tmp_path / "repo")
    for item in (DATA / "uvproject").iterdir():
        shutil.copy(item, workdir)
    done = run_cli(["sbom", "--lock", "uv.lock", "--output", "out.cdx.json", "--json"],
                   workdir, cli_env())
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["gate"] == "sbom" and result["status"] == "pass"
    assert result["sbom"]["path"] == "out.cdx.json"
    (workdir / "bad.lock").write_text("[[package\n")
    done = run_cli(["sbom", "--lock", "bad.lock", "--json"], workdir, cli_env())
    assert done.returncode == 2
    error = json.loads(done.stdout)
    assert error["status"] == "error"
    assert error["findings"][0]["rule"] == "SBOM_INPUT_INVALID"
    assert error["findings"][0]["location"]["file"] == "bad.lock"
    done = run_cli(["sbom", "--python", str(tmp_path / "missing" / "python"), "--json"],
                   workdir, cli_env())
    assert done.returncode == 2 and "no Python interpreter" in done.stdout


def test_help_does_not_import_the_sbom_libraries() -> None:
    code = ("import sys, argparse; from changegate.commands import sbom;"
            "sbom.configure(argparse.ArgumentParser());"
            "heavy = [m for m in ('cyclonedx', 'jsonschema', 'packaging', 'lxml') "
            "if m in sys.modules]; print(heavy)")
    done = subprocess.run([sys.executable, "-c", code], env=cli_env(), capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_readers_do_not_import_the_sbom_libraries() -> None:
    code = ("import sys; import changegate.gates.sbom.readers;"
            "print([m for m in ('cyclonedx', 'jsonschema', 'lxml') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], env=cli_env(), capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_policy_supplies_source_output_and_format(tmp_path: Path) -> None:
    workdir = project(tmp_path)
    result = generate(workdir, {"source": "lock:pylock.toml", "output": "out/bom.xml",
                                "spec_version": "1.5"})
    assert result.details["sbom"]["source"] == "pylock.toml"
    assert result.details["sbom"]["format"] == "xml"
    assert result.details["sbom"]["spec_version"] == "1.5"
    assert (workdir / "out" / "bom.xml").read_text().startswith("<?xml")
    # the command line wins over the policy
    result = generate(workdir, {"source": "lock:pylock.toml"}, lock="uv.lock",
                      spec_version="1.6")
    assert result.details["sbom"]["source"] == "uv.lock"
