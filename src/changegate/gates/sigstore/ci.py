"""Facts about the CI run, read once from the environment the CLI passes in.

SLSA provenance says which workflow, on which commit and ref, in which run, built the
artifact. The platforms expose those as variables; we read them here (never in the gate) and
keep only what the provenance and the report need.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CIFacts:
    platform: str  # github | gitlab | local
    values: dict[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str:
        return self.values.get(key, "")


_GITHUB = ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_REPOSITORY_ID",
           "GITHUB_REPOSITORY_OWNER_ID", "GITHUB_WORKFLOW_REF", "GITHUB_REF", "GITHUB_SHA",
           "GITHUB_EVENT_NAME", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "RUNNER_ENVIRONMENT")
_GITLAB = ("CI_SERVER_URL", "CI_PROJECT_PATH", "CI_PROJECT_URL", "CI_PROJECT_ID",
           "CI_CONFIG_PATH", "CI_COMMIT_SHA", "CI_COMMIT_REF_NAME", "CI_COMMIT_TAG",
           "CI_COMMIT_BRANCH", "CI_JOB_ID", "CI_JOB_NAME", "CI_JOB_URL", "CI_JOB_STARTED_AT",
           "CI_PIPELINE_ID", "CI_PIPELINE_SOURCE", "CI_RUNNER_ID", "CI_RUNNER_DESCRIPTION")


def read(environ: Mapping[str, str]) -> CIFacts:
    if environ.get("GITHUB_ACTIONS") == "true":
        return CIFacts("github", {k: environ[k] for k in _GITHUB if environ.get(k)})
    if environ.get("GITLAB_CI") == "true":
        return CIFacts("gitlab", {k: environ[k] for k in _GITLAB if environ.get(k)})
    return CIFacts("local")
