"""`detect_change`/`resolve_range` against real repositories, real shallow clones, real fetches.

Each test builds an on-disk origin, checks it out the way the CI system does (one commit,
`--depth=1`, no other branches, no tags) and feeds the context the payload or variables that
system would set. The assertions are on the exact commit lists: the point of this module is that
a range is never silently shorter than the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from changegate import context
from changegate.change import Change
from changegate.context import detect_change, resolve_range
from changegate.errors import ChangegateError
from changegate.git import Git
from gitrepo import ZERO, Repo, World, isolate_git, write_event


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path / "home")


class CountingGit(Git):
    """A real `Git` that records each subcommand, to keep the context cheap."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.calls: list[str] = []

    def run(self, args: Sequence[str], **kwargs: Any) -> Any:
        self.calls.append(args[0])
        return super().run(args, **kwargs)


# -- payloads shaped like GitHub's webhook documentation ---------------------------------------

REPOSITORY = {
    "id": 123456, "node_id": "R_kgDOAAAAAA", "name": "payments", "full_name": "acme/payments",
    "private": True, "owner": {"login": "acme", "id": 1, "type": "Organization"},
    "html_url": "https://github.com/acme/payments", "default_branch": "main",
    "visibility": "private",
}
SENDER = {"login": "alice", "id": 42, "type": "User"}


def pr_payload(number: int, head: str, base: str, *, action: str = "synchronize",
               head_ref: str = "feature", base_ref: str = "main",
               labels: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "action": action,
        "number": number,
        "pull_request": {
            "url": f"https://api.github.com/repos/acme/payments/pulls/{number}",
            "id": 987654, "number": number, "state": "open", "locked": False,
            "title": "Add settlement report", "user": {"login": "bob", "id": 43},
            "labels": [{"id": 1000 + i, "name": name, "color": "ededed", "default": False}
                       for i, name in enumerate(labels)],
            "draft": False, "merged": False, "mergeable": True,
            "merge_commit_sha": None,
            "head": {"label": f"acme:{head_ref}", "ref": head_ref, "sha": head,
                     "user": {"login": "acme"}, "repo": REPOSITORY},
            "base": {"label": f"acme:{base_ref}", "ref": base_ref, "sha": base,
                     "user": {"login": "acme"}, "repo": REPOSITORY},
            "commits": 2, "additions": 10, "deletions": 1, "changed_files": 2,
        },
        "repository": REPOSITORY,
        "sender": SENDER,
    }


def push_payload(ref: str, before: str, after: str, *, forced: bool = False,
                 repository: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "ref": ref, "before": before, "after": after,
        "base_ref": None, "created": before == ZERO, "deleted": after == ZERO,
        "forced": forced,
        "compare": f"https://github.com/acme/payments/compare/{before[:12]}...{after[:12]}",
        "commits": [], "head_commit": None if after == ZERO else {"id": after},
        "pusher": {"name": "alice", "email": "alice@example.com"},
        "repository": REPOSITORY if repository is None else repository,
        "sender": SENDER,
    }


def github_env(tmp_path: Path, event_name: str, payload: dict[str, Any],
               **extra: str) -> dict[str, str]:
    path = write_event(tmp_path / f"{event_name}-event.json", payload)
    return {
        "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(path), "GITHUB_REPOSITORY": "acme/payments",
        "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "4242",
        "GITHUB_ACTOR": "alice", **extra,
    }


def gitlab_env(**variables: str) -> dict[str, str]:
    return {
        "CI": "true", "GITLAB_CI": "true", "CI_SERVER_URL": "https://gitlab.example.com",
        "CI_PROJECT_PATH": "acme/payments", "GITLAB_USER_LOGIN": "alice",
        "CI_PIPELINE_URL": "https://gitlab.example.com/acme/payments/-/pipelines/77",
        "CI_DEFAULT_BRANCH": "main", **variables,
    }


# -- a repository with a pull request -----------------------------------------------------------


@dataclass
class PR:
    world: World
    main: list[str]  # m1..m5; the feature forks at m3
    feature: list[str]  # f1, f2
    merge: str  # GitHub's synthetic merge commit (refs/pull/7/merge)

    @property
    def fork(self) -> str:
        return self.main[2]


@pytest.fixture
def pr(tmp_path: Path) -> PR:
    w = World(tmp_path)
    main = w.dev.commits("m", 3)
    w.dev.checkout("feature", main[-1])
    feature = w.dev.commits("f", 2)
    w.dev.checkout("main")
    main += w.dev.commits("n", 2)
    w.dev.checkout("pr-merge", main[-1])
    merge = w.dev.merge("feature", "Merge feature into main")
    w.dev.push("main", "feature", "pr-merge:refs/pull/7/merge", "feature:refs/pull/7/head")
    w.dev.checkout("main")
    return PR(w, main, feature, merge)


def test_github_pull_request_gates_the_pr_head_not_the_merge_commit(tmp_path: Path,
                                                                    pr: PR) -> None:
    ci = pr.world.checkout("ci", pr.merge, fetch_ref="refs/pull/7/merge")
    env = github_env(tmp_path, "pull_request",
                     pr_payload(7, pr.feature[-1], pr.main[-1],
                                labels=["emergency-change", "payments"]),
                     GITHUB_SHA=pr.merge, GITHUB_REF="refs/pull/7/merge")
    git = CountingGit(ci.path)
    change = detect_change(env, ci.path, git=git)

    assert change.head == pr.feature[-1]
    assert change.base == pr.fork
    assert resolve_range(change) == pr.feature
    assert pr.merge not in resolve_range(change)
    assert change.platform == "github" and change.event == "pull_request"
    assert (change.ref, change.ref_type, change.source_branch) == ("main", "branch", "feature")
    assert change.number == 7
    assert change.labels == ("emergency-change", "payments")
    assert change.actor == "alice" and change.repository == "acme/payments"
    assert change.run_url == "https://github.com/acme/payments/actions/runs/4242"
    assert change.policy_revision == pr.fork
    # depth-1 checkout: one fetch for head and base together, then one deepen
    assert git.calls.count("fetch") == 2


def test_github_pull_request_in_a_full_clone_costs_a_handful_of_git_calls(
        tmp_path: Path, pr: PR) -> None:
    ci = pr.world.checkout("ci", pr.merge, fetch_ref="refs/pull/7/merge", depth=None)
    env = github_env(tmp_path, "pull_request", pr_payload(7, pr.feature[-1], pr.main[-1]))
    git = CountingGit(ci.path)
    change = detect_change(env, ci.path, git=git)
    assert (change.head, change.base) == (pr.feature[-1], pr.fork)
    assert len(git.calls) <= 5, git.calls
    assert "fetch" not in git.calls


def test_github_pull_request_target_fetches_the_pr_head_without_checking_it_out(
        tmp_path: Path, pr: PR) -> None:
    ci = pr.world.checkout("ci", pr.main[-1], fetch_ref="refs/heads/main")  # the base branch
    env = github_env(tmp_path, "pull_request_target",
                     pr_payload(7, pr.feature[-1], pr.main[-1], action="opened"),
                     GITHUB_SHA=pr.main[-1], GITHUB_REF="refs/heads/main")
    change = detect_change(env, ci.path)
    assert (change.head, change.base) == (pr.feature[-1], pr.fork)
    assert resolve_range(change) == pr.feature
    assert ci.rev("HEAD") == pr.main[-1]  # still the base: PR code is never checked out


def test_explicit_head_and_base_override_the_event(tmp_path: Path, pr: PR) -> None:
    ci = pr.world.checkout("ci", pr.merge, fetch_ref="refs/pull/7/merge")
    env = github_env(tmp_path, "pull_request", pr_payload(7, pr.feature[-1], pr.main[-1]))
    change = detect_change(env, ci.path, head=pr.feature[0])
    assert (change.head, change.base) == (pr.feature[0], pr.fork)
    assert change.number == 7
    change = detect_change(env, ci.path, base=pr.feature[0])
    assert (change.head, change.base) == (pr.feature[-1], pr.feature[0])
    assert resolve_range(change) == pr.feature[1:]


def test_shallow_clone_is_deepened_in_steps_not_unshallowed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = World(tmp_path)
    main = w.dev.commits("m", 20)
    w.dev.checkout("feature", main[9])
    feature = w.dev.commits("f", 6)
    w.dev.push("main", "feature")
    monkeypatch.setattr(context, "DEEPEN_STEPS", (2, 4))
    ci = w.checkout("ci", feature[-1])
    env = github_env(tmp_path, "pull_request", pr_payload(3, feature[-1], main[-1]))
    git = CountingGit(ci.path)
    change = detect_change(env, ci.path, git=git)
    # main is 10 commits past the fork: depth 1, +2, +4 cannot reach it; --unshallow does
    assert change.base == main[9]
    assert resolve_range(change) == feature
    assert git.calls.count("fetch") == 4
    assert not ci.is_shallow()

    ci2 = w.checkout("ci2", feature[-1])
    monkeypatch.setattr(context, "DEEPEN_STEPS", (12,))
    change = detect_change(env, ci2.path)
    assert change.base == main[9]
    assert resolve_range(change) == feature
    assert ci2.is_shallow()  # the first 9 commits were never needed


def test_range_that_reaches_past_the_shallow_boundary_is_deepened(tmp_path: Path) -> None:
    """With base and head both present, rev-list alone would stop at the boundary."""
    w = World(tmp_path)
    main = w.dev.commits("m", 8)
    w.dev.push("main")
    ci = w.checkout("ci", main[-1])
    ci.git("fetch", "--quiet", "--depth=1", "origin", main[1])  # base present, middle missing
    assert ci.git("rev-list", f"{main[1]}..{main[-1]}") == main[-1]  # what plain git says
    env = github_env(tmp_path, "push", push_payload("refs/heads/main", main[1], main[-1]))
    change = detect_change(env, ci.path)
    assert change.base == main[1]
    assert resolve_range(change) == main[2:]


# -- pushes --------------------------------------------------------------------------------------


def test_github_push_fast_forward(tmp_path: Path, pr: PR) -> None:
    dev = pr.world.dev
    dev.checkout("feature")
    before = dev.rev("HEAD")
    added = dev.commits("g", 3)
    dev.push("feature")
    ci = pr.world.checkout("ci", added[-1])
    env = github_env(tmp_path, "push", push_payload("refs/heads/feature", before, added[-1]))
    change = detect_change(env, ci.path)
    assert (change.head, change.base) == (added[-1], before)
    assert (change.ref, change.ref_type, change.number) == ("feature", "branch", None)
    assert resolve_range(change) == added


def test_github_push_new_branch_is_bounded_by_the_default_branch(tmp_path: Path,
                                                                pr: PR) -> None:
    ci = pr.world.checkout("ci", pr.feature[-1])
    env = github_env(tmp_path, "push", push_payload("refs/heads/feature", ZERO, pr.feature[-1]))
    change = detect_change(env, ci.path)
    assert change.base == pr.fork
    assert resolve_range(change) == pr.feature


def test_github_push_new_default_branch_checks_the_whole_history(tmp_path: Path) -> None:
    w = World(tmp_path)
    main = w.dev.commits("m", 4)
    w.dev.push("main")
    ci = w.checkout("ci", main[-1])
    env = github_env(tmp_path, "push", push_payload("refs/heads/main", ZERO, main[-1]))
    change = detect_change(env, ci.path)
    assert change.base is None
    assert resolve_range(change) == main
    assert not ci.is_shallow()


def test_github_push_without_default_branch_is_bounded_by_other_branches(
        tmp_path: Path) -> None:
    w = World(tmp_path)
    main = w.dev.commits("m", 3)
    w.dev.checkout("feature", main[1])
    feature = w.dev.commits("f", 2)
    w.dev.checkout("topic", feature[0])
    topic = w.dev.commits("t", 2)
    w.dev.push("main", "feature", "topic")
    ci = w.checkout("ci", topic[-1], as_ref="refs/remotes/origin/topic")
    repository = {k: v for k, v in REPOSITORY.items() if k != "default_branch"}
    env = github_env(tmp_path, "push", push_payload("refs/heads/topic", ZERO, topic[-1],
                                                    repository=repository))
    change = detect_change(env, ci.path)
    assert change.base == feature[0]
    assert resolve_range(change) == topic


@dataclass
class Forced:
    world: World
    main: list[str]
    before: str  # f2, the old tip
    after: list[str]  # g1, g2 on top of f1


@pytest.fixture
def forced(tmp_path: Path) -> Forced:
    w = World(tmp_path)
    main = w.dev.commits("m", 3)
    w.dev.checkout("feature", main[-1])
    f1, f2 = w.dev.commits("f", 2)
    w.dev.push("main", "feature")
    w.dev.checkout("feature", f1)
    after = w.dev.commits("g", 2)
    return Forced(w, main, f2, after)


def _force_push(forced: Forced) -> None:
    forced.world.dev.push("--force", "feature")


def test_github_force_push_with_the_old_tip_in_the_clone(tmp_path: Path,
                                                         forced: Forced) -> None:
    ci = forced.world.clone("ci", branch="feature")
    _force_push(forced)
    ci.git("fetch", "--quiet", "origin", "+feature:refs/remotes/origin/feature")
    ci.git("checkout", "--quiet", "--detach", forced.after[-1])
    env = github_env(tmp_path, "push", push_payload("refs/heads/feature", forced.before,
                                                    forced.after[-1], forced=True))
    change = detect_change(env, ci.path)
    assert change.base == ci.rev(f"{forced.after[0]}~1")  # f1, where the histories split
    assert resolve_range(change) == forced.after


def test_github_force_push_fetches_the_old_tip_from_origin(tmp_path: Path,
                                                           forced: Forced) -> None:
    forced.world.set_ref("refs/keep/old-feature", forced.before)  # still served by origin
    _force_push(forced)
    ci = forced.world.checkout("ci", forced.after[-1])
    env = github_env(tmp_path, "push", push_payload("refs/heads/feature", forced.before,
                                                    forced.after[-1], forced=True))
    change = detect_change(env, ci.path)
    assert change.base == ci.rev(f"{forced.after[0]}~1")
    assert resolve_range(change) == forced.after


def test_github_force_push_whose_old_tip_is_gone_uses_the_default_branch(
        tmp_path: Path, forced: Forced) -> None:
    _force_push(forced)
    forced.world.gc_origin()
    ci = forced.world.checkout("ci", forced.after[-1])
    env = github_env(tmp_path, "push", push_payload("refs/heads/feature", forced.before,
                                                    forced.after[-1], forced=True))
    change = detect_change(env, ci.path)
    assert change.base == forced.main[-1]
    commits = resolve_range(change)
    assert commits[-2:] == forced.after and len(commits) == 3  # f1 too: wider, never narrower


def test_github_branch_deletion_has_no_commits(tmp_path: Path, pr: PR) -> None:
    env = github_env(tmp_path, "push", push_payload("refs/heads/feature", pr.feature[-1], ZERO))
    git = CountingGit(pr.world.dev.path)
    change = detect_change(env, pr.world.dev.path, git=git)
    assert change.head == change.base == pr.feature[-1]
    assert resolve_range(change) == []
    assert git.calls == []


# -- tags, releases, merge queues, manual runs -----------------------------------------------------


@pytest.fixture
def tagged(tmp_path: Path) -> tuple[World, list[str], str]:
    w = World(tmp_path)
    main = w.dev.commits("m", 5)
    w.dev.tag("v1.0.0", main[1])
    v2 = w.dev.tag("v2.0.0", main[-1])
    w.dev.push("main", "--tags")
    return w, main, v2


def test_github_tag_push_is_bounded_by_the_previous_tag(tmp_path: Path,
                                                        tagged: tuple[World, list[str], str]
                                                        ) -> None:
    w, main, tag_object = tagged
    ci = w.checkout("ci", main[-1], fetch_ref="refs/tags/v2.0.0")
    env = github_env(tmp_path, "push", push_payload("refs/tags/v2.0.0", ZERO, tag_object))
    change = detect_change(env, ci.path)
    assert change.head == main[-1]  # the annotated tag object is peeled to its commit
    assert (change.ref, change.ref_type) == ("v2.0.0", "tag")
    assert change.base == main[1]
    assert resolve_range(change) == main[2:]


def test_github_first_tag_checks_the_whole_history(tmp_path: Path) -> None:
    w = World(tmp_path)
    main = w.dev.commits("m", 3)
    w.dev.tag("v0.1.0")
    w.dev.push("main", "--tags")
    ci = w.checkout("ci", main[-1], fetch_ref="refs/tags/v0.1.0")
    env = github_env(tmp_path, "push", push_payload("refs/tags/v0.1.0", ZERO, main[-1]))
    change = detect_change(env, ci.path)
    assert change.base is None
    assert resolve_range(change) == main


def test_github_release_event(tmp_path: Path, tagged: tuple[World, list[str], str]) -> None:
    w, main, _ = tagged
    ci = w.checkout("ci", main[-1], fetch_ref="refs/tags/v2.0.0")
    payload = {"action": "published",
               "release": {"id": 1, "tag_name": "v2.0.0", "target_commitish": "main",
                           "name": "v2.0.0", "draft": False, "prerelease": False,
                           "author": {"login": "alice"}},
               "repository": REPOSITORY, "sender": SENDER}
    env = github_env(tmp_path, "release", payload, GITHUB_SHA=main[-1],
                     GITHUB_REF="refs/tags/v2.0.0", GITHUB_REF_NAME="v2.0.0",
                     GITHUB_REF_TYPE="tag")
    change = detect_change(env, ci.path)
    assert (change.head, change.base, change.ref, change.ref_type) == (
        main[-1], main[1], "v2.0.0", "tag")
    assert resolve_range(change) == main[2:]


def test_github_merge_group(tmp_path: Path, pr: PR) -> None:
    queue = f"gh-readonly-queue/main/pr-7-{pr.main[-1]}"
    pr.world.dev.push(f"pr-merge:refs/heads/{queue}")
    ci = pr.world.checkout("ci", pr.merge, fetch_ref=f"refs/heads/{queue}")
    payload = {"action": "checks_requested",
               "merge_group": {"head_sha": pr.merge, "head_ref": f"refs/heads/{queue}",
                               "base_sha": pr.main[-1], "base_ref": "refs/heads/main",
                               "head_commit": {"id": pr.merge, "tree_id": "0" * 40,
                                               "message": "Merge pull request #7"}},
               "repository": REPOSITORY, "sender": SENDER}
    env = github_env(tmp_path, "merge_group", payload, GITHUB_SHA=pr.merge,
                     GITHUB_REF=f"refs/heads/{queue}")
    change = detect_change(env, ci.path)
    assert (change.head, change.base) == (pr.merge, pr.main[-1])
    assert (change.ref, change.number) == ("main", 7)
    assert resolve_range(change) == [*pr.feature, pr.merge]


def _dispatch_env(tmp_path: Path, sha: str, branch: str) -> dict[str, str]:
    payload = {"inputs": {"environment": "production"}, "ref": f"refs/heads/{branch}",
               "repository": REPOSITORY, "sender": SENDER, "workflow": ".github/workflows/x.yml"}
    return github_env(tmp_path, "workflow_dispatch", payload, GITHUB_SHA=sha,
                      GITHUB_REF=f"refs/heads/{branch}", GITHUB_REF_NAME=branch,
                      GITHUB_REF_TYPE="branch")


def test_github_workflow_dispatch_on_a_branch(tmp_path: Path, pr: PR) -> None:
    ci = pr.world.checkout("ci", pr.feature[-1])
    change = detect_change(_dispatch_env(tmp_path, pr.feature[-1], "feature"), ci.path)
    assert (change.event, change.ref, change.base) == ("workflow_dispatch", "feature", pr.fork)
    assert resolve_range(change) == pr.feature


def test_github_workflow_dispatch_on_the_default_branch(tmp_path: Path, pr: PR) -> None:
    ci = pr.world.checkout("ci", pr.main[-1])
    change = detect_change(_dispatch_env(tmp_path, pr.main[-1], "main"), ci.path)
    assert change.base is None
    assert resolve_range(change) == pr.main


# -- GitLab ---------------------------------------------------------------------------------------


def _mr_env(pr: PR, **variables: str) -> dict[str, str]:
    return gitlab_env(
        CI_PIPELINE_SOURCE="merge_request_event", CI_MERGE_REQUEST_IID="7",
        CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main",
        CI_MERGE_REQUEST_SOURCE_BRANCH_NAME="feature",
        CI_MERGE_REQUEST_LABELS="compliance, emergency-change",
        CI_COMMIT_REF_NAME="feature", **variables)


def test_gitlab_merge_request_pipeline(pr: PR) -> None:
    pr.world.set_ref("refs/merge-requests/7/head", pr.feature[-1])
    ci = pr.world.checkout("ci", pr.feature[-1], fetch_ref="refs/merge-requests/7/head")
    env = _mr_env(pr, CI_COMMIT_SHA=pr.feature[-1], CI_MERGE_REQUEST_EVENT_TYPE="detached",
                  CI_MERGE_REQUEST_DIFF_BASE_SHA=pr.fork,
                  CI_MERGE_REQUEST_SOURCE_BRANCH_SHA="", CI_MERGE_REQUEST_TARGET_BRANCH_SHA="")
    change = detect_change(env, ci.path)
    assert change.platform == "gitlab" and change.event == "merge_request_event"
    assert (change.head, change.base) == (pr.feature[-1], pr.fork)
    assert (change.number, change.ref, change.source_branch) == (7, "main", "feature")
    assert change.labels == ("compliance", "emergency-change")
    assert change.run_url == "https://gitlab.example.com/acme/payments/-/pipelines/77"
    assert change.server_url == "https://gitlab.example.com"
    assert (change.repository, change.actor) == ("acme/payments", "alice")
    assert resolve_range(change) == pr.feature


def test_gitlab_merged_results_pipeline_gates_the_source_not_the_merge(pr: PR) -> None:
    pr.world.set_ref("refs/merge-requests/7/merge", pr.merge)
    ci = pr.world.checkout("ci", pr.merge, fetch_ref="refs/merge-requests/7/merge")
    env = _mr_env(pr, CI_COMMIT_SHA=pr.merge, CI_MERGE_REQUEST_EVENT_TYPE="merged_result",
                  CI_MERGE_REQUEST_DIFF_BASE_SHA=pr.fork,
                  CI_MERGE_REQUEST_SOURCE_BRANCH_SHA=pr.feature[-1],
                  CI_MERGE_REQUEST_TARGET_BRANCH_SHA=pr.main[-1])
    change = detect_change(env, ci.path)
    assert (change.head, change.base) == (pr.feature[-1], pr.fork)
    assert resolve_range(change) == pr.feature


def test_gitlab_branch_pipeline(pr: PR) -> None:
    dev = pr.world.dev
    dev.checkout("feature")
    added = dev.commits("g", 2)
    dev.push("feature")
    ci = pr.world.checkout("ci", added[-1])
    env = gitlab_env(CI_PIPELINE_SOURCE="push", CI_COMMIT_SHA=added[-1],
                     CI_COMMIT_BEFORE_SHA=pr.feature[-1], CI_COMMIT_BRANCH="feature",
                     CI_COMMIT_REF_NAME="feature")
    change = detect_change(env, ci.path)
    assert (change.base, change.ref, change.event) == (pr.feature[-1], "feature", "push")
    assert resolve_range(change) == added


def test_gitlab_new_branch_pipeline(pr: PR) -> None:
    ci = pr.world.checkout("ci", pr.feature[-1])
    env = gitlab_env(CI_PIPELINE_SOURCE="push", CI_COMMIT_SHA=pr.feature[-1],
                     CI_COMMIT_BEFORE_SHA=ZERO, CI_COMMIT_BRANCH="feature",
                     CI_COMMIT_REF_NAME="feature")
    change = detect_change(env, ci.path)
    assert change.base == pr.fork
    assert resolve_range(change) == pr.feature


def test_gitlab_tag_pipeline(tagged: tuple[World, list[str], str]) -> None:
    w, main, _ = tagged
    ci = w.checkout("ci", main[-1], fetch_ref="refs/tags/v2.0.0")
    env = gitlab_env(CI_PIPELINE_SOURCE="push", CI_COMMIT_SHA=main[-1],
                     CI_COMMIT_BEFORE_SHA=ZERO, CI_COMMIT_TAG="v2.0.0",
                     CI_COMMIT_REF_NAME="v2.0.0")
    change = detect_change(env, ci.path)
    assert (change.ref, change.ref_type, change.base) == ("v2.0.0", "tag", main[1])
    assert resolve_range(change) == main[2:]


# -- local checkouts ------------------------------------------------------------------------------


def test_local_checkout_is_bounded_by_the_remote_default_branch(pr: PR) -> None:
    laptop = pr.world.clone("laptop")
    laptop.checkout("feature")
    change = detect_change({}, laptop.path)
    assert change.platform == "local" and change.event == "local"
    assert (change.head, change.base, change.ref) == (pr.feature[-1], pr.fork, "feature")
    assert resolve_range(change) == pr.feature


def test_local_checkout_falls_back_to_the_upstream(pr: PR) -> None:
    laptop = pr.world.clone("laptop")
    laptop.git("remote", "set-head", "origin", "--delete")
    laptop.checkout("feature")
    local = laptop.commit("unpushed")
    change = detect_change({}, laptop.path)
    assert change.base == pr.feature[-1]
    assert resolve_range(change) == [local]


def test_local_checkout_without_remote_checks_everything(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "solo")
    repo.path.mkdir()
    repo.git("init", "--quiet")
    commits = repo.commits("c", 3)
    change = detect_change({}, repo.path)
    assert change.base is None and change.repository is None
    assert resolve_range(change) == commits
    change = detect_change({}, repo.path, base="HEAD~2", head="HEAD~1")
    assert (change.base, change.head) == (commits[0], commits[1])
    assert resolve_range(change) == [commits[1]]


def test_local_shallow_clone_is_not_fetched_into(pr: PR) -> None:
    laptop = pr.world.clone("laptop", depth=1, branch="main")
    change = Change(platform="local", workdir=laptop.path, head=laptop.rev("HEAD"), base=None)
    with pytest.raises(ChangegateError) as err:
        resolve_range(change)
    assert err.value.rule == "RANGE_INCOMPLETE"
    assert err.value.fix and "git fetch --unshallow" in err.value.fix
    assert laptop.is_shallow()


def test_resolve_range_of_the_whole_history_unshallows_in_ci(pr: PR) -> None:
    ci = pr.world.checkout("ci", pr.main[-1])
    change = Change(platform="github", workdir=ci.path, head=pr.main[-1], base=None)
    assert resolve_range(change) == pr.main
    assert not ci.is_shallow()


# -- ranges that cannot be formed ------------------------------------------------------------


def test_a_base_that_exists_nowhere_is_range_incomplete(tmp_path: Path, pr: PR) -> None:
    ci = pr.world.checkout("ci", pr.merge, fetch_ref="refs/pull/7/merge")
    env = github_env(tmp_path, "pull_request", pr_payload(7, pr.feature[-1], pr.main[-1]))
    with pytest.raises(ChangegateError) as err:
        detect_change(env, ci.path, base="1" * 40)
    assert err.value.rule == "RANGE_INCOMPLETE"
    assert "1" * 40 in err.value.message and "last fetch error" in err.value.message
    assert err.value.fix and "fetch-depth: 0" in err.value.fix


def test_a_pr_whose_target_exists_nowhere_is_range_incomplete(tmp_path: Path, pr: PR) -> None:
    ci = pr.world.checkout("ci", pr.merge, fetch_ref="refs/pull/7/merge")
    env = github_env(tmp_path, "pull_request",
                     pr_payload(7, pr.feature[-1], "2" * 40, base_ref="gone"))
    with pytest.raises(ChangegateError) as err:
        detect_change(env, ci.path)
    assert err.value.rule == "RANGE_INCOMPLETE"
    assert "pull request #7" in err.value.message
    assert err.value.location.commit == pr.feature[-1]


def test_a_head_that_exists_nowhere_is_range_incomplete(tmp_path: Path, pr: PR) -> None:
    ci = pr.world.checkout("ci", pr.merge, fetch_ref="refs/pull/7/merge")
    env = github_env(tmp_path, "pull_request", pr_payload(7, "3" * 40, pr.main[-1]))
    with pytest.raises(ChangegateError) as err:
        detect_change(env, ci.path)
    assert err.value.rule == "RANGE_INCOMPLETE"
    assert "head commit" in err.value.message


def test_a_shallow_clone_that_cannot_be_deepened_is_range_incomplete(tmp_path: Path,
                                                                     pr: PR) -> None:
    ci = pr.world.checkout("ci", pr.main[-1])
    ci.git("fetch", "--quiet", "--depth=1", "origin", pr.main[0])
    ci.git("remote", "remove", "origin")
    env = github_env(tmp_path, "push", push_payload("refs/heads/main", pr.main[0],
                                                    pr.main[-1]))
    with pytest.raises(ChangegateError) as err:
        detect_change(env, ci.path)
    assert err.value.rule == "RANGE_INCOMPLETE"
    assert "no remote" in err.value.message and "shallow" in err.value.message


# -- malformed context ----------------------------------------------------------------------


def test_malformed_event_json(tmp_path: Path, pr: PR) -> None:
    path = tmp_path / "event.json"
    path.write_text('{"pull_request": {"head": \n', encoding="utf-8")
    env = github_env(tmp_path, "pull_request", {}, GITHUB_EVENT_PATH=str(path))
    with pytest.raises(ChangegateError) as err:
        detect_change(env, pr.world.dev.path)
    assert err.value.rule == "CONTEXT_INVALID"
    assert err.value.location.file == str(path) and err.value.location.line == 2


def test_event_missing_the_pr_head(tmp_path: Path, pr: PR) -> None:
    payload = pr_payload(7, pr.feature[-1], pr.main[-1])
    del payload["pull_request"]["head"]["sha"]
    env = github_env(tmp_path, "pull_request", payload)
    with pytest.raises(ChangegateError) as err:
        detect_change(env, pr.world.dev.path)
    assert err.value.rule == "CONTEXT_INVALID"
    assert "pull_request.head.sha" in err.value.message
    assert err.value.location.file == env["GITHUB_EVENT_PATH"]


@pytest.mark.parametrize(("env", "needle"), [
    ({"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push"}, "GITHUB_EVENT_PATH"),
    ({"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push",
      "GITHUB_EVENT_PATH": "/nonexistent/event.json"}, "cannot read"),
    ({"GITLAB_CI": "true"}, "CI_COMMIT_SHA"),
    ({"GITLAB_CI": "true", "CI_COMMIT_SHA": "main"}, "not a commit SHA"),
    ({"GITLAB_CI": "true", "CI_COMMIT_SHA": "a" * 40,
      "CI_PIPELINE_SOURCE": "merge_request_event"}, "CI_MERGE_REQUEST_IID"),
    ({"GITLAB_CI": "true", "CI_COMMIT_SHA": "a" * 40, "CI_MERGE_REQUEST_IID": "seven",
      "CI_PIPELINE_SOURCE": "merge_request_event"}, "not a number"),
    ({"GITLAB_CI": "true", "CI_COMMIT_SHA": "a" * 40, "CI_COMMIT_BRANCH": "main",
      "CI_COMMIT_BEFORE_SHA": "HEAD~1"}, "CI_COMMIT_BEFORE_SHA"),
])
def test_missing_or_malformed_ci_variables(pr: PR, env: dict[str, str], needle: str) -> None:
    with pytest.raises(ChangegateError) as err:
        detect_change(env, pr.world.dev.path)
    assert err.value.rule == "CONTEXT_INVALID"
    assert needle in err.value.message


def test_event_payload_with_a_non_sha(tmp_path: Path, pr: PR) -> None:
    env = github_env(tmp_path, "push", push_payload("refs/heads/main", "--upload-pack=x",
                                                    pr.main[-1]))
    with pytest.raises(ChangegateError) as err:
        detect_change(env, pr.world.dev.path)
    assert err.value.rule == "CONTEXT_INVALID" and "`before`" in err.value.message


def test_a_local_revision_that_names_nothing(pr: PR) -> None:
    with pytest.raises(ChangegateError) as err:
        detect_change({}, pr.world.dev.path, base="no-such-branch")
    assert err.value.rule == "CONTEXT_INVALID"


@pytest.mark.parametrize(("url", "expected"), [
    ("https://github.com/acme/payments.git", "acme/payments"),
    ("https://x-access-token@github.com/acme/payments", "acme/payments"),
    ("git@github.com:acme/payments.git", "acme/payments"),
    ("ssh://git@gitlab.example.com:2222/group/sub/payments.git", "group/sub/payments"),
    ("file:///srv/git/payments.git", None),
    ("/srv/git/payments.git", None),
    (None, None),
])
def test_repository_from_remote_url(url: str | None, expected: str | None) -> None:
    assert context._repository_from_url(url) == expected
