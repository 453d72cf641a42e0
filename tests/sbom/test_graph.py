"""Graph correctness: extras, markers, cycles, scopes, reachability, the root's edges."""

from __future__ import annotations

from sbom_fixtures import FakeSite, marker_environment

from changegate.gates.sbom.graph import adopt_installed_root, resolve
from changegate.gates.sbom.model import (
    Dependency,
    DependencyGraph,
    Package,
    RootDependency,
    RootProject,
)
from changegate.gates.sbom.readers.environment import read_site


def graph_of(*packages: Package, has_edges: bool = True) -> DependencyGraph:
    return DependencyGraph(source_kind="uv.lock", source_file="uv.lock", package_manager="uv",
                           packages=list(packages), has_edges=has_edges)


def names(refs: tuple[str, ...]) -> list[str]:
    return [ref.split("/")[1].split("@")[0] for ref in refs]


def test_extras_requested_by_a_requirer_turn_on_edges() -> None:
    app = Package("app", "1", dependencies=(Dependency("lib", frozenset({"fast"})),))
    lib = Package("lib", "1", dependencies=(Dependency("speedup", when_extra="fast"),
                                            Dependency("never", when_extra="other")))
    speedup, never = Package("speedup", "1"), Package("never", "1")
    root = RootProject("proj", "0", dependencies=(RootDependency("app"),))
    resolved = resolve(graph_of(app, lib, speedup, never), root)
    assert names(resolved.edges[lib.ref]) == ["speedup"]
    assert resolved.scopes[speedup.ref] == "required"
    assert resolved.scopes[never.ref] is None  # nobody asks for `other`
    assert [p.name for p in resolved.unreachable] == ["never"]


def test_cycles_terminate_and_are_recorded() -> None:
    a = Package("a", "1", dependencies=(Dependency("b"),))
    b = Package("b", "1", dependencies=(Dependency("c"),))
    c = Package("c", "1", dependencies=(Dependency("a"), Dependency("c", frozenset({"x"}))))
    root = RootProject("proj", "0", dependencies=(RootDependency("a"),))
    resolved = resolve(graph_of(a, b, c), root)
    assert names(resolved.edges[c.ref]) == ["a"]  # no self edge for c[x]
    assert all(resolved.scopes[p.ref] == "required" for p in (a, b, c))


def test_scopes_required_optional_dev() -> None:
    runtime = Package("runtime", "1", dependencies=(Dependency("shared"),))
    extra = Package("extra", "1", dependencies=(Dependency("shared"), Dependency("only-extra")))
    devtool = Package("devtool", "1", dependencies=(Dependency("only-dev"),))
    packages = [runtime, extra, devtool, Package("shared", "1"), Package("only-extra", "1"),
                Package("only-dev", "1")]
    root = RootProject("proj", "0", dependencies=(
        RootDependency("runtime"), RootDependency("extra", "optional", group="x"),
        RootDependency("devtool", "dev", group="dev")))
    resolved = resolve(graph_of(*packages), root)
    scope = {p.name: resolved.scopes[p.ref] for p in packages}
    assert scope == {"runtime": "required", "shared": "required", "extra": "optional",
                     "only-extra": "optional", "devtool": "dev", "only-dev": "dev"}
    assert names(resolved.edges[root.ref]) == ["devtool", "extra", "runtime"]


def test_without_declarations_the_root_needs_the_top_level_and_cycles() -> None:
    top = Package("top", "1", dependencies=(Dependency("leaf"),))
    leaf = Package("leaf", "1")
    c1 = Package("c1", "1", dependencies=(Dependency("c2"),))
    c2 = Package("c2", "1", dependencies=(Dependency("c1"),))
    root = RootProject("here", synthetic=True)
    resolved = resolve(graph_of(top, leaf, c1, c2), root)
    assert names(resolved.edges[root.ref]) == ["c1", "top"]
    assert not resolved.unreachable
    assert root.ref == "pkg:generic/here"


def test_flat_sources_hang_under_the_root_with_declared_kinds() -> None:
    packages = [Package("a", "1"), Package("b", "1"), Package("devonly", "1", kind="dev")]
    root = RootProject("proj", "0", dependencies=(RootDependency("b", "optional"),))
    resolved = resolve(graph_of(*packages, has_edges=False), root)
    assert {p.name: resolved.scopes[p.ref] for p in packages} == {
        "a": "required", "b": "optional", "devonly": "dev"}


def test_multiple_versions_of_a_name_are_picked_by_version() -> None:
    old, new = Package("lib", "1.0"), Package("lib", "2.0")
    app = Package("app", "1", dependencies=(Dependency("lib", version="2.0"),))
    root = RootProject("proj", "0", dependencies=(RootDependency("app"),))
    resolved = resolve(graph_of(app, old, new), root)
    assert resolved.edges[app.ref] == (new.ref,)
    assert resolved.scopes[old.ref] is None


def test_duplicate_refs_merge_hashes() -> None:
    from changegate.gates.sbom.model import Hash

    one = Package("x", "1", hashes=(Hash("sha256", "a" * 64),))
    two = Package("x", "1", hashes=(Hash("sha256", "b" * 64),))
    resolved = resolve(graph_of(one, two), RootProject("p", synthetic=True))
    (merged,) = resolved.packages.values()
    assert len(merged.hashes) == 2


def test_environment_markers_extras_and_missing(site: FakeSite) -> None:
    site.add("proj", "0.1", requires=["web", 'cli; extra == "tools"'], extras=["tools"])
    site.add("web", "1", requires=["http[secure]", 'oldcompat; python_version < "3.0"'])
    site.add("http", "1", extras=["secure"], requires=['tls; extra == "secure"',
                                                       'socks; extra == "proxy"'])
    site.add("tls", "1", requires=["ghost"])  # ghost is not installed
    site.add("socks", "1")
    site.add("cli", "1")
    site.add("stray", "1")
    graph = read_site([str(site.path)], marker_environment(python_version="3.11"), "site")
    root = RootProject("proj", dependencies=(RootDependency("web", source_line=3),))
    adopt_installed_root(graph, root)
    assert root.version == "0.1" and "proj" not in {p.key for p in graph.packages}
    resolved = resolve(graph, root)
    scope = {p.key: resolved.scopes[p.ref] for p in resolved.packages.values()}
    assert scope == {"web": "required", "http": "required", "tls": "required",
                     "cli": "optional", "socks": None, "stray": None}
    missing = [n for n in resolved.notices if n.rule == "SBOM_DEPENDENCY_MISSING"]
    assert len(missing) == 1 and "ghost" in missing[0].message


def test_root_declaration_not_in_lock_is_reported() -> None:
    root = RootProject("proj", "0", source_file="pyproject.toml", dependencies=(
        RootDependency("absent", source_file="pyproject.toml", source_line=7),
        RootDependency("platform-only", marker='sys_platform == "win32"')))
    resolved = resolve(graph_of(Package("x", "1")), root)
    (notice,) = resolved.notices
    assert notice.rule == "SBOM_DEPENDENCY_MISSING" and notice.line == 7
