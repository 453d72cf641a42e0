"""GitHub reporter: annotations, stop-commands, job summary and `$GITHUB_OUTPUT`.

The stdout is fed to a small emulation of the Actions runner's command processing
(`ActionCommand.TryParseV2`/`TryParse` and `ActionCommandManager.TryProcessCommand`), so the
tests check what GitHub would *do* with the output, not just what it looks like.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from changegate.report.github import (
    ANNOTATIONS_PER_TYPE,
    GitHubReporter,
    build_annotations,
    heredoc_output,
)
from changegate.report.markdown import SUMMARY_LIMIT_BYTES
from changegate.result import Finding, GateResult, Location, Severity, Status

SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
HOSTILE_MESSAGE = (
    "Add feature\n"
    "::set-output name=x::y\n"
    "::add-mask::hunter2\n"
    "##[set-output name=z;]w\n"
    "::error file=evil.py,line=1::fake annotation\n"
    "100%0A, key: value @org/team <script>alert(1)</script> [x](https://evil.example/)"
)

# --- a minimal Actions runner -----------------------------------------------------------------

REGISTERED = {
    "error", "warning", "notice", "debug", "group", "endgroup", "echo", "stop-commands",
    "set-output", "set-env", "add-path", "add-mask", "save-state", "add-matcher",
    "remove-matcher",
}


def _unescape(s: str, mapping: list[tuple[str, str]]) -> str:
    for token, repl in mapping:
        s = s.replace(repl, token)
    return s


_DATA = [("\r", "%0D"), ("\n", "%0A"), ("%", "%25")]
_PROPERTY = [("\r", "%0D"), ("\n", "%0A"), (":", "%3A"), (",", "%2C"), ("%", "%25")]
_LEGACY = [(";", "%3B"), ("\r", "%0D"), ("\n", "%0A"), ("]", "%5D"), ("%", "%25")]


@dataclass
class Command:
    name: str
    props: dict[str, str]
    data: str


def _parse_v2(line: str, registered: set[str]) -> Command | None:
    msg = line.lstrip()
    if not msg.startswith("::"):
        return None
    end = msg.find("::", 2)
    if end < 0:
        return None
    info = msg[2:end]
    name, _, props_str = info.partition(" ")
    if name.lower() not in registered:
        return None
    props: dict[str, str] = {}
    for prop in filter(None, props_str.strip().split(",")):
        key, sep, value = prop.partition("=")
        if sep and key and value:
            props[key] = _unescape(value, _PROPERTY)
    return Command(name.lower(), props, _unescape(msg[end + 2 :], _DATA))


def _parse_v1(line: str, registered: set[str]) -> Command | None:
    start = line.find("##[")
    if start < 0:
        return None
    rb = line.find("]", start)
    if rb < 0:
        return None
    info = line[start + 3 : rb]
    name, _, props_str = info.partition(" ")
    if name.lower() not in registered:
        return None
    props: dict[str, str] = {}
    for prop in filter(None, props_str.split(";")):
        key, sep, value = prop.partition("=")
        if sep and key and value:
            props[key] = _unescape(value, _LEGACY)
    return Command(name.lower(), props, _unescape(line[rb + 1 :], _LEGACY))


@dataclass
class Runner:
    """What the runner would process from a step's output, honouring stop-commands."""

    processed: list[Command] = field(default_factory=list)
    ignored_while_stopped: list[str] = field(default_factory=list)

    def feed(self, output: str) -> Runner:
        registered = set(REGISTERED)
        stop_token: str | None = None
        for line in output.splitlines():  # the runner reads lines; CR also ends one
            cmd = _parse_v2(line, registered) or _parse_v1(line, registered)
            if cmd is None:
                continue
            if stop_token is not None:
                if cmd.name == stop_token.lower():
                    registered.discard(stop_token.lower())
                    stop_token = None
                    self.processed.append(Command("resume-commands", {}, ""))
                else:
                    self.ignored_while_stopped.append(line)
                continue
            if cmd.name == "stop-commands":
                stop_token = cmd.data
                registered.add(stop_token.lower())
            self.processed.append(cmd)
        assert stop_token is None, "commands left stopped at the end of the step"
        return self

    def named(self, *names: str) -> list[Command]:
        return [c for c in self.processed if c.name in names]


# --- helpers ----------------------------------------------------------------------------------


def finding(
    message: str = "Commit is not signed.",
    *,
    severity: Severity = Severity.ERROR,
    rule: str = "UNSIGNED",
    **loc: object,
) -> Finding:
    return Finding(rule=rule, severity=severity, message=message,
                   location=Location(**loc),  # type: ignore[arg-type]
                   fix="Sign the commit and push again.")


def publish(
    results: list[GateResult],
    tmp_path: Path,
    *,
    outputs: dict[str, str] | None = None,
    **kw: object,
) -> tuple[str, Path, Path]:
    out = io.StringIO()
    summary = tmp_path / "summary.md"
    output = tmp_path / "output.txt"
    reporter = GitHubReporter(out, step_summary=summary, output=output, **kw)  # type: ignore[arg-type]
    reporter.publish(results, outputs=outputs)
    return out.getvalue(), summary, output


def parse_github_output(text: str) -> dict[str, str]:
    """GitHub's file command format (runner `SetOutputFileCommand`): NAME=VALUE or heredoc."""
    values: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        eq, hd = line.find("="), line.find("<<")
        if eq >= 0 and (hd < 0 or eq < hd):
            values[line[:eq]] = line[eq + 1 :]
            continue
        assert hd > 0, f"invalid line {line!r}"
        name, delim = line[:hd], line[hd + 2 :]
        body: list[str] = []
        while True:
            assert i < len(lines), f"heredoc {delim!r} not closed"
            nxt = lines[i]
            i += 1
            if nxt == delim:
                break
            body.append(nxt)
        values[name] = "\n".join(body)
    return values


# --- annotations ------------------------------------------------------------------------------


def test_annotation_format_for_a_file_finding(tmp_path: Path) -> None:
    result = GateResult("audit", Status.FAIL, "1 vulnerable package",
                        [finding("jinja2 2.10 is vulnerable", rule="VULNERABLE",
                                 file="requirements.txt", line=12, column=3)])
    stdout, _, _ = publish([result], tmp_path)
    first = stdout.splitlines()[0]
    assert first == (
        "::error file=requirements.txt,line=12,col=3,title=audit VULNERABLE"
        "::jinja2 2.10 is vulnerable%0AFix: Sign the commit and push again."
    )


def test_commit_only_finding_has_no_file_and_names_the_commit(tmp_path: Path) -> None:
    result = GateResult("verify-commits", Status.FAIL, "unsigned", [finding(commit=SHA)])
    stdout, _, _ = publish([result], tmp_path)
    (error,) = Runner().feed(stdout).named("error")
    assert "file" not in error.props and "line" not in error.props
    assert error.data.startswith(f"commit {SHA[:12]}: Commit is not signed.")
    assert error.props["title"] == "verify-commits UNSIGNED"


def test_severity_maps_to_command() -> None:
    result = GateResult("g", Status.FAIL, "s", [
        finding(severity=Severity.ERROR), finding(severity=Severity.WARNING),
        finding(severity=Severity.NOTE),
    ])
    assert [a.command for a in build_annotations([result])] == ["error", "warning", "notice"]


def test_hostile_text_cannot_inject_commands(tmp_path: Path) -> None:
    hostile_file = "src/a,b:c%0A.py"
    result = GateResult("verify-commits", Status.FAIL, HOSTILE_MESSAGE, [
        Finding("UNSIGNED", Severity.ERROR, HOSTILE_MESSAGE,
                Location(file=hostile_file, line=4, commit=SHA),
                fix="::add-mask::x\n::set-env name=A::b", title="t::i,t:le\n::warning::x"),
    ])
    stdout, _, _ = publish([result], tmp_path)
    runner = Runner().feed(stdout)
    names = [c.name for c in runner.processed]
    assert names == ["error", "group", "stop-commands", "resume-commands", "endgroup"]
    (error,) = runner.named("error")
    # The annotation carries the untrusted text intact, as data.
    assert error.props["file"] == hostile_file
    assert error.props["line"] == "4"
    assert error.props["title"] == "verify-commits UNSIGNED: t::i,t:le\n::warning::x"
    assert error.data == (
        f"commit {SHA[:12]}: {HOSTILE_MESSAGE}\nFix: ::add-mask::x\n::set-env name=A::b"
    )
    # The detail block printed the hostile lines, and the runner ignored every one of them.
    assert any("set-output name=x::y" in line for line in runner.ignored_while_stopped)
    assert any("##[set-output" in line for line in runner.ignored_while_stopped)
    assert any("::add-mask::" in line for line in runner.ignored_while_stopped)


def test_ten_per_type_and_the_rest_in_the_summary(tmp_path: Path) -> None:
    findings = [finding(f"problem number {i:02d}", commit=f"{i:040x}") for i in range(25)]
    findings += [finding(f"warning number {i}", severity=Severity.WARNING) for i in range(12)]
    findings += [finding(f"note number {i}", severity=Severity.NOTE) for i in range(3)]
    result = GateResult("verify-commits", Status.FAIL, "25 unsigned", findings)
    stdout, summary, _ = publish([result], tmp_path)

    runner = Runner().feed(stdout)
    errors = runner.named("error")
    warnings = runner.named("warning")
    notices = runner.named("notice")
    assert len(errors) == ANNOTATIONS_PER_TYPE
    assert len(warnings) == ANNOTATIONS_PER_TYPE
    assert len(notices) == 3
    assert [e.data.split(": ", 1)[1].split("\n")[0] for e in errors] == [
        f"problem number {i:02d}" for i in range(10)
    ]
    assert errors[-1].data.endswith("(15 more errors in the job summary)")
    assert warnings[-1].data.endswith("(2 more warnings in the job summary)")
    assert all("more" not in e.data for e in errors[:-1])
    assert all("job summary" not in n.data for n in notices)

    text = summary.read_text(encoding="utf-8")
    for i in range(25):
        assert f"problem number {i:02d}" in text
    for i in range(12):
        assert f"warning number {i}" in text
    assert "### Findings (40)" in text


# --- stop-commands ----------------------------------------------------------------------------


def _detail_block(stdout: str) -> tuple[str, list[str]]:
    lines = stdout.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("::stop-commands::")]
    assert len(starts) == 1
    token = lines[starts[0]].removeprefix("::stop-commands::")
    end = lines.index(f"::{token}::")
    return token, lines[starts[0] + 1 : end]


def test_stop_commands_wraps_the_untrusted_detail(tmp_path: Path) -> None:
    result = GateResult("verify-commits", Status.FAIL, "1 unsigned",
                        [finding(HOSTILE_MESSAGE, commit=SHA)])
    stdout, _, _ = publish([result], tmp_path)
    token, block = _detail_block(stdout)
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert any("::set-output name=x::y" in line for line in block)
    assert any("FAIL verify-commits" in line for line in block)
    # Outside the block there are only our own one-line commands (annotations escaped).
    lines = stdout.splitlines()
    start = lines.index(f"::stop-commands::{token}")
    end = lines.index(f"::{token}::")
    outside = lines[:start] + lines[end + 1 :]
    assert [line.split("::")[1].split(" ")[0] for line in outside] == [
        "error", "group", "endgroup",
    ]


def test_stop_token_differs_across_runs(tmp_path: Path) -> None:
    result = GateResult("g", Status.FAIL, "s", [finding(commit=SHA)])
    tokens = {_detail_block(publish([result], tmp_path)[0])[0] for _ in range(5)}
    assert len(tokens) == 5


def test_stop_token_is_never_one_that_appears_in_the_text(tmp_path: Path) -> None:
    guessed = "deadbeef" * 4
    result = GateResult("g", Status.FAIL, "s",
                        [finding(f"try to resume: ::{guessed.upper()}::", commit=SHA)])
    tokens = iter([guessed, "short", "has space in it ok", "cafe" * 8])
    stdout, _, _ = publish([result], tmp_path, token_factory=lambda: next(tokens))
    token, _ = _detail_block(stdout)
    assert token == "cafe" * 8
    assert Runner().feed(stdout).named("error")


# --- job summary ------------------------------------------------------------------------------


def test_summary_escapes_untrusted_text(tmp_path: Path) -> None:
    result = GateResult("verify-commits", Status.FAIL, "<b>summary</b> @org/team",
                        [finding(HOSTILE_MESSAGE, commit=SHA)])
    _, summary, _ = publish([result], tmp_path)
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## changegate: Failed\n")
    assert "<script>" not in text and "<b>" not in text
    assert "@org/team" not in text
    assert re.search(r"(?<!\\)\]\(", text) is None  # no live Markdown link
    assert "| verify-commits | Failed |" in text


def test_summary_is_appended_and_capped_at_one_mebibyte(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# Earlier step output\n", encoding="utf-8")
    findings = [finding(f"m{i} " + "x" * 990, commit=f"{i:040x}") for i in range(2000)]
    result = GateResult("verify-commits", Status.FAIL, "many", findings)
    GitHubReporter(io.StringIO(), step_summary=summary, output=None).publish([result])
    data = summary.read_bytes()
    assert len(data) <= SUMMARY_LIMIT_BYTES
    text = data.decode("utf-8")
    assert text.startswith("# Earlier step output\n\n## changegate: Failed")
    match = re.search(r"(\d+) more findings are not shown", text)
    assert match
    shown = len(re.findall(r"^\| verify-commits \| error \|", text, flags=re.M))
    assert shown + int(match.group(1)) == 2000


def test_no_summary_when_the_file_is_already_full(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_bytes(b"x" * SUMMARY_LIMIT_BYTES)
    GitHubReporter(io.StringIO(), step_summary=summary, output=None).publish(
        [GateResult("g", Status.PASS, "ok")]
    )
    assert summary.stat().st_size == SUMMARY_LIMIT_BYTES


# --- outputs ----------------------------------------------------------------------------------


def test_outputs_parse_back(tmp_path: Path) -> None:
    results = [
        GateResult("verify-commits", Status.FAIL, "s", [finding(commit=SHA)] * 3),
        GateResult("audit", Status.PASS, "s"),
    ]
    extra = {
        "report": "line one\nline two\n\nline four",
        "tricky": "a=b<<EOF\nEOF\nname=value",
        "crlf": "x\r\ny\rz",
        "empty": "",
    }
    _, _, output = publish(results, tmp_path, outputs=extra)
    values = parse_github_output(output.read_text(encoding="utf-8"))
    assert values == {
        "status": "fail",
        "exit-code": "1",
        "findings": "3",
        "verify-commits-status": "fail",
        "audit-status": "pass",
        "report": extra["report"],
        "tricky": extra["tricky"],
        "crlf": "x\ny\nz",
        "empty": "",
    }


def test_each_value_gets_its_own_random_delimiter(tmp_path: Path) -> None:
    _, _, output = publish([GateResult("g", Status.ERROR, "s")], tmp_path)
    text = output.read_text(encoding="utf-8")
    delimiters = re.findall(r"^[\w-]+<<(.*)$", text, flags=re.M)
    assert len(delimiters) == 4 == len(set(delimiters))
    assert all(re.fullmatch(r"ghadelimiter_[0-9a-f-]{36}", d) for d in delimiters)
    assert parse_github_output(text)["exit-code"] == "2"


def test_outputs_append_to_existing_file(tmp_path: Path) -> None:
    output = tmp_path / "output.txt"
    output.write_text("earlier=1\n", encoding="utf-8")
    GitHubReporter(io.StringIO(), step_summary=None, output=output).publish(
        [GateResult("g", Status.PASS, "s")]
    )
    values = parse_github_output(output.read_text(encoding="utf-8"))
    assert values["earlier"] == "1" and values["status"] == "pass"


def test_value_containing_the_delimiter_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    fixed = "ghadelimiter_fixed"
    with pytest.raises(ValueError, match="delimiter"):
        publish(
            [GateResult("g", Status.PASS, "s")], tmp_path,
            outputs={"x": f"safe\n{fixed}\nstatus=pass"},
            delimiter_factory=lambda: fixed,
        )
    assert not (tmp_path / "output.txt").exists()
    assert not (tmp_path / "summary.md").exists()


@pytest.mark.parametrize("name", ["bad name", "a=b", "x<<y", "", "1abc", "a\nb"])
def test_invalid_output_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid output name"):
        heredoc_output(name, "v", "ghadelimiter_x")


def test_outputs_cannot_override_computed_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="override"):
        publish([GateResult("g", Status.FAIL, "s")], tmp_path, outputs={"status": "pass"})


def test_nothing_but_stdout_without_paths() -> None:
    out = io.StringIO()
    GitHubReporter(out, step_summary=None, output=None).publish(
        [GateResult("g", Status.PASS, "all good")]
    )
    runner = Runner().feed(out.getvalue())
    assert [c.name for c in runner.processed] == [
        "group", "stop-commands", "resume-commands", "endgroup",
    ]
