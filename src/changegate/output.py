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
elsewhere), and what is published always carries the gate's real status, so no channel ever
shows success for a failing gate.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from changegate import __version__

if TYPE_CHECKING:
    from changegate.commands import RunContext
    from changegate.publish import Publication
    from changegate.result import GateResult

GITLAB_DEFAULTS = {
    "codequality": "gl-code-quality-report.json",
    "junit": "changegate-junit.xml",
    "dotenv": "changegate.env",
    "annotations": "gl-annotations.json",
}


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
    if on_github:
        _github(results, environ, stream=sys.stderr if args.json else sys.stdout)
    if args.json:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    _gitlab(results, args, run, on_gitlab)
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


def _github(results: list[GateResult], env: Mapping[str, str], stream: TextIO) -> None:
    from changegate.report.github import GitHubReporter

    summary = env.get("GITHUB_STEP_SUMMARY")
    output = env.get("GITHUB_OUTPUT")
    reporter = GitHubReporter(stream,
                              step_summary=Path(summary) if summary else None,
                              output=Path(output) if output else None)
    reporter.publish(results)


def _gitlab(results: list[GateResult], args: argparse.Namespace, run: RunContext,
            on_gitlab: bool) -> None:
    from changegate.report import gitlab

    default_path = _policy_path(run)
    # Paths given on the command line are relative to the current directory, like every CLI;
    # the GitLab defaults go to the checked repository (-C), where the job's artifacts are.
    def where(key: str) -> Path | None:
        given = getattr(args, key)
        if given:
            return Path(given)
        return run.workdir / GITLAB_DEFAULTS[key] if on_gitlab else None

    if (path := where("codequality")) is not None:
        gitlab.write_codequality(results, path, default_path=default_path)
    if (path := where("junit")) is not None:
        gitlab.write_junit(results, path)
    if (path := where("dotenv")) is not None:
        gitlab.write_dotenv(results, path)


def _policy_path(run: RunContext) -> str:
    """Where findings without a file are anchored (GitLab and SARIF need a path)."""
    policy = run._cache.get("policy")
    return policy.source if policy is not None else ".changegate.yml"
