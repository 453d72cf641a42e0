"""Every lock/requirements format: packages, versions, hashes, lines, and located errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sbom_fixtures import DATA

from changegate.errors import InputError
from changegate.gates.sbom.model import Package
from changegate.gates.sbom.readers import detect_format, find_default_source, read_dependencies
from changegate.gates.sbom.readers.pyproject import read_pyproject

UV_PROJECT = DATA / "uvproject"
NAMES = {"certifi", "charset-normalizer", "click", "idna", "iniconfig", "markdown-it-py",
         "mdurl", "pygments", "pysocks", "requests", "rich", "tomli", "urllib3"}


def by_key(packages: list[Package]) -> dict[str, Package]:
    return {p.key: p for p in packages}


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip().startswith(needle):
            return number
    raise AssertionError(needle)


def test_uv_lock() -> None:
    path = UV_PROJECT / "uv.lock"
    graph = read_dependencies(path, "uv.lock")
    packages = by_key(graph.packages)
    assert set(packages) == NAMES
    assert graph.root_name == "demo-app" and graph.root_version == "1.2.0"
    requests = packages["requests"]
    assert requests.version == "2.34.2"
    assert requests.source_file == "uv.lock"
    assert requests.source_line == line_of(path, 'name = "requests"')
    assert {h.algorithm for h in requests.hashes} == {"sha256"} and len(requests.hashes) == 2
    assert {d.name for d in requests.dependencies if d.when_extra is None} == {
        "certifi", "charset-normalizer", "idna", "urllib3"}
    assert [d.name for d in requests.dependencies if d.when_extra == "socks"] == ["pysocks"]
    kinds = {(d.name, d.kind) for d in graph.direct}
    assert ("rich", "optional") in kinds and ("iniconfig", "dev") in kinds
    assert ("requests", "required") in kinds
    assert next(d for d in graph.direct if d.name == "requests").extras == {"socks"}


def test_pylock() -> None:
    path = UV_PROJECT / "pylock.toml"
    graph = read_dependencies(path, "pylock.toml")
    assert set(by_key(graph.packages)) == NAMES
    assert graph.root_name == "demo-app"  # the `directory = {path = "."}` entry
    assert graph.has_edges is False  # uv writes no `dependencies`
    certifi = by_key(graph.packages)["certifi"]
    assert certifi.source_line == line_of(path, 'name = "certifi"')
    assert certifi.hashes[0].value.startswith("1324c476")


def test_pylock_with_dependencies_and_private_index(tmp_path: Path) -> None:
    path = tmp_path / "pylock.dev.toml"
    path.write_text('lock-version = "1.0"\ncreated-by = "pdm"\n\n'
                    '[[packages]]\nname = "a"\nversion = "1.0"\nindex = "https://repo.example/simple"\n'
                    'dependencies = [{name = "b"}]\n'
                    'wheels = [{url = "https://repo.example/a-1.0-py3-none-any.whl", '
                    'hashes = {sha512 = "' + "ab" * 64 + '"}}]\n\n'
                    '[[packages]]\nname = "b"\nversion = "2.0"\n'
                    'vcs = {type = "git", url = "https://git.example/b", commit-id = "abc123"}\n')
    assert detect_format(path) == "pylock"
    graph = read_dependencies(path)
    a, b = by_key(graph.packages)["a"], by_key(graph.packages)["b"]
    assert graph.has_edges and graph.package_manager == "pdm"
    assert a.purl_qualifiers == (("repository_url", "https://repo.example/simple"),)
    assert a.hashes[0].algorithm == "sha512"
    assert b.purl_qualifiers == (("vcs_url", "git+https://git.example/b@abc123"),)
    assert a.ref == "pkg:pypi/a@1.0?repository_url=https://repo.example/simple"


def test_requirements_uv_export() -> None:
    path = UV_PROJECT / "requirements.txt"
    graph = read_dependencies(path, "requirements.txt", project_dir=UV_PROJECT)
    packages = by_key(graph.packages)
    assert set(packages) == NAMES  # `-e .` is the project itself, not a component
    assert graph.root_name == "demo-app"
    assert graph.has_edges  # from `# via` comments
    charset = packages["charset-normalizer"]
    assert charset.source_line == line_of(path, "charset-normalizer==")
    assert len(charset.hashes) == 2
    requests_deps = {d.name for d in packages["requests"].dependencies}
    assert {"certifi", "idna", "urllib3", "pysocks"} <= requests_deps
    assert {d.name for d in graph.direct} >= {"click", "requests", "rich"}


def test_requirements_pip_compile_style(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("six==1.17.0\n")
    path = tmp_path / "requirements.txt"
    path.write_text(
        "# pip-compile style\n"
        "--index-url https://pypi.org/simple\n"
        "-r base.txt\n"
        "-c constraints.txt\n"
        "requests==2.31.0 \\\n"
        "    --hash=sha256:" + "a" * 64 + " \\\n"
        "    --hash=sha256:" + "b" * 64 + "\n"
        "    # via\n"
        "    #   -r requirements.in\n"
        "    #   myproject (pyproject.toml)\n"
        "urllib3==2.0.0 --hash=sha256:" + "c" * 64 + "  # trailing comment\n"
        "    # via requests\n"
        "flask>=2  # unpinned on purpose\n"
        "pkg @ https://example.org/pkg-3.1.tar.gz\n"
        "tomli==2.0.1 ; python_version < \"3.11\"\n")
    graph = read_dependencies(path, "requirements.txt")
    packages = by_key(graph.packages)
    assert set(packages) == {"six", "requests", "urllib3", "flask", "pkg", "tomli"}
    assert packages["six"].source_file.endswith("base.txt") and packages["six"].source_line == 1
    assert packages["requests"].source_line == 5 and len(packages["requests"].hashes) == 2
    assert packages["urllib3"].source_line == 11
    assert packages["flask"].version is None and packages["flask"].source_line == 13
    assert packages["pkg"].version == "3.1"
    assert packages["pkg"].purl_qualifiers == (("download_url",
                                                "https://example.org/pkg-3.1.tar.gz"),)
    assert packages["tomli"].version == "2.0.1"
    assert [d.name for d in packages["requests"].dependencies] == ["urllib3"]
    assert "requests" in {d.name for d in graph.direct}
    assert "urllib3" not in {d.name for d in graph.direct}


def test_poetry2_lock() -> None:
    path = DATA / "poetry2" / "poetry.lock"
    graph = read_dependencies(path, "poetry.lock")
    packages = by_key(graph.packages)
    assert {"requests", "pysocks", "rich", "iniconfig"} <= set(packages)
    assert packages["iniconfig"].kind == "dev" and packages["requests"].kind == "required"
    assert packages["requests"].source_line == line_of(path, 'name = "requests"')
    optional = [d for d in packages["requests"].dependencies if d.name == "pysocks"]
    assert optional and optional[0].when_extra == "socks"
    assert len(packages["requests"].hashes) == 2


def test_poetry1_lock_keeps_hashes_in_metadata_files() -> None:
    graph = read_dependencies(DATA / "poetry1" / "poetry.lock", "poetry.lock")
    packages = by_key(graph.packages)
    assert len(packages["certifi"].hashes) >= 1
    assert packages["iniconfig"].kind == "dev"
    assert all(p.hashes for p in packages.values())


def test_pipfile_lock() -> None:
    path = DATA / "pipenv" / "Pipfile.lock"
    graph = read_dependencies(path, "Pipfile.lock")
    packages = by_key(graph.packages)
    assert packages["iniconfig"].kind == "dev" and packages["requests"].kind == "required"
    assert graph.has_edges is False
    assert packages["requests"].source_line == line_of(path, '"requests": {')
    assert packages["requests"].version and len(packages["requests"].hashes) == 2


def test_pyproject_pep621_root() -> None:
    root = read_pyproject(UV_PROJECT / "pyproject.toml", "pyproject.toml")
    assert root is not None and root.name == "demo-app" and root.version == "1.2.0"
    assert root.licenses.ids == ("Apache-2.0",)
    kinds = {(d.name, d.kind) for d in root.dependencies}
    assert kinds == {("requests", "required"), ("click", "required"), ("tomli", "required"),
                     ("rich", "optional"), ("iniconfig", "dev")}
    tomli = next(d for d in root.dependencies if d.name == "tomli")
    assert tomli.marker and tomli.source_line == line_of(UV_PROJECT / "pyproject.toml", "\"tomli")


def test_pyproject_poetry_root() -> None:
    root = read_pyproject(DATA / "poetry2" / "pyproject.toml")
    assert root is not None and root.name == "demo-poetry" and root.version == "0.3.0"
    assert root.licenses.ids == ("MIT",)
    kinds = {(d.name, d.kind) for d in root.dependencies}
    assert kinds == {("requests", "required"), ("click", "required"), ("rich", "optional"),
                     ("iniconfig", "dev")}


def test_pyproject_without_project_is_no_root(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.ruff]\nline-length = 100\n")
    assert read_pyproject(path) is None


def test_dependency_group_include_cycle_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "x"\n[dependency-groups]\n'
                    'a = [{include-group = "b"}]\nb = [{include-group = "a"}]\n')
    with pytest.raises(InputError, match="includes itself"):
        read_pyproject(path)


def test_default_source_order(tmp_path: Path) -> None:
    assert find_default_source(tmp_path) is None
    (tmp_path / "requirements.txt").write_text("")
    assert find_default_source(tmp_path) == tmp_path / "requirements.txt"
    shutil.copy(UV_PROJECT / "pylock.toml", tmp_path)
    assert find_default_source(tmp_path) == tmp_path / "pylock.toml"
    shutil.copy(UV_PROJECT / "uv.lock", tmp_path)
    assert find_default_source(tmp_path) == tmp_path / "uv.lock"


@pytest.mark.parametrize(("name", "content", "line", "fragment"), [
    ("uv.lock", 'version = 1\n\n[[package]]\nname = "a"\nversion = \n', 5, "not valid TOML"),
    ("uv.lock", 'version = 7\n', 1, "unsupported uv.lock format version"),
    ("uv.lock", 'version = 1\n[[package]]\nversion = "1"\n', 2, "package name"),
    ("poetry.lock", '[[package]]\nname = "a"\nversion = "1"\nfiles = [{file = "a", '
     'hash = "sha256:xyz"}]\n\n[metadata]\nlock-version = "2.1"\n', 2, "malformed sha256"),
    ("poetry.lock", '[metadata]\nlock-version = "9.0"\n', 2, "lock-version"),
    ("pylock.toml", 'lock-version = "2.0"\n', 1, "lock-version"),
    ("pylock.toml", 'lock-version = "1.0"\n[[packages]]\nname = "a"\n'
     'wheels = [{url = "x", hashes = {sha256 = "00"}}]\n', 3, "malformed sha256"),
    ("Pipfile.lock", '{"_meta": {}, "default": {\n  "a": {"version": "==1"},,\n}}\n', 2,
     "not valid JSON"),
    ("requirements.txt", "ok==1\nnot a requirement!!\n", 2, "invalid requirement"),
    ("requirements.txt", "ok==1 --hash=sha256:1234\n", 1, "malformed sha256"),
    ("requirements.txt", "--frobnicate\n", 1, "unknown option"),
    ("requirements.txt", "ok==1 \\\n  --hash=md9:abc\n", 1, "CycloneDX has no such"),
])
def test_malformed_input_names_file_and_line(tmp_path: Path, name: str, content: str,
                                             line: int, fragment: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    if fragment == "CycloneDX has no such":
        graph = read_dependencies(path, name)  # an unknown digest is reported, not fatal
        assert graph.notices and fragment in graph.notices[0].message
        assert graph.notices[0].line == line
        return
    with pytest.raises(InputError) as raised:
        read_dependencies(path, name)
    error = raised.value
    assert error.rule == "SBOM_INPUT_INVALID"
    assert error.location.file == name and error.location.line == line
    assert fragment in error.message


def test_missing_and_unknown_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_dependencies(tmp_path / "uv.lock", "uv.lock")
    odd = tmp_path / "deps.lock"
    odd.write_text("just some text\n")
    with pytest.raises(InputError, match="unknown lock file format") as raised:
        read_dependencies(odd, "deps.lock")
    assert raised.value.location.file == "deps.lock"


def test_content_sniffing(tmp_path: Path) -> None:
    for source, expected in (("uv.lock", "uv.lock"), ("pylock.toml", "pylock")):
        target = tmp_path / f"renamed-{expected}.lock"
        shutil.copy(UV_PROJECT / source, target)
        assert detect_format(target) == expected
    target = tmp_path / "locked.json"
    shutil.copy(DATA / "pipenv" / "Pipfile.lock", target)
    assert detect_format(target) == "Pipfile.lock"
    target = tmp_path / "p.lock"
    shutil.copy(DATA / "poetry2" / "poetry.lock", target)
    assert detect_format(target) == "poetry.lock"
