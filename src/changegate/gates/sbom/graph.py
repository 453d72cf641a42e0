"""From what a source states to the dependency graph the SBOM records, rooted at the project.

Three questions are answered here, once, for every source format:
- which packages an edge reaches (a name may be locked in several versions),
- which extras are active (an edge `requests[socks]` turns on requests' `socks` edges),
- what is reachable from the root, and with which scope: a package reached through runtime
  dependencies is `required`, one reached only through extras `optional`, one reached only
  through development groups `excluded` (CycloneDX's word for "not part of the runtime").
Cycles are fine: the walk visits each (package, extra) pair once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from packaging.markers import InvalidMarker, Marker, UndefinedEnvironmentName

from changegate.gates.sbom.model import (
    KIND_ORDER,
    Dependency,
    DependencyGraph,
    DependencyKind,
    Notice,
    Package,
    RootDependency,
    RootProject,
)

_KINDS: tuple[DependencyKind, ...] = ("required", "optional", "dev")


def adopt_installed_root(graph: DependencyGraph, root: RootProject) -> None:
    """An environment that has the project itself installed: that entry is the root.

    Its installed Requires-Dist (markers already evaluated) joins the root's edges, its version
    fills a `dynamic` one, and it is not listed again as a component of itself.
    """
    keep: list[Package] = []
    direct = list(graph.direct)
    for package in graph.packages:
        if package.key != root.key:
            keep.append(package)
            continue
        if root.version is None:
            root.version = package.version
        if root.licenses.empty:
            root.licenses = package.licenses
        for dep in package.dependencies:
            kind: DependencyKind = "required" if dep.when_extra is None else "optional"
            direct.append(RootDependency(dep.name, kind, dep.extras, dep.when_extra,
                                         source_file=package.source_file))
    graph.packages = keep
    graph.direct = tuple(direct)


@dataclass
class Resolved:
    """The graph as the SBOM records it: every edge, each package's scope, what is missing."""

    root: RootProject
    packages: dict[str, Package]  # by ref, in a stable order
    edges: dict[str, tuple[str, ...]]  # ref -> dependency refs (the root's ref included)
    scopes: dict[str, DependencyKind | None]  # None: not reachable from the root
    notices: list[Notice] = field(default_factory=list)

    @property
    def unreachable(self) -> list[Package]:
        return [p for ref, p in self.packages.items() if self.scopes.get(ref) is None]


def resolve(graph: DependencyGraph, root: RootProject) -> Resolved:
    """Resolve `graph` under `root` (whose dependencies are added to the source's `direct`)."""
    packages = _merge_duplicates(graph.packages)
    index = _Index(packages)
    notices: list[Notice] = []
    # Every edge of the whole graph: from every package, so that packages the root does not
    # reach still show their own dependencies in the SBOM.
    starts = [(p.ref, frozenset[str]()) for p in packages.values()]
    all_edges, _, missing = index.walk(starts)
    root_deps = _root_dependencies(graph, root, packages, index, all_edges)
    root_edges: set[str] = set()
    for dep in root_deps:
        targets = index.candidates(dep.name, None)
        root_edges.update(p.ref for p in targets)
        if not targets and _reportable(dep.marker, graph):
            notices.append(Notice(
                "SBOM_DEPENDENCY_MISSING",
                f"{root.name} declares {dep.name}, but {graph.source_file} does not have it",
                dep.source_file or root.source_file, dep.source_line,
                fix="install/lock the dependency, or remove it from the project"))
    # Extras requested by the root turn on edges inside the graph, too.
    extra_starts = [(p.ref, dep.extras) for dep in root_deps if dep.extras
                    for p in index.candidates(dep.name, None)]
    extra_edges, _, extra_missing = index.walk(extra_starts)
    for ref, extra_targets in extra_edges.items():
        all_edges.setdefault(ref, set()).update(extra_targets)
    if graph.source_kind == "environment":
        for owner, edge in [*missing, *extra_missing]:
            if _reportable(edge.marker, graph):
                package = packages[owner]
                notices.append(Notice(
                    "SBOM_DEPENDENCY_MISSING",
                    f"{_label(package)} requires {edge.name}, which is not installed",
                    package.source_file, package.source_line,
                    fix=f"install {edge.name} (pip check lists every broken requirement)"))

    scopes: dict[str, DependencyKind | None] = {ref: None for ref in packages}
    for kind in _KINDS:
        allowed = {k for k, order in KIND_ORDER.items() if order <= KIND_ORDER[kind]}
        level_starts = [(p.ref, dep.extras) for dep in root_deps if dep.kind in allowed
                        for p in index.candidates(dep.name, None)]
        _, reached, _ = index.walk(level_starts)
        for ref in reached:
            if scopes.get(ref) is None:
                scopes[ref] = kind
    edges = {ref: tuple(sorted(all_edges.get(ref, ()))) for ref in packages}
    edges[root.ref] = tuple(sorted(root_edges))
    return Resolved(root, packages, edges, scopes, notices)


def _label(package: Package) -> str:
    return f"{package.name} {package.version}" if package.version else package.name


def _reportable(marker: str | None, graph: DependencyGraph) -> bool:
    """A missing target matters unless its edge has a marker that may not apply here."""
    if marker is None:
        return True
    if graph.marker_environment is None:
        return False
    try:
        return bool(Marker(marker).evaluate({**graph.marker_environment, "extra": ""}))
    except (InvalidMarker, UndefinedEnvironmentName):
        return False


def _merge_duplicates(items: Iterable[Package]) -> dict[str, Package]:
    """One package per ref (sorted): the same purl twice is one component with all its hashes."""
    merged: dict[str, Package] = {}
    for package in items:
        existing = merged.get(package.ref)
        if existing is None:
            merged[package.ref] = package
            continue
        existing.hashes = tuple(dict.fromkeys((*existing.hashes, *package.hashes)))
        existing.dependencies = tuple(dict.fromkeys((*existing.dependencies,
                                                     *package.dependencies)))
    return dict(sorted(merged.items()))


def _root_dependencies(graph: DependencyGraph, root: RootProject, packages: dict[str, Package],
                       index: _Index, edges: dict[str, set[str]]) -> list[RootDependency]:
    """What the root needs: the source's own statement plus the project's declarations.

    Markers of declared dependencies are evaluated for an environment; a flat source (no edges
    between packages) puts every package directly under the root, with the kind its entry or the
    project's declaration gives; with no declarations at all, the root needs every package that
    nothing else needs (and one package of each cycle nothing enters).
    """
    named = {d.name for d in root.dependencies}
    stated = [d for d in graph.direct if d.kind_known or d.name not in named]
    # `all = ["project[extra]"]` names the project itself: its extras are declared already.
    declared = [d for d in (*stated, *root.dependencies)
                if d.name != root.key and _applies(d, graph)]
    if not graph.has_edges:
        kinds: dict[str, DependencyKind] = {}
        for dep in declared:
            kinds[dep.name] = min(kinds.get(dep.name, dep.kind), dep.kind,
                                  key=lambda kind: KIND_ORDER[kind])
        flat = [RootDependency(p.key, p.kind or kinds.get(p.key, "required"),
                               source_file=p.source_file, source_line=p.source_line)
                for p in packages.values()]
        return flat + [d for d in declared if d.extras]
    if declared:
        return declared
    return _top_level(packages, index, edges)


def _applies(dep: RootDependency, graph: DependencyGraph) -> bool:
    if dep.marker is None or graph.marker_environment is None:
        return True
    try:
        return bool(Marker(dep.marker).evaluate({**graph.marker_environment, "extra": ""}))
    except (InvalidMarker, UndefinedEnvironmentName):
        return True


def _top_level(packages: dict[str, Package], index: _Index,
               edges: dict[str, set[str]]) -> list[RootDependency]:
    """Packages no active edge leads to (an extra nobody asks for is no edge)."""
    needed = set().union(*edges.values()) if edges else set()
    tops = [p for ref, p in packages.items() if ref not in needed]
    _, reached, _ = index.walk([(p.ref, frozenset[str]()) for p in tops])
    for ref, package in packages.items():  # cycles that nothing outside them enters
        if ref not in reached:
            tops.append(package)
            _, more, _ = index.walk([(ref, frozenset[str]())])
            reached |= more
    return [RootDependency(p.key, p.kind or "required", source_file=p.source_file,
                           source_line=p.source_line) for p in tops]


class _Index:
    """Packages by name, and the walk that follows edges with extras turned on."""

    def __init__(self, packages: dict[str, Package]) -> None:
        self.packages = packages
        self.by_key: dict[str, list[Package]] = {}
        for package in packages.values():
            self.by_key.setdefault(package.key, []).append(package)

    def candidates(self, name: str, version: str | None) -> list[Package]:
        found = self.by_key.get(name, [])
        if version is not None and len(found) > 1:
            exact = [p for p in found if p.version == version]
            return exact or found
        return found

    def walk(self, starts: Iterable[tuple[str, frozenset[str]]]
             ) -> tuple[dict[str, set[str]], set[str], list[tuple[str, Dependency]]]:
        """Follow edges from `starts`; return (edges, reached refs, edges with no target).

        Each (package, extra) pair is expanded once, so cycles end and work stays linear.
        """
        edges: dict[str, set[str]] = {}
        active: dict[str, set[str]] = {}
        missing: list[tuple[str, Dependency]] = []
        queue = deque(starts)
        while queue:
            ref, extras = queue.popleft()
            seen = active.get(ref)
            if seen is None:
                seen = active[ref] = set()
                new_extras: set[str | None] = {None, *extras}
            else:
                new_extras = set(extras - seen)
                if not new_extras:
                    continue
            seen.update(e for e in new_extras if e is not None)
            package = self.packages[ref]
            for dep in package.dependencies:
                if dep.when_extra not in new_extras:
                    continue
                targets = self.candidates(dep.name, dep.version)
                if not targets:
                    missing.append((ref, dep))
                for target in targets:
                    if target.ref != ref:  # `pkg[a]` requiring `pkg[b]` turns on b, no edge
                        edges.setdefault(ref, set()).add(target.ref)
                    queue.append((target.ref, dep.extras))
        return edges, set(active), missing
