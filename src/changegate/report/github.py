"""Present results on GitHub Actions: annotations, a job summary and step outputs.

Three channels, each with GitHub's own rules:

- Annotations (workflow commands on stdout) put a finding on the pull request at its file and
  line. GitHub keeps only 10 annotations of each type (error, warning, notice) per step and
  silently drops the rest, so this reporter emits at most 10 per type and says on the last one
  how many more are in the job summary, which lists every finding.
- The human detail (the terminal rendering) quotes commit messages and package names. It is
  printed between `::stop-commands::TOKEN` and `::TOKEN::` with a fresh random token, so no line
  of it, whatever it contains, is processed as a workflow command. Annotations are printed
  outside that block (they must be processed) and escaped as GitHub's toolkit does.
- Outputs go to `$GITHUB_OUTPUT` in the heredoc form with a random delimiter per value, the
  toolkit's scheme: a value containing the delimiter is refused, so no value can close its
  heredoc early and define outputs of its own.
"""

from __future__ import annotations

import io
import re
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from changegate.report.common import short_commit
from changegate.report.escape import escape_data, escape_property, truncate
from changegate.report.markdown import SUMMARY_LIMIT_BYTES, summary_markdown
from changegate.report.terminal import render_terminal
from changegate.result import Finding, GateResult, Severity, combined_status

# GitHub shows at most this many annotations of each type per step.
ANNOTATIONS_PER_TYPE = 10

_COMMAND_FOR = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}
_PLURAL = {"error": "errors", "warning": "warnings", "notice": "notices"}

# The check-run annotation API caps title at 255 characters and message at 64 KiB; stay well
# under so escaping (which can triple the length) never pushes a message over.
_TITLE_CHARS = 255
_MESSAGE_CHARS = 4000

# Output names GitHub accepts and that cannot be confused with the file format (`=`, `<<`).
_OUTPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# A stop-commands token: long enough not to be guessed, and a valid command name.
_STOP_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,}")
# Leave a margin under the 1 MiB cap for anything GitHub adds when it renders the summary.
_SUMMARY_MARGIN = 1024


def _default_token() -> str:
    return secrets.token_hex(16)


def _default_delimiter() -> str:
    return f"ghadelimiter_{uuid.uuid4()}"


@dataclass(frozen=True)
class Annotation:
    """One workflow command, before escaping; kept separate so tests and callers can inspect it."""

    command: str
    message: str
    file: str | None = None
    line: int | None = None
    col: int | None = None
    title: str | None = None

    def render(self) -> str:
        props: list[str] = []
        if self.file:
            props.append(f"file={escape_property(self.file)}")
            if self.line:
                props.append(f"line={self.line}")
                if self.col:
                    props.append(f"col={self.col}")
        if self.title:
            props.append(f"title={escape_property(self.title)}")
        head = self.command + (" " + ",".join(props) if props else "")
        return f"::{head}::{escape_data(self.message)}"


def _annotation(gate: str, finding: Finding) -> Annotation:
    loc = finding.location
    message = finding.message
    if loc.commit:
        # A commit has no file/line on the pull request's diff, so the commit goes in the text.
        message = f"commit {short_commit(loc.commit)}: {message}"
    if finding.fix:
        message += f"\nFix: {finding.fix}"
    title = f"{gate} {finding.rule}"
    if finding.title:
        title += f": {finding.title}"
    return Annotation(
        command=_COMMAND_FOR[finding.severity],
        message=truncate(message, _MESSAGE_CHARS),
        file=loc.file or None,
        line=loc.line if loc.file else None,
        col=loc.column if loc.file and loc.line else None,
        title=truncate(title, _TITLE_CHARS),
    )


def build_annotations(
    results: list[GateResult], *, reserved: Mapping[str, int] | None = None
) -> list[Annotation]:
    """The annotations to emit: at most 10 per type, the last one saying how many were left out.

    Order follows the results, so the first findings of each type are the ones annotated, and
    the log reads top to bottom like the summary. `reserved` holds slots of a type back for
    changegate's own notes (e.g. "check runs were not published"), so those are never the
    annotation GitHub drops.
    """
    every = [_annotation(r.gate, f) for r in results for f in r.findings]
    held = reserved or {}
    kept: dict[str, list[int]] = {}
    totals: dict[str, int] = {}
    for i, ann in enumerate(every):
        totals[ann.command] = totals.get(ann.command, 0) + 1
        indices = kept.setdefault(ann.command, [])
        if len(indices) < max(0, ANNOTATIONS_PER_TYPE - held.get(ann.command, 0)):
            indices.append(i)
    for command, indices in kept.items():
        left_out = totals[command] - len(indices)
        if left_out and indices:
            last = every[indices[-1]]
            note = f"\n({left_out} more {_PLURAL[command]} in the job summary)"
            body = truncate(last.message, _MESSAGE_CHARS - len(note)) + note
            every[indices[-1]] = replace(last, message=body)
    return [every[i] for i in sorted(i for indices in kept.values() for i in indices)]


def heredoc_output(name: str, value: str, delimiter: str) -> str:
    """One `$GITHUB_OUTPUT` entry in heredoc form; refuses input that could escape it.

    CR and CRLF become LF first: the runner reads the file line by line and treats a bare CR as
    a line break, so it would split the value there anyway.
    """
    if not _OUTPUT_NAME.match(name):
        raise ValueError(f"invalid output name {name!r}: use letters, digits, '_' and '-'")
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    if delimiter in name or delimiter in value:
        raise ValueError(
            f"output {name!r} contains the heredoc delimiter; refusing to write it"
        )
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


class GitHubReporter:
    """Publish results to a GitHub Actions step: stdout commands, summary file, outputs file.

    The paths are `$GITHUB_STEP_SUMMARY` and `$GITHUB_OUTPUT`, read by the CLI and passed in, so
    this class never reads the environment and tests can point it at temporary files.
    """

    def __init__(
        self,
        stdout: TextIO,
        *,
        step_summary: Path | None,
        output: Path | None,
        token_factory: Callable[[], str] = _default_token,
        delimiter_factory: Callable[[], str] = _default_delimiter,
    ) -> None:
        self.stdout = stdout
        self.step_summary = step_summary
        self.output = output
        self.token_factory = token_factory
        self.delimiter_factory = delimiter_factory

    def publish(
        self,
        results: list[GateResult],
        *,
        outputs: dict[str, str] | None = None,
        annotate: bool = True,
        notes: Sequence[Annotation] = (),
    ) -> None:
        """Annotate, print the detail safely, append the job summary and write the outputs.

        Outputs are prepared (and validated) before anything is written, so a refused value
        does not leave a half-published step behind. `annotate=False` when check runs already
        carry every finding as an annotation (the workflow commands would only repeat the
        first ten). `notes` are changegate's own annotations (publishing warnings, the hint to
        grant `checks: write`); they come first and keep their slots within the per-type cap.
        """
        output_text = self._outputs_text(results, outputs or {}) if self.output else None
        reserved: dict[str, int] = {}
        for note in notes:
            reserved[note.command] = reserved.get(note.command, 0) + 1
            self.stdout.write(note.render() + "\n")
        if annotate:
            for ann in build_annotations(results, reserved=reserved):
                self.stdout.write(ann.render() + "\n")
        self._write_detail(results)
        if self.step_summary is not None:
            self._write_summary(results, self.step_summary)
        if self.output is not None and output_text is not None:
            with self.output.open("a", encoding="utf-8", newline="\n") as fh:
                fh.write(output_text)
        self.stdout.flush()

    # --- pieces ---------------------------------------------------------------------------------

    def _stop_token(self, text: str) -> str:
        """A fresh token that does not occur in `text` (the runner compares it ignoring case).

        The runner resumes on any command named like the token, so it must be unguessable
        (long, random), parse as a command name (no spaces, `:` or `,`) and be absent from the
        text it protects.
        """
        folded = text.casefold()
        for _ in range(8):
            token = self.token_factory()
            if _STOP_TOKEN.fullmatch(token) and token.casefold() not in folded:
                return token
        raise RuntimeError("could not find a usable stop-commands token absent from the output")

    def _write_detail(self, results: list[GateResult]) -> None:
        buf = io.StringIO()
        render_terminal(results, buf, color=False)
        detail = buf.getvalue()
        if not detail:
            return
        token = self._stop_token(detail)
        self.stdout.write("::group::changegate details\n")
        self.stdout.write(f"::stop-commands::{token}\n")
        self.stdout.write(detail if detail.endswith("\n") else detail + "\n")
        self.stdout.write(f"::{token}::\n")
        self.stdout.write("::endgroup::\n")

    def _write_summary(self, results: list[GateResult], path: Path) -> None:
        existing = path.stat().st_size if path.exists() else 0
        room = SUMMARY_LIMIT_BYTES - _SUMMARY_MARGIN - existing
        if room <= 0:
            return
        # A blank line first, so our heading does not join an earlier step's last paragraph.
        sep = "\n" if existing else ""
        text = summary_markdown(results, max_bytes=room - len(sep))
        if not text:
            return
        with path.open("a", encoding="utf-8", newline="\n") as fh:
            fh.write(sep + text)

    def _outputs_text(self, results: list[GateResult], extra: dict[str, str]) -> str:
        overall = combined_status([r.status for r in results])
        values: dict[str, str] = {
            "status": overall.value,
            "exit-code": str(int(overall.exit_code)),
            "findings": str(sum(len(r.findings) for r in results)),
        }
        for r in results:
            values[f"{r.gate}-status"] = r.status.value
        clash = values.keys() & extra.keys()
        if clash:
            raise ValueError(f"outputs may not override computed outputs: {sorted(clash)}")
        values.update(extra)
        return "".join(
            heredoc_output(name, value, self.delimiter_factory())
            for name, value in values.items()
        )
