"""Where am I? Turn GitHub Actions, GitLab CI or a local checkout into one `Change`.

Gates never read CI variables: this module does, once, and hands them a `Change` (what is being
gated) and, through `resolve_range`, the exact list of commits in it. Getting that list right is a
compliance property, not a convenience: a range that silently lost commits would let unsigned or
unreviewed code through. So the rules here are:

- The head is always the real tip of the change: for a GitHub pull request the PR head
  (`pull_request.head.sha`), never the synthetic merge commit GitHub checks out; for a GitLab
  merged-results pipeline `CI_MERGE_REQUEST_SOURCE_BRANCH_SHA`, never the merge ref.
- The base is the exclusive lower bound: the merge-base with the target for a PR/MR, the
  previous tip for a push (or the merge-base with it after a force push).
- CI clones are usually shallow. A shallow clone shows its cut-off commits as parentless, so
  `git rev-list base..head` would just return fewer commits. Before a range is accepted, none of
  its commits may be a shallow boundary; otherwise the clone is deepened (`git fetch --deepen`,
  then `--unshallow`) and everything is recomputed. Commits the clone lacks (the PR head, the
  push's `before`, the target branch) are fetched by SHA from `origin`.
- When the range still cannot be formed, `ChangegateError(rule="RANGE_INCOMPLETE")` ends the gate
  as inconclusive (exit 2). Every fallback below widens the range, never narrows it.
- A local checkout is never fetched into: a developer's clone is theirs. If it lacks history the
  error says which `git fetch` to run.

How each event is bounded (`base`), in order of preference; a rule that does not apply (its
commit is unknown everywhere, or it shares no history with the head) falls through to the next:

GitHub pull_request, pull_request_target, pull_request_review(_comment)
    head = pull_request.head.sha (fetched by SHA, else via `refs/pull/N/head`: with
    pull_request_target the checkout is the base branch and never contains the PR's commits;
    they are fetched into the object store only, never checked out).
    base = merge-base(pull_request.base.sha, head), else merge-base(origin/<base.ref>, head).
    If neither target commit can be found anywhere: RANGE_INCOMPLETE.
GitHub push (branch)
    base = merge-base(before, after): `before` itself for a fast-forward, the fork point after a
    force push (the `forced` flag is not trusted or needed). If `before` is all zeros (a new
    branch) or exists nowhere any more: the new-branch rule (below).
GitHub push (tag), release
    base = the nearest tag reachable from the head's first parent ("what this release adds
    since the previous one"); a moved tag's `before` takes precedence; with no earlier tag, the
    whole history of the head. Tags are fetched (and a shallow clone unshallowed) as needed.
GitHub push deleting a ref (`after` all zeros)
    A `Change` with head = base = `before`: there are no commits to gate.
GitHub merge_group
    head = merge_group.head_sha; base = merge-base(merge_group.base_sha, head), else
    merge-base with origin/<base branch>. `number` is the PR named in the queue branch
    (`gh-readonly-queue/<base>/pr-<N>-<sha>`), i.e. the last PR of the group.
GitHub workflow_dispatch and any other event
    head = GITHUB_SHA, ref = GITHUB_REF_NAME; a branch uses the new-branch rule, a tag the
    tag rule.
GitLab merge request pipelines (detached, merged results, merge trains)
    head = CI_MERGE_REQUEST_SOURCE_BRANCH_SHA if set (merged results: CI_COMMIT_SHA is the
    synthetic merge), else CI_COMMIT_SHA; base = merge-base(CI_MERGE_REQUEST_TARGET_BRANCH_SHA
    or CI_MERGE_REQUEST_DIFF_BASE_SHA, head), else merge-base with origin/<target branch>.
GitLab branch pipelines
    As a GitHub push with before = CI_COMMIT_BEFORE_SHA (all zeros for new branches and for
    web/schedule/API pipelines) and the default branch CI_DEFAULT_BRANCH.
GitLab tag pipelines (CI_COMMIT_TAG)
    The tag rule.
Local checkout
    head = HEAD (or `--head`); base = merge-base with origin/HEAD (the remote's default
    branch), else with the branch's upstream, else none (the whole history).

The new-branch rule: merge-base with origin/<default branch> when the pushed branch is not the
default branch. When the default branch is unknown: the newest commit bounding the commits
that no other branch on origin contains (`rev-list head --not --remotes=origin`, minus this
branch). When the pushed branch *is* the default branch (a first push, or a force push whose old
tip is gone), nothing trustworthy bounds it and the whole history is in range.

Explicit `--base`/`--head` override the detected ones; `base` is then used as given (git's
`base..head`: every commit reachable from head and not from base).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from changegate.change import Change, Platform, RefType
from changegate.errors import ChangegateError
from changegate.git import Git, is_sha, is_zero_sha
from changegate.result import Location

CONTEXT_INVALID: Final = "CONTEXT_INVALID"
RANGE_INCOMPLETE: Final = "RANGE_INCOMPLETE"

# How far a shallow clone is deepened before giving up and fetching everything: most pull
# requests are bounded within the first step, so a big repository rarely pays for a full fetch.
DEEPEN_STEPS: tuple[int, ...] = (50, 1000)

GITHUB_PR_EVENTS: Final = frozenset({
    "pull_request", "pull_request_target", "pull_request_review", "pull_request_review_comment",
})

_MERGE_QUEUE_PR = re.compile(r"/pr-(\d+)-[0-9a-f]+$")

_FIX = {
    "github": "Check out the full history (actions/checkout with `fetch-depth: 0`), or let the "
              "job fetch from origin (keep actions/checkout's `persist-credentials` enabled), "
              "or pass --base/--head explicitly.",
    "gitlab": "Clone the full history for this job (variables: `GIT_DEPTH: 0`) and let the job "
              "fetch from origin, or pass --base/--head explicitly.",
    "local": "changegate does not fetch into a local checkout: fetch the missing history "
             "yourself (`git fetch --unshallow origin`, `git fetch origin <sha>`) or pass "
             "--base/--head explicitly.",
}


class _More:
    """Marker: the answer depends on history the shallow clone does not have yet."""


_MORE: Final = _More()


@dataclass(frozen=True)
class _Plan:
    """How to find one change's range; the platform readers fill it, `_Resolver` runs it.

    The base rules are tried in field order (`base`, `previous`, `target`, `target_branch`,
    `previous_tag`, `bound_by_remotes`, then the whole history).
    """

    head: str
    what: str
    base: str | None = None  # explicit --base, used as given
    previous: str | None = None  # push `before`: base = merge-base(previous, head)
    target: str | None = None  # a target commit: base = merge-base(target, head)
    target_branch: str | None = None  # a branch on origin: base = merge-base(its tip, head)
    previous_tag: bool = False  # tags: base = nearest tag below the head
    bound_by_remotes: bool = False  # bound by every other branch on origin
    this_branch: str | None = None  # excluded from bound_by_remotes
    require_bound: bool = False  # PR/MR: no target anywhere is an error, not whole history
    head_refs: tuple[str, ...] = ()  # refs to fetch if the head SHA cannot be fetched directly
    fetch: bool = True  # may fetch from origin (never in a local checkout)
    deleted: bool = False  # a deleted ref: head = base, no commits


# -- public API -------------------------------------------------------------------------------


def detect_change(environ: Mapping[str, str], workdir: Path, *, base: str | None = None,
                  head: str | None = None, git: Git | None = None) -> Change:
    """Build the `Change` for this run: GitHub Actions, GitLab CI or a local checkout.

    `environ` is the process environment (passed in so tests and callers control it);
    `base`/`head` are the CLI's `--base/--head` and override what the CI event says. The range
    is resolved here (fetching and deepening as needed), so the returned `base` is final;
    `resolve_range` then lists its commits cheaply. `git` is injectable for tests (and for
    callers that already hold one); by default one is made for `workdir`.
    """
    git = git or Git(workdir)
    if environ.get("GITHUB_ACTIONS") == "true":
        change, plan = _github(environ, Path(workdir))
    elif environ.get("GITLAB_CI") == "true":
        change, plan = _gitlab(environ, Path(workdir))
    else:
        change, plan = _local(git, Path(workdir), head)
    if head is not None:
        plan = replace(plan, head=head, head_refs=(), deleted=False,
                       what=f"{plan.what} with --head {head}")
    if base is not None:
        plan = replace(plan, base=base)
    if plan.deleted:
        return replace(change, head=plan.head, base=plan.head)
    resolver = _Resolver(git, plan, change.platform)
    head_sha, base_sha, _ = resolver.resolve()
    return replace(change, head=head_sha, base=base_sha)


def resolve_range(change: Change, git: Git | None = None) -> list[str]:
    """The SHAs of every commit in `change.base..change.head`, oldest first.

    Complete or not at all: a shallow clone is deepened until no commit of the range sits on a
    shallow boundary, and `RANGE_INCOMPLETE` is raised if that cannot be done. `base` None
    means the whole history of the head.
    """
    if change.base is not None and change.base == change.head:
        return []
    git = git or Git(change.workdir)
    plan = _Plan(head=change.head, what=f"{change.base or 'root'}..{change.head}",
                 base=change.base, fetch=change.platform != "local")
    _, _, commits = _Resolver(git, plan, change.platform).resolve()
    return commits


# -- range resolution -------------------------------------------------------------------------


class _Resolver:
    """Runs a `_Plan` against a clone, deepening it until the range is provably complete.

    The loop is: find the base, list base..head, and accept the list only if none of its
    commits is a shallow boundary. A negative answer from a shallow clone ("not an ancestor",
    "no merge-base", "no earlier tag") only means "not in what we have", so it asks for more
    history instead of falling through to a weaker rule.
    """

    def __init__(self, git: Git, plan: _Plan, platform: Platform) -> None:
        self.git = git
        self.plan = plan
        self.platform = platform
        self._steps: list[int | None] = [*DEEPEN_STEPS, None]  # None: --unshallow
        self._shallow: frozenset[str] | None = None
        self._commits: dict[str, str | None] = {}
        self._tried_fetch: set[str] = set()
        self._need_tags = False
        self._fetched_tags = False
        self._fetched_branches = False
        self._can_fetch: bool | None = None
        self._errors: list[str] = []

    # -- the loop --

    def resolve(self) -> tuple[str, str | None, list[str]]:
        plan = self.plan
        # One round trip for everything the event names (head, before, target) that is missing.
        named = [plan.head]
        if plan.base is None:
            named += [c for c in (plan.previous, plan.target) if c and c != plan.head]
        head = self._obtain(named, plan.head_refs)[plan.head]
        if head is None:
            raise self._missing(self.plan.head, "head")
        while True:
            base = self._base(head)
            if not isinstance(base, _More):
                commits = self._range(base, head)
                if commits is not None:
                    return head, base, commits
            if not self._deepen(head):
                raise self._incomplete(head)

    def _range(self, base: str | None, head: str) -> list[str] | None:
        commits = self.git.rev_list([head] if base is None else [head, "--not", base])
        if self._shallow_set().intersection(commits):
            return None
        return commits

    # -- base rules --

    def _base(self, head: str) -> str | _More | None:
        plan = self.plan
        if plan.base is not None:
            sha = self._obtain([plan.base])[plan.base]
            if sha is None:
                raise self._missing(plan.base, "base")
            return sha
        bounded = False
        for candidate in (plan.previous, plan.target):
            if candidate is None:
                continue
            sha = self._obtain([candidate])[candidate]
            if sha is not None:
                bounded = True
                found = self._merge_base(sha, head)
                if found is not None:
                    return found
        if plan.target_branch is not None:
            sha = self._remote_branch(plan.target_branch)
            if sha is not None:
                bounded = True
                found = self._merge_base(sha, head)
                if found is not None:
                    return found
        if plan.require_bound and not bounded:
            raise self._unbounded(head)
        if plan.previous_tag:
            found = self._previous_tag(head)
            if found is not None:
                return found
        if plan.bound_by_remotes:
            found = self._other_branches_bound(head)
            if found is not None:
                return found
        return None

    def _merge_base(self, a: str, b: str) -> str | _More | None:
        found = self.git.merge_base(a, b)
        if found:
            return found
        return _MORE if self._shallow_set() else None

    def _remote_branch(self, name: str) -> str | None:
        ref = f"refs/remotes/{self.git.remote}/{name}"
        sha = self.git.rev_parse(ref)
        if sha is None and ref not in self._tried_fetch and self._fetch_allowed():
            self._tried_fetch.add(ref)
            depth = 1 if self._shallow_set() else None
            if self._fetch([f"+refs/heads/{name}:{ref}"], depth=depth):
                sha = self.git.rev_parse(ref)
        return sha

    def _previous_tag(self, head: str) -> str | _More | None:
        parents = self.git.parents(head)
        if not parents:
            return _MORE if head in self._shallow_set() else None
        tag = self.git.describe_tag(parents[0])
        if tag is not None:
            return self.git.rev_parse(f"refs/tags/{tag}")
        if self._fetch_allowed() and not self._fetched_tags:
            if self._shallow_set():
                self._need_tags = True
                return _MORE
            self._fetched_tags = True
            if self._fetch([], tags=True):
                return self._previous_tag(head)
        return _MORE if self._shallow_set() else None

    def _other_branches_bound(self, head: str) -> str | _More | None:
        if self._shallow_set():
            return _MORE
        remote = self.git.remote
        if self._fetch_allowed() and not self._fetched_branches:
            self._fetched_branches = True
            self._fetch([f"+refs/heads/*:refs/remotes/{remote}/*"])
        excludes = [f"--exclude={remote}/HEAD"]
        if self.plan.this_branch:
            excludes.append(f"--exclude={remote}/{self.plan.this_branch}")
        listed = self.git.rev_list(["--boundary", head, "--not", *excludes,
                                    f"--remotes={remote}"], oldest_first=False)
        boundary = [line[1:] for line in listed if line.startswith("-")]
        if len(boundary) <= 1:
            return boundary[0] if boundary else None
        # Any boundary commit bounds a superset of the exclusive commits; the newest gives
        # the smallest such superset in the common case of one fork point plus merges.
        return self.git.rev_list(["--no-walk", *boundary], oldest_first=False)[0]

    # -- getting history --

    def _obtain(self, revs: Sequence[str], extra_refs: Sequence[str] = ()
                ) -> dict[str, str | None]:
        """Commit SHAs for `revs`, fetching missing full SHAs from origin in one round trip.

        `extra_refs` (e.g. `refs/pull/N/head`) are fetched when `revs[0]`, the head, is still
        missing: some servers refuse fetching a commit by SHA that only such a ref reaches.
        """
        for rev in revs:
            if rev not in self._commits:
                self._commits[rev] = self.git.rev_parse(rev)
        wanted = [r for r in revs if self._commits[r] is None and is_sha(r)
                  and r not in self._tried_fetch]
        if wanted and self._fetch_allowed():
            self._tried_fetch.update(wanted)
            depth = 1 if self._shallow_set() else None
            if not self._fetch(wanted, depth=depth) and len(wanted) > 1:
                for rev in wanted:
                    self._fetch([rev], depth=depth)
            for rev in wanted:
                self._commits[rev] = self.git.rev_parse(rev)
            if extra_refs and self._commits[revs[0]] is None:
                self._fetch(extra_refs, depth=depth)
                for rev in wanted:
                    self._commits[rev] = self.git.rev_parse(rev)
        return {rev: self._commits[rev] for rev in revs}

    def _deepen(self, head: str) -> bool:
        """Fetch more history; False when there is nothing more to get (or it failed)."""
        if not self._fetch_allowed():
            return False
        if self._need_tags and not self._fetched_tags:
            self._fetched_tags = True
            self._steps.clear()
            return self._fetch([head], unshallow=True, tags=True)
        if not self._shallow_set():
            return False
        if not self._steps:
            return False
        step = self._steps.pop(0)
        if step is None:
            return self._fetch([head], unshallow=True)
        return self._fetch([head], deepen=step)

    def _fetch(self, refspecs: Sequence[str], *, depth: int | None = None,
               deepen: int | None = None, unshallow: bool = False, tags: bool = False) -> bool:
        self._shallow = None
        try:
            self.git.fetch(refspecs, depth=depth, deepen=deepen, unshallow=unshallow, tags=tags)
        except ChangegateError as exc:
            self._errors.append(exc.message)
            return False
        finally:
            self._shallow = None
        # Commits that were missing may have arrived with deeper history: look again.
        self._commits = {rev: sha for rev, sha in self._commits.items() if sha is not None}
        return True

    def _fetch_allowed(self) -> bool:
        if self._can_fetch is None:
            self._can_fetch = self.plan.fetch and self.git.remote_url() is not None
        return self._can_fetch

    def _shallow_set(self) -> frozenset[str]:
        if self._shallow is None:
            self._shallow = self.git.shallow_commits()
        return self._shallow

    # -- errors --

    def _why(self) -> str:
        if not self.plan.fetch:
            return ""
        if self._can_fetch is False:
            return f" (there is no remote {self.git.remote!r} to fetch from)"
        if self._errors:
            return f" (last fetch error: {self._errors[-1]})"
        return ""

    def _missing(self, rev: str, role: str) -> ChangegateError:
        if not is_sha(rev):
            return ChangegateError(
                CONTEXT_INVALID, f"the {role} {rev!r} ({self.plan.what}) names no commit in "
                "this clone", Location(), fix="Pass a commit SHA, branch or tag that exists here.")
        return ChangegateError(
            RANGE_INCOMPLETE,
            f"cannot form the commit range for {self.plan.what}: the {role} commit {rev} is not "
            f"in this clone and could not be fetched{self._why()}",
            Location(commit=rev if is_sha(rev) else None), fix=_FIX[self.platform])

    def _unbounded(self, head: str) -> ChangegateError:
        targets = ", ".join(t for t in (self.plan.previous, self.plan.target,
                                        self.plan.target_branch and
                                        f"origin/{self.plan.target_branch}") if t)
        return ChangegateError(
            RANGE_INCOMPLETE,
            f"cannot form the commit range for {self.plan.what}: none of its target commits "
            f"({targets}) is in this clone or could be fetched{self._why()}",
            Location(commit=head), fix=_FIX[self.platform])

    def _incomplete(self, head: str) -> ChangegateError:
        return ChangegateError(
            RANGE_INCOMPLETE,
            f"cannot form the commit range for {self.plan.what}: the clone is shallow and the "
            f"missing history could not be fetched{self._why()}; refusing to check fewer "
            "commits than the change contains",
            Location(commit=head), fix=_FIX[self.platform])


# -- GitHub Actions ---------------------------------------------------------------------------


class _Payload:
    """A JSON event payload with dotted-path accessors that fail as CONTEXT_INVALID."""

    def __init__(self, data: Mapping[str, object], source: str) -> None:
        self.data = data
        self.source = source

    def get(self, dotted: str) -> object:
        node: object = self.data
        for key in dotted.split("."):
            if not isinstance(node, Mapping) or key not in node:
                return None
            node = node[key]
        return node

    def _invalid(self, dotted: str, what: str) -> ChangegateError:
        return ChangegateError(
            CONTEXT_INVALID, f"`{dotted}` in the event payload is {what}",
            Location(file=self.source),
            fix="Run changegate on a supported event, or pass --base/--head explicitly.")

    def text(self, dotted: str) -> str:
        value = self.get(dotted)
        if not isinstance(value, str) or not value:
            raise self._invalid(dotted, "missing or not a string")
        return value

    def opt_text(self, dotted: str) -> str | None:
        value = self.get(dotted)
        return value if isinstance(value, str) and value else None

    def sha(self, dotted: str) -> str:
        value = self.text(dotted)
        if not is_sha(value):
            raise self._invalid(dotted, f"not a commit SHA: {value!r}")
        return value

    def integer(self, dotted: str) -> int:
        value = self.get(dotted)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._invalid(dotted, "missing or not an integer")
        return value


def _env(environ: Mapping[str, str], name: str, *, sha: bool = False) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ChangegateError(
            CONTEXT_INVALID, f"the CI variable {name} is not set",
            fix="Run changegate in the CI job itself (the variable is set by the runner), or "
                "pass --base/--head explicitly.")
    if sha and not is_sha(value):
        raise ChangegateError(CONTEXT_INVALID,
                              f"the CI variable {name} is not a commit SHA: {value!r}")
    return value


def _opt_env_sha(environ: Mapping[str, str], name: str) -> str | None:
    """An optional SHA variable: empty or all zeros mean "none"; anything else must be a SHA."""
    value = environ.get(name, "").strip()
    if not value or is_zero_sha(value):
        return None
    if not is_sha(value):
        raise ChangegateError(CONTEXT_INVALID,
                              f"the CI variable {name} is not a commit SHA: {value!r}")
    return value


def _load_event(environ: Mapping[str, str]) -> _Payload:
    path = _env(environ, "GITHUB_EVENT_PATH")
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ChangegateError(CONTEXT_INVALID, f"cannot read the GitHub event payload: {exc}",
                              Location(file=path)) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise ChangegateError(CONTEXT_INVALID, f"the GitHub event payload is not valid JSON: "
                              f"{exc}", Location(file=path, line=line)) from exc
    if not isinstance(data, dict):
        raise ChangegateError(CONTEXT_INVALID, "the GitHub event payload is not a JSON object",
                              Location(file=path))
    return _Payload(data, path)


def _split_ref(ref: str) -> tuple[str, RefType]:
    if ref.startswith("refs/tags/"):
        return ref[len("refs/tags/"):], "tag"
    if ref.startswith("refs/heads/"):
        return ref[len("refs/heads/"):], "branch"
    return ref, "branch"


def _branch_plan(head: str, what: str, previous: str | None, branch: str | None,
                 default: str | None) -> _Plan:
    """A push to a branch: `previous`, then the new-branch rule (see the module docstring)."""
    if default and branch != default:
        return _Plan(head=head, what=what, previous=previous, target_branch=default,
                     this_branch=branch)
    return _Plan(head=head, what=what, previous=previous, bound_by_remotes=not default,
                 this_branch=branch)


def _github(environ: Mapping[str, str], workdir: Path) -> tuple[Change, _Plan]:
    event_name = _env(environ, "GITHUB_EVENT_NAME")
    event = _load_event(environ)
    repository = environ.get("GITHUB_REPOSITORY") or event.opt_text("repository.full_name")
    server = environ.get("GITHUB_SERVER_URL") or "https://github.com"
    run_id = environ.get("GITHUB_RUN_ID")
    default = event.opt_text("repository.default_branch")
    change = Change(
        platform="github", workdir=workdir, head="", base=None, event=event_name,
        repository=repository, actor=environ.get("GITHUB_ACTOR") or event.opt_text("sender.login"),
        server_url=server,
        run_url=f"{server}/{repository}/actions/runs/{run_id}" if repository and run_id else None,
    )

    if event_name in GITHUB_PR_EVENTS:
        number = event.integer("pull_request.number")
        target_ref = event.text("pull_request.base.ref")
        labels = event.get("pull_request.labels")
        names = tuple(str(label["name"]) for label in labels
                      if isinstance(label, Mapping) and isinstance(label.get("name"), str)
                      ) if isinstance(labels, list) else ()
        plan = _Plan(head=event.sha("pull_request.head.sha"), what=f"pull request #{number}",
                     target=event.sha("pull_request.base.sha"), target_branch=target_ref,
                     require_bound=True, head_refs=(f"refs/pull/{number}/head",))
        return replace(change, ref=target_ref, number=number, labels=names,
                       source_branch=event.opt_text("pull_request.head.ref")), plan

    if event_name == "push":
        ref, ref_type = _split_ref(event.text("ref"))
        before, after = event.sha("before"), event.sha("after")
        change = replace(change, ref=ref, ref_type=ref_type)
        what = f"push to {ref}"
        if is_zero_sha(after):
            return change, _Plan(head=before, what=what, deleted=True)
        previous = None if is_zero_sha(before) else before
        if ref_type == "tag":
            return change, _Plan(head=after, what=what, previous=previous, previous_tag=True)
        return change, _branch_plan(after, what, previous, ref, default)

    if event_name == "merge_group":
        base_ref, _ = _split_ref(event.text("merge_group.base_ref"))
        match = _MERGE_QUEUE_PR.search(event.opt_text("merge_group.head_ref") or "")
        plan = _Plan(head=event.sha("merge_group.head_sha"), what=f"merge group into {base_ref}",
                     previous=event.sha("merge_group.base_sha"), target_branch=base_ref,
                     require_bound=True)
        return replace(change, ref=base_ref,
                       number=int(match.group(1)) if match else None), plan

    if event_name == "release":
        tag = event.opt_text("release.tag_name") or _env(environ, "GITHUB_REF_NAME")
        return replace(change, ref=tag, ref_type="tag"), _Plan(
            head=_env(environ, "GITHUB_SHA", sha=True), what=f"release {tag}",
            previous_tag=True)

    # workflow_dispatch, schedule, repository_dispatch, ...: the checked-out ref.
    ref_name = _env(environ, "GITHUB_REF_NAME")
    kind: RefType = "tag" if environ.get("GITHUB_REF_TYPE") == "tag" else "branch"
    change = replace(change, ref=ref_name, ref_type=kind)
    head = _env(environ, "GITHUB_SHA", sha=True)
    what = f"{event_name} on {ref_name}"
    if kind == "tag":
        return change, _Plan(head=head, what=what, previous_tag=True)
    return change, _branch_plan(head, what, None, ref_name, default)


# -- GitLab CI --------------------------------------------------------------------------------


def _gitlab(environ: Mapping[str, str], workdir: Path) -> tuple[Change, _Plan]:
    commit = _env(environ, "CI_COMMIT_SHA", sha=True)
    source = environ.get("CI_PIPELINE_SOURCE") or "push"
    change = Change(
        platform="gitlab", workdir=workdir, head="", base=None, event=source,
        repository=environ.get("CI_PROJECT_PATH") or None,
        actor=environ.get("GITLAB_USER_LOGIN") or None,
        server_url=environ.get("CI_SERVER_URL") or None,
        run_url=environ.get("CI_PIPELINE_URL") or None,
    )

    if source == "merge_request_event" or environ.get("CI_MERGE_REQUEST_IID"):
        iid_text = _env(environ, "CI_MERGE_REQUEST_IID")
        if not iid_text.isdigit():
            raise ChangegateError(
                CONTEXT_INVALID, f"the CI variable CI_MERGE_REQUEST_IID is not a number: "
                f"{iid_text!r}")
        iid = int(iid_text)
        target_branch = _env(environ, "CI_MERGE_REQUEST_TARGET_BRANCH_NAME")
        labels = tuple(label.strip() for label in
                       environ.get("CI_MERGE_REQUEST_LABELS", "").split(",") if label.strip())
        plan = _Plan(
            head=_opt_env_sha(environ, "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA") or commit,
            what=f"merge request !{iid}",
            target=(_opt_env_sha(environ, "CI_MERGE_REQUEST_TARGET_BRANCH_SHA")
                    or _opt_env_sha(environ, "CI_MERGE_REQUEST_DIFF_BASE_SHA")),
            target_branch=target_branch, require_bound=True,
            head_refs=(f"refs/merge-requests/{iid}/head",))
        return replace(change, ref=target_branch, number=iid, labels=labels,
                       source_branch=environ.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME") or None
                       ), plan

    previous = _opt_env_sha(environ, "CI_COMMIT_BEFORE_SHA")
    tag = environ.get("CI_COMMIT_TAG")
    if tag:
        return replace(change, ref=tag, ref_type="tag"), _Plan(
            head=commit, what=f"tag {tag}", previous=previous, previous_tag=True)
    branch = environ.get("CI_COMMIT_BRANCH") or _env(environ, "CI_COMMIT_REF_NAME")
    default = environ.get("CI_DEFAULT_BRANCH") or None
    return replace(change, ref=branch), _branch_plan(
        commit, f"{source} pipeline on {branch}", previous, branch, default)


# -- local checkout ---------------------------------------------------------------------------


def _repository_from_url(url: str | None) -> str | None:
    """`owner/name` from a remote URL (https, ssh or scp-like); None for local paths."""
    if not url:
        return None
    match = re.match(r"^(?:[a-z][a-z0-9+.-]*://(?:[^@/]+@)?[^/]+/|[^@/:]+@[^:/]+:)(.+?)"
                     r"(?:\.git)?/?$", url)
    if not match or url.startswith("file://"):
        return None
    return match.group(1)


def _local(git: Git, workdir: Path, head: str | None) -> tuple[Change, _Plan]:
    branch = git.current_branch()
    target = git.rev_parse(f"refs/remotes/{git.remote}/HEAD")
    if target is None and branch is not None:
        upstream = git.run(["for-each-ref", "--format=%(upstream)", f"refs/heads/{branch}"])
        upstream_ref = upstream.stdout.decode("utf-8", "replace").strip()
        target = git.rev_parse(upstream_ref) if upstream_ref else None
    change = Change(platform="local", workdir=workdir, head="", base=None, event="local",
                    repository=_repository_from_url(git.remote_url()), ref=branch)
    rev = head or "HEAD"
    return change, _Plan(head=rev, what=f"local {rev}", target=target, fetch=False)
