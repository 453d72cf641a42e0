"""The `Git` wrapper against real repositories (no mocks: its job is to talk to real git)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from changegate.errors import ChangegateError
from changegate.git import Git, is_sha, is_zero_sha
from gitrepo import World, isolate_git


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path / "home")


@pytest.fixture
def world(tmp_path: Path) -> World:
    """main: m1..m4; feature forks at m2 with f1, f2; both pushed."""
    w = World(tmp_path)
    m1, m2 = w.dev.commit("m1", {"policy.yml": "version: 1\n"}), w.dev.commit("m2")
    w.dev.commits("m", 2)
    w.dev.checkout("feature", m2)
    w.dev.commits("f", 2)
    w.dev.push("main", "feature")
    assert m1
    return w


def test_rev_parse_resolves_names_and_peels_tags(world: World) -> None:
    g = Git(world.dev.path)
    head = world.dev.rev("HEAD")
    assert g.rev_parse("HEAD") == head
    assert g.rev_parse("feature") == head
    world.dev.tag("v1")
    assert g.rev_parse("v1") == head  # the annotated tag object is peeled to its commit
    assert g.rev_parse("no-such-branch") is None
    assert g.rev_parse("0" * 40) is None
    assert g.has_commit(head)
    assert not g.has_commit("1" * 40)


def test_merge_base_and_ancestry(world: World) -> None:
    g = Git(world.dev.path)
    fork = world.dev.rev("main~2")
    assert g.merge_base("main", "feature") == fork
    assert g.is_ancestor(fork, "feature")
    assert not g.is_ancestor("main", "feature")
    world.dev.git("checkout", "--quiet", "--orphan", "lonely")
    lonely = world.dev.commit("unrelated")
    assert g.merge_base(lonely, "main") is None


def test_rev_list_oldest_first(world: World) -> None:
    g = Git(world.dev.path)
    f1, f2 = world.dev.rev("feature~1"), world.dev.rev("feature")
    assert g.rev_list(["main..feature"]) == [f1, f2]
    assert g.rev_list(["feature", "--not", "main"], oldest_first=False) == [f2, f1]
    assert g.rev_list(["feature..feature"]) == []
    assert g.parents(f2) == [f1]


def test_show_file_reads_a_revision_without_checkout(world: World) -> None:
    g = Git(world.dev.path)
    first = world.dev.rev("main~3")
    world.dev.checkout("main")
    world.dev.commit("change policy", {"policy.yml": "version: 2\n",
                                       "docs/ünïcode name.txt": b"\x00\xffbinary"})
    assert g.show_file(first, "policy.yml") == b"version: 1\n"
    assert g.show_file("HEAD", "policy.yml") == b"version: 2\n"
    assert g.show_file("HEAD", "docs/ünïcode name.txt") == b"\x00\xffbinary"
    assert g.show_file("HEAD", "missing.yml") is None
    assert g.show_file("HEAD", "docs") is None  # a directory is not a file
    assert g.show_file(first, "docs/ünïcode name.txt") is None


def test_commit_time_and_remote_and_branch(world: World) -> None:
    g = Git(world.dev.path)
    when = g.commit_time("HEAD")
    assert when.tzinfo is timezone.utc
    assert when == datetime.fromtimestamp(int(world.dev.git("show", "-s", "--format=%ct")),
                                          tz=timezone.utc)
    assert g.remote_url() == world.url
    assert g.remote_url("upstream") is None
    assert g.current_branch() == "feature"
    world.dev.git("checkout", "--quiet", "--detach")
    assert g.current_branch() is None


def test_describe_tag(world: World) -> None:
    g = Git(world.dev.path)
    assert g.describe_tag("HEAD") is None
    world.dev.tag("v1.0", "main~2")
    assert g.describe_tag("feature") == "v1.0"


def test_shallow_clone_deepen_and_unshallow(world: World) -> None:
    clone = world.clone("ci", depth=1, branch="main")
    g = Git(clone.path)
    assert g.is_shallow()
    assert g.shallow_commits() == {clone.rev("HEAD")}
    g.fetch_deepen("origin", ["main"], 2)
    assert g.shallow_commits() == {clone.rev("HEAD~2")}
    g.fetch_unshallow("origin", ["main"])
    assert not g.is_shallow()
    assert g.shallow_commits() == frozenset()
    assert len(g.rev_list(["HEAD"])) == 4


def test_fetch_by_sha_into_a_shallow_clone(world: World) -> None:
    clone = world.clone("ci", depth=1, branch="main")
    g = Git(clone.path)
    feature = world.dev.rev("feature")
    assert not g.has_commit(feature)
    g.fetch([feature], depth=1)
    assert g.has_commit(feature)
    assert feature in g.shallow_commits()


def test_failures_name_the_command(tmp_path: Path, world: World) -> None:
    not_a_repo = tmp_path / "plain"
    not_a_repo.mkdir()
    with pytest.raises(ChangegateError) as err:
        Git(not_a_repo).rev_parse("HEAD")
    assert err.value.rule == "GIT_FAILED"
    assert "git rev-parse" in err.value.message
    assert err.value.fix and "git checkout" in err.value.fix

    with pytest.raises(ChangegateError) as err:
        Git(world.dev.path).fetch(["1" * 40])
    assert err.value.rule == "GIT_FAILED"
    assert "git fetch" in err.value.message


def test_option_injection_is_refused(world: World) -> None:
    g = Git(world.dev.path)
    calls: list[Callable[[], object]] = [
        lambda: g.rev_parse("--output=/tmp/x"),
        lambda: g.merge_base("HEAD", "-x"),
        lambda: g.fetch(["--upload-pack=touch /tmp/pwned"]),
    ]
    for call in calls:
        with pytest.raises(ChangegateError) as err:
            call()
        assert err.value.rule == "GIT_FAILED"


def test_replace_refs_are_ignored(world: World) -> None:
    """A `refs/replace/` entry must not make git show a commit other than the stored one."""
    g = Git(world.dev.path)
    real, fake = world.dev.rev("feature"), world.dev.rev("main")
    world.dev.git("replace", real, fake)
    assert world.dev.git("log", "-1", "--format=%s", real) == "m2"  # plain git is fooled
    assert g.rev_list([f"{real}~1..{real}"]) == [real]
    assert g.show_file(real, "f.txt") == b"f 2\n"


def test_sha_helpers() -> None:
    assert is_sha("a" * 40) and is_sha("b" * 64)
    assert not is_sha("A" * 40) and not is_sha("abc") and not is_sha("g" * 40)
    assert is_zero_sha("0" * 40) and is_zero_sha("0" * 64)
    assert not is_zero_sha("0" * 39) and not is_zero_sha("")
