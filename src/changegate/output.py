"""Choosing renderers for a run: terminal, JSON, and whatever the CI system reads.

This is the one place that looks at which CI we are in to decide outputs; gates never do.
On GitHub Actions the results become annotations, a job summary and step outputs; on GitLab CI
they become report artifacts (codequality, JUnit, dotenv, annotations) for the merge request
widgets.

Publishing to the forge comes on top (`publish`): GitHub check runs with every finding as an
annotation, and the one summary comment on the pull/merge request. Publishing is best effort
and never changes the exit code: the verdict is the gate's, decided before anything is
published, and a forge that refuses a comment must neither fail a passing change nor let a
failing one through. A failed publish is a warning (an annotation on GitHub, a line on stderr
elsewhere), and whatever is published carries the gate's real status, so no channel ever
shows success for a failing gate.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote

from changegate import __version__

if TYPE_CHECKING:
    from changegate.change import Change
    from changegate.commands import RunContext
    from changegate.forges.base import ForgeSettings
    from changegate.report.checks import PublishedCheckRun
    from changegate.report.comment import GateLine, PublishedComment
    from changegate.result import GateResult, Location

GITLAB_DEFAULTS = {
    "codequality": "gl-code-quality-report.json",
    "junit": "changegate-junit.xml",
    "dotenv": "changegate.env",
    "annotations": "gl-annotations.json",
}

# Publishing must not hold a job for long: shorter than the gates' own API timeouts.
PUBLISH_TIMEOUT = 15.0
PUBLISH_MAX_RATE_WAIT = 30.0

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def render_all(results: list[GateResult], args: argparse.Namespace, run: RunContext) -> None:
    from changegate.report import jsonout

    extra = _extra(run)
    document = jsonout.document(results, extra=extra, aggregate=args.command == "check")
    text = jsonout.dumps(document)
    if args.json_file:
        Path(args.json_file).write_text(text + "\n", encoding="utf-8")
    environ = run.environ
    on_github = environ.get("GITHUB_ACTIONS") == "true"
    on_gitlab = environ.get("GITLAB_CI") == "true"
    if not args.quiet and not on_github:
        # On GitHub the reporter prints the same text inside `::stop-commands::`, because the
        # runner reads workflow commands from stderr too and commit messages are untrusted.
        from changegate.report.terminal import render_terminal

        render_terminal(results, sys.stderr, color=sys.stderr.isatty())
    publication = publish(results, args, run, on_github=on_github)
    stream = sys.stderr if args.json else sys.stdout
    if on_github:
        _github(results, environ, stream=stream, publication=publication)
    else:
        publication.print_notes(sys.stderr)
    if args.json:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    _gitlab(results, args, run, on_gitlab, publication)
    if args.summary:
        from changegate.report.markdown import summary_markdown

        Path(args.summary).write_text(summary_markdown(results), encoding="utf-8")
    if args.sarif:
        from changegate.report.sarif import write_sarif

        write_sarif(results, Path(args.sarif), tool_version=__version__,
                    default_path=_policy_path(run))


def _extra(run: RunContext) -> dict[str, object]:
    """Context every JSON result carries: which policy decided, for which change."""
    extra: dict[str, object] = {"version": __version__}
    if run.evidence is not None:
        extra["evidence"] = run.evidence
    policy = run._cache.get("policy")
    if policy is not None:
        extra["policy"] = {"path": policy.source, "sha256": policy.sha256,
                           "revision": policy.revision}
    change = run._cache.get("change")
    if change is not None:
        extra["change"] = {"platform": change.platform, "event": change.event,
                           "repository": change.repository, "ref": change.ref,
                           "base": change.base, "head": change.head, "number": change.number}
    return extra


def _github(results: list[GateResult], env: Mapping[str, str], stream: TextIO,
            publication: Publication) -> None:
    from changegate.report.github import Annotation, GitHubReporter

    summary = env.get("GITHUB_STEP_SUMMARY")
    output = env.get("GITHUB_OUTPUT")
    reporter = GitHubReporter(stream,
                              step_summary=Path(summary) if summary else None,
                              output=Path(output) if output else None)
    notes = [Annotation(command=level, message=text, title="changegate")
             for level, text in publication.notes if level in ("warning", "notice")]
    publication.print_notes(sys.stderr, levels=("info",))
    # With every finding on a check run, workflow commands would only repeat the first ten.
    reporter.publish(results, annotate=not publication.checks_complete, notes=notes)


def _gitlab(results: list[GateResult], args: argparse.Namespace, run: RunContext,
            on_gitlab: bool, publication: Publication) -> None:
    from changegate.report import gitlab

    default_path = _policy_path(run)
    # Paths given on the command line are relative to the current directory, like every CLI;
    # the GitLab defaults go to the checked repository (-C), where the job's artifacts are.
    def where(key: str) -> Path | None:
        given = getattr(args, key, None)
        if given:
            return Path(given)
        return run.workdir / GITLAB_DEFAULTS[key] if on_gitlab else None

    if (path := where("codequality")) is not None:
        gitlab.write_codequality(results, path, default_path=default_path)
    if (path := where("junit")) is not None:
        gitlab.write_junit(results, path)
    if (path := where("dotenv")) is not None:
        gitlab.write_dotenv(results, path)
    if (path := where("annotations")) is not None:
        _gitlab_annotations(results, args, run, publication, path)


def _policy_path(run: RunContext) -> str:
    """Where findings without a file are anchored (GitLab and SARIF need a path)."""
    policy = run._cache.get("policy")
    return policy.source if policy is not None else ".changegate.yml"


# --- publishing to the forge ------------------------------------------------------------------


@dataclass
class Publication:
    """What publishing did, and what to tell the developer about it."""

    check_runs: list[PublishedCheckRun] = field(default_factory=list)
    checks_complete: bool = False  # every gate's check run carries every annotation
    comment: PublishedComment | None = None
    lines: list[GateLine] | None = None  # the gate lines the comment showed
    notes: list[tuple[str, str]] = field(default_factory=list)  # (warning|notice|info, text)

    def note(self, level: str, text: str) -> None:
        self.notes.append((level, text))

    def print_notes(self, stream: TextIO,
                    levels: tuple[str, ...] = ("warning", "notice", "info")) -> None:
        """Print notes as plain lines; escaped so no line can be read as a workflow command."""
        from changegate.report.escape import escape_data

        for level, text in self.notes:
            if level in levels:
                word = "" if level == "info" else f"{level}: "
                stream.write(f"changegate: {word}{escape_data(text)}\n")
        stream.flush()


def _choice(args: argparse.Namespace, environ: Mapping[str, str], publication: Publication
            ) -> tuple[str, bool, bool]:
    """(check-runs mode, comment on/off, inconclusive allowed) from options, else environment.

    The environment variables are how the actions and templates pass their inputs. A value
    that makes no sense is a warning and the default, not a failed gate: it concerns only how
    results are shown. Without either, the CLI writes nothing to the forge (a plain
    `changegate` step in someone's workflow should not start posting); the actions pass
    `check-runs: auto` by default.
    """
    mode = getattr(args, "check_runs", None) or environ.get("CHANGEGATE_CHECK_RUNS", "").strip() \
        .lower() or "off"
    if mode not in ("auto", "on", "off"):
        publication.note("warning", f"CHANGEGATE_CHECK_RUNS={mode!r} is not auto, on or off; "
                                    "using auto")
        mode = "auto"
    comment = getattr(args, "comment", None)
    if comment is None:
        value = environ.get("CHANGEGATE_COMMENT", "").strip().lower()
        comment = value in _TRUE
        if value not in _TRUE | _FALSE:
            publication.note("warning", f"CHANGEGATE_COMMENT={value!r} is not true or false; "
                                        "no comment is posted")
    allowed = bool(getattr(args, "allow_inconclusive", False)) or \
        environ.get("CHANGEGATE_FAIL_ON_ERROR", "").strip().lower() == "false"
    return mode, bool(comment), allowed


def publish(results: list[GateResult], args: argparse.Namespace, run: RunContext, *,
            on_github: bool) -> Publication:
    """Publish check runs and the summary comment as configured; never raises."""
    publication = Publication()
    mode, comment, allowed = _choice(args, run.environ, publication)
    wants_checks = mode == "on" or (mode == "auto" and on_github)
    if not (wants_checks or comment):
        return publication
    from changegate.errors import ChangegateError

    try:
        change = run.change()
    except ChangegateError as exc:
        publication.note("warning", f"nothing was published to the forge: {exc.message}")
        return publication
    for step, wanted in ((_publish_check_runs, wants_checks), (_publish_comment, comment)):
        if not wanted:
            continue
        try:
            step(results, run, change, mode=mode, allowed=allowed, publication=publication)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # best effort: a bug here must not change the verdict
            if run.environ.get("CHANGEGATE_DEBUG"):
                raise
            publication.note("warning", f"publishing failed unexpectedly "
                                        f"({type(exc).__name__}: {exc})")
    return publication


def _settings(settings: ForgeSettings) -> ForgeSettings:
    return replace(settings, timeout=PUBLISH_TIMEOUT, max_rate_wait=PUBLISH_MAX_RATE_WAIT)


def _anchor_for(run: RunContext) -> Callable[[str], Location]:
    """Where a gate's findings without a repository file go: its section of the policy file."""
    from changegate.report.common import DEFAULT_POLICY_PATH
    from changegate.result import Location

    policy = run._cache.get("policy")

    def anchor(gate: str) -> Location:
        if policy is None:
            return Location(file=DEFAULT_POLICY_PATH, line=1)
        if gate == "evidence":
            return policy.location("evidence")  # type: ignore[no-any-return]
        return policy.location("gates", gate)  # type: ignore[no-any-return]
    return anchor


def _publish_check_runs(results: list[GateResult], run: RunContext, change: Change, *,
                        mode: str, allowed: bool, publication: Publication) -> None:
    from changegate.forges.base import github_settings
    from changegate.report.checks import (
        CHECKS_HINT,
        GitHubApi,
        PublishError,
        plan_check_runs,
        publish_check_runs,
    )

    if change.platform == "gitlab":
        publication.note("warning", "check runs are a GitHub feature; this is a GitLab "
                                    "pipeline (use --check-runs off)")
        return
    settings = _settings(github_settings(run.environ))
    if not settings.token:
        level = "warning" if mode == "on" else "notice"
        publication.note(level, "Check runs were not published: no GitHub token (pass "
                                "`github-token`, or set GITHUB_TOKEN). " + CHECKS_HINT)
        return
    plans = plan_check_runs(results, anchor_for=_anchor_for(run), allow_inconclusive=allowed)
    try:
        publication.check_runs = publish_check_runs(
            GitHubApi(settings), change.repository, change.head, plans,
            details_url=change.run_url)
    except PublishError as exc:
        publication.check_runs = exc.published
        if exc.denied and not exc.published:
            publication.note("notice", f"Check runs were not published ({exc}). "
                                       + CHECKS_HINT)
        else:
            publication.note("warning", f"Check runs are incomplete ({exc}); the findings are "
                                        "annotated with workflow commands instead")
        return
    publication.checks_complete = True


def _publish_comment(results: list[GateResult], run: RunContext, change: Change, *,
                     mode: str, allowed: bool, publication: Publication) -> None:
    from changegate.forges.base import github_settings, gitlab_settings
    from changegate.report.checks import GitHubApi, PublishError
    from changegate.report.comment import (
        CommentContext,
        GitHubThread,
        GitLabApi,
        GitLabThread,
        Thread,
        gate_lines,
        merge_lines,
        publish_comment,
        render_comment,
    )

    environ = run.environ
    if change.number is None:
        publication.note("info", "no pull or merge request in this run: the summary comment "
                                 "is skipped")
        return
    thread: Thread
    if change.platform == "github":
        settings = _settings(github_settings(environ))
        fix = ("give the job `permissions: pull-requests: write` and pass its token "
               "(`github-token`)")
        if not settings.token:
            publication.note("warning", f"the summary comment needs a GitHub token: {fix}")
            return
        thread = GitHubThread(GitHubApi(settings), change.repository, change.number)
    elif change.platform == "gitlab":
        settings = _settings(gitlab_settings(environ))
        fix = ("pass a project access token with the `api` scope (Reporter role or higher) as "
               "the masked CI/CD variable CHANGEGATE_GITLAB_TOKEN")
        if not settings.token or settings.token_kind == "job":  # noqa: S105 - a kind
            publication.note("warning", "the summary note needs a GitLab token that may write "
                                        f"notes (CI_JOB_TOKEN cannot): {fix}")
            return
        project = environ.get("CI_PROJECT_ID") or change.repository or ""
        web = (f"{change.server_url}/{change.repository}/-/merge_requests/{change.number}"
               if change.server_url and change.repository else None)
        thread = GitLabThread(GitLabApi(settings), project, change.number, web_url=web)
    else:
        publication.note("info", "the summary comment is posted from GitHub Actions or "
                                 "GitLab CI only")
        return
    ctx = CommentContext(head=change.head, run_url=change.run_url, evidence=run.evidence,
                         evidence_url=_evidence_url(run), allow_inconclusive=allowed,
                         forge=thread.forge, limit=thread.limit)
    current = gate_lines(results, head=change.head,
                         check_urls={c.gate: c.html_url for c in publication.check_runs
                                     if c.html_url})
    shown: list[GateLine] = current

    def render(previous: list[GateLine]) -> str:
        nonlocal shown
        shown = merge_lines(previous, current, change.head)
        return render_comment(shown, results, ctx)

    try:
        publication.comment = publish_comment(thread, render)
    except PublishError as exc:
        hint = f"; {fix}" if exc.denied else ""
        publication.note("warning", f"the summary comment was not updated ({exc}){hint}")
        return
    publication.lines = shown


def _evidence_url(run: RunContext) -> str | None:
    """A link to the change record: its https URI, or its artifact in this GitLab job."""
    evidence: dict[str, Any] | None = run.evidence
    if not evidence:
        return None
    uri = evidence.get("record_uri")
    if isinstance(uri, str) and uri.startswith("https://"):
        return uri
    return _artifact_url(run.environ, evidence.get("record_path"))


def _artifact_url(environ: Mapping[str, str], path: object) -> str | None:
    """The job artifact URL of a file in the project directory (GitLab), or None."""
    job = environ.get("CI_JOB_URL")
    if not job or not isinstance(path, str) or not path or path.startswith("/") \
            or ".." in Path(path).parts:
        return None
    return f"{job}/artifacts/file/{quote(path)}"


def _gitlab_annotations(results: list[GateResult], args: argparse.Namespace, run: RunContext,
                        publication: Publication, path: Path) -> None:
    """Links on the job page: each gate's status (to the test report) and the evidence."""
    from changegate.report.comment import gate_lines, gitlab_annotations, write_gitlab_annotations

    environ = run.environ
    change = run._cache.get("change")
    lines = publication.lines or gate_lines(results, head=change.head if change else None)
    pipeline = environ.get("CI_PIPELINE_URL")
    links: list[tuple[str, str | None]] = []
    evidence = run.evidence
    if evidence:
        digest = str(evidence.get("record_sha256") or "")[:16]
        links.append((f"Evidence: change record sha256:{digest}\u2026", _evidence_url(run)))
    if args.json_file and not Path(args.json_file).is_absolute():
        links.append(("JSON result (every finding and detail)",
                      _artifact_url(environ, args.json_file)))
    if publication.comment is not None:
        links.append(("Summary note on the merge request", publication.comment.url))
    links.append(("Job log", environ.get("CI_JOB_URL")))
    report = gitlab_annotations(lines, gates_url=f"{pipeline}/test_report" if pipeline else None,
                                links=links)
    write_gitlab_annotations(report, path)
