"""The versioned contracts a security team pins against, and the check that they change openly.

What users script against is frozen per release in `contracts/<version>/`:

  cli.json             every command, option, positional, choice and default of the CLI
  exit-codes.json      process exit codes, statuses, severities, and the templates' extra codes
  json-fields.json     the stable fields of each gate's `--json` document (declared here, and
                       checked against real gate output by the release and the tests)
  policy.schema.json   the policy file's JSON Schema, as the package ships it
  action-io.json       every GitHub action's inputs (required, default) and outputs
  template-inputs.json every GitLab template's inputs (type, default, options, regex) and job

`live(root)` extracts them from a source tree; `diff(old, new)` names each change as a token
such as `changegate sbom --lock`, `actions/sbom input lock`, `gates.audit.fail_on` or
`audit.vulnerabilities[].fixed_in`; `undocumented(changes, notes)` returns the changes the
CHANGELOG's upgrade notes for the new version do not name. tests/release/ holds the suite
that fails when the live contracts drift from the snapshot, or a change goes unannounced.

Usage:
  python scripts/release_contracts.py write [--version X] [--force]   snapshot the live contracts
  python scripts/release_contracts.py check [--version X]             live == snapshot, notes
  python scripts/release_contracts.py diff OLD NEW                    list the changes
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_FILES = ("cli.json", "exit-codes.json", "json-fields.json", "policy.schema.json",
                  "action-io.json", "template-inputs.json")
VERSION_DIR = re.compile(r"^\d+\.\d+\.\d+$")

# -- JSON fields ----------------------------------------------------------------------------------
# The documented, stable fields of each gate's `--json` document (docs/cli.md and each gate's
# page), with their JSON types ("|" for alternatives). Adding a field here is a promise; the
# release refuses to ship when its own gates' output lacks one (see `missing_fields`).
ENVELOPE: dict[str, str] = {
    "gate": "string",
    "status": "string",
    "summary": "string",
    "version": "string",
    "findings": "array",
    "findings[].rule": "string",
    "findings[].severity": "string",
    "findings[].message": "string",
    "findings[].location": "object",
}
GATE_FIELDS: dict[str, dict[str, str]] = {
    "verify-commits": {
        "commits": "array",
        "commits[].sha": "string",
        "commits[].status": "string",
        "commits[].reason": "string|null",
        "commits[].format": "string|null",
        "commits[].fingerprint": "string|null",
        "commits[].signer": "string|null",
    },
    "sbom": {
        "sbom": "object",
        "sbom.path": "string|null",
        "sbom.sha256": "string|null",
        "sbom.components": "integer",
        "sbom.spec_version": "string",
        "sbom.format": "string",
        "sbom.source": "string",
    },
    "audit": {
        "database": "object|null",
        "database.sha256": "string",
        "database.records": "integer",
        "database.newest_modified": "string|null",
        "vulnerabilities": "array",
        "vulnerabilities[].package": "string",
        "vulnerabilities[].version": "string",
        "vulnerabilities[].id": "string",
        "vulnerabilities[].aliases": "array",
        "vulnerabilities[].severity": "string|null",
        "vulnerabilities[].score": "number|null",
        "vulnerabilities[].fixed_in": "array",
        "vulnerabilities[].suppressed": "boolean",
        "vulnerabilities[].exception": "object|null",
    },
    "sign": {
        "identity": "string|null",
        "issuer": "string|null",
        "signed": "array",
        "signed[].artifact": "string",
        "signed[].sha256": "string",
        "signed[].kind": "string",
        "signed[].predicate_type": "string|null",
        "signed[].bundle": "string",
        "signed[].log_index": "integer|null",
        "verify_with": "object|null",
    },
    "verify": {
        "verified": "boolean",
        "identity": "string|null",
        "issuer": "string|null",
        "statement": "object|null",
    },
    "approvals": {
        "rules": "array",
        "rules[].name": "string",
        "rules[].satisfied": "boolean",
        "rules[].required": "integer",
        "rules[].counted": "array",
        "rules[].excluded": "array",
        "rules[].missing": "integer",
    },
    "check": {
        "gates": "array",
        "gates[].gate": "string",
        "gates[].status": "string",
        "gates[].summary": "string",
        "results": "array",
    },
}


def json_fields() -> dict[str, Any]:
    return {"every-gate": dict(sorted(ENVELOPE.items())),
            "gates": {gate: dict(sorted(fields.items()))
                      for gate, fields in sorted(GATE_FIELDS.items())}}


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "array": (list,), "object": (dict,), "null": (type(None),)}


def _lookup(document: Any, path: str) -> list[Any]:
    """Every value at `path` (`a.b[].c`); a missing key yields nothing for that branch."""
    values = [document]
    for part in path.split("."):
        many = part.endswith("[]")
        key = part[:-2] if many else part
        found: list[Any] = []
        for value in values:
            if isinstance(value, dict) and key in value:
                item = value[key]
                if many:
                    found.extend(item if isinstance(item, list) else [])
                else:
                    found.append(item)
        values = found
    return values


def _present(document: Any, path: str) -> bool | None:
    """True/False whether the field is there; None when an enclosing list is empty (unknown)."""
    parts = path.split(".")
    for i in range(1, len(parts)):
        parent = ".".join(parts[:i])
        if parent.endswith("[]") and not _lookup(document, parent):
            return None
        if not parent.endswith("[]") and any(v is None for v in _lookup(document, parent)):
            return None  # e.g. `database: null` when the audit could not run
    last = parts[-1]
    key = last[:-2] if last.endswith("[]") else last
    owners = _lookup(document, ".".join(parts[:-1])) if len(parts) > 1 else [document]
    owners = [o for o in owners if isinstance(o, dict)]
    if not owners:
        return None
    return all(key in owner for owner in owners)


def missing_fields(gate: str, document: Mapping[str, Any]) -> list[str]:
    """The declared fields (with their types) that a real `--json` document of `gate` lacks."""
    problems: list[str] = []
    for path, kinds in {**ENVELOPE, **GATE_FIELDS.get(gate, {})}.items():
        present = _present(document, path)
        if present is None:
            continue
        if not present:
            problems.append(f"{gate}.{path}: missing")
            continue
        allowed = tuple(t for k in kinds.split("|") for t in _TYPES[k])
        for value in _lookup(document, path.removesuffix("[]")):
            if isinstance(value, bool) and bool not in allowed:
                problems.append(f"{gate}.{path}: boolean, declared {kinds}")
            elif not isinstance(value, allowed):
                problems.append(f"{gate}.{path}: {type(value).__name__}, declared {kinds}")
    return sorted(set(problems))


# -- extraction -----------------------------------------------------------------------------------

def _cli_dump(root: Path) -> dict[str, Any]:
    """cli.json and exit-codes.json (the package's part), read in a fresh interpreter.

    A subprocess, so the contract is the given tree's code and never a changegate imported
    earlier from somewhere else.
    """
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "_dump-cli", str(root)],
                          capture_output=True, text=True, check=False, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"could not read the CLI contract of {root}:\n{proc.stderr}")
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def _describe_parser(parser: argparse.ArgumentParser) -> dict[str, Any]:
    kinds = {"_StoreAction": "value", "_StoreTrueAction": "flag", "_StoreFalseAction": "flag",
             "_StoreConstAction": "flag", "_AppendAction": "repeatable",
             "_AppendConstAction": "flag", "_CountAction": "count",
             "BooleanOptionalAction": "flag", "_ExtendAction": "repeatable",
             "_VersionAction": "version"}
    options: dict[str, Any] = {}
    positionals: list[dict[str, Any]] = []
    subcommands: dict[str, Any] = {}
    for action in parser._actions:  # argparse has no public API for this
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                subcommands[name] = _describe_parser(sub)
            continue
        entry: dict[str, Any] = {
            "kind": kinds.get(type(action).__name__, type(action).__name__),
            "nargs": _jsonable(action.nargs),
            "choices": _jsonable(list(action.choices)) if action.choices else None,
            "required": bool(action.required),
            "default": None if action.default is argparse.SUPPRESS else _jsonable(action.default),
        }
        if action.option_strings:
            names = sorted(action.option_strings, key=lambda s: (not s.startswith("--"), s))
            entry["aliases"] = sorted(names[1:])
            options[names[0]] = entry
        else:
            positionals.append({"name": action.dest, **entry})
    exclusive = sorted(sorted(max(a.option_strings, key=len) for a in group._group_actions
                              if a.option_strings)
                       for group in parser._mutually_exclusive_groups)
    described: dict[str, Any] = {"options": dict(sorted(options.items())),
                                 "positionals": positionals,
                                 "mutually_exclusive": exclusive}
    if subcommands:
        described["subcommands"] = dict(sorted(subcommands.items()))
    return described


def _dump_cli(root: Path) -> dict[str, Any]:
    src = (root / "src").resolve()
    sys.path.insert(0, str(src))
    import changegate
    from changegate import cli, result

    if not Path(changegate.__file__).resolve().is_relative_to(src):
        raise RuntimeError(f"changegate imported from {changegate.__file__}, not {src}")
    commands: dict[str, Any] = {}
    for name in cli.COMMANDS:
        module = cli.load_command(name)
        if module is None:
            commands[name] = {"available": False}
            continue
        parser = argparse.ArgumentParser(prog=f"changegate {name}")
        module.configure(parser)
        if name in cli.GATE_COMMANDS or name == "check":
            cli.add_common_arguments(parser)
        commands[name] = {"available": True, **_describe_parser(parser)}
    top = _describe_parser(cli._top_parser())
    top.pop("subcommands", None)
    return {
        "cli": {"program": "changegate", "options": top["options"],
                "commands": dict(sorted(commands.items()))},
        "exit-codes": {
            "cli": {str(int(code)): code.name.lower() for code in result.ExitCode},
            "status": [s.value for s in result.Status],
            "severity": [s.value for s in result.Severity],
        },
    }


def _action_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root).as_posix()
    return "action.yml" if rel == "action.yml" else rel.removesuffix("/action.yml")


def action_io(root: Path) -> dict[str, Any]:
    paths = [root / "action.yml", *sorted((root / "actions").glob("*/action.yml"))]
    actions: dict[str, Any] = {}
    for path in paths:
        if not path.is_file():
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        inputs = {name: {"required": bool(spec.get("required", False)),
                         "default": _jsonable(spec.get("default"))}
                  for name, spec in (data.get("inputs") or {}).items()}
        outputs = sorted(data.get("outputs") or {})
        actions[_action_name(root, path)] = {"inputs": dict(sorted(inputs.items())),
                                             "outputs": outputs,
                                             "using": data.get("runs", {}).get("using")}
    return actions


def _template_docs(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    header, body = yaml.safe_load_all(path.read_text(encoding="utf-8"))
    return header, body


def template_inputs(root: Path) -> dict[str, Any]:
    templates: dict[str, Any] = {}
    for path in sorted((root / "gitlab-templates").glob("*.yml")):
        header, body = _template_docs(path)
        inputs = {}
        for name, raw in (header.get("spec", {}).get("inputs") or {}).items():
            spec = raw or {}
            inputs[name] = {key: _jsonable(spec[key]) for key in
                            ("type", "default", "options", "regex") if key in spec}
            inputs[name]["required"] = "default" not in spec
        jobs = {}
        for job_name, job in (body or {}).items():
            reports = sorted((job.get("artifacts") or {}).get("reports") or {})
            allowed = (job.get("allow_failure") or {})
            jobs[job_name] = {"reports": reports,
                              "allow_failure_exit_codes": sorted(allowed.get("exit_codes", []))
                              if isinstance(allowed, dict) else []}
        templates[f"gitlab-templates/{path.name}"] = {"inputs": dict(sorted(inputs.items())),
                                                      "jobs": jobs}
    return templates


def live(root: Path = ROOT) -> dict[str, Any]:
    """Every contract file's content, extracted from the source tree at `root`."""
    dumped = _cli_dump(root)
    templates = template_inputs(root)
    exit_codes = dumped["exit-codes"]
    extra = sorted({code for t in templates.values() for job in t["jobs"].values()
                    for code in job["allow_failure_exit_codes"]})
    exit_codes["gitlab-templates"] = {
        str(code): "inconclusive, tolerated (fail-on-error: false; allow_failure)"
        for code in extra}
    schema = json.loads((root / "src" / "changegate" / "policy" / "schema.json")
                        .read_text(encoding="utf-8"))
    return {
        "cli.json": dumped["cli"],
        "exit-codes.json": exit_codes,
        "json-fields.json": json_fields(),
        "policy.schema.json": schema,
        "action-io.json": action_io(root),
        "template-inputs.json": templates,
    }


def render(content: Any) -> str:
    """The canonical bytes of a contract file: sorted keys, two-space indent, final newline."""
    return json.dumps(content, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# -- snapshots ------------------------------------------------------------------------------------

def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def snapshot_versions(root: Path = ROOT) -> list[str]:
    base = root / "contracts"
    if not base.is_dir():
        return []
    return sorted((p.name for p in base.iterdir() if p.is_dir() and VERSION_DIR.match(p.name)),
                  key=version_key)


def previous_version(version: str, root: Path = ROOT) -> str | None:
    older = [v for v in snapshot_versions(root) if version_key(v) < version_key(version)]
    return older[-1] if older else None


def load_snapshot(version: str, root: Path = ROOT) -> dict[str, Any]:
    directory = root / "contracts" / version
    return {name: json.loads((directory / name).read_text(encoding="utf-8"))
            for name in CONTRACT_FILES if (directory / name).is_file()}


def write_snapshot(version: str, contracts: Mapping[str, Any], root: Path = ROOT) -> Path:
    directory = root / "contracts" / version
    directory.mkdir(parents=True, exist_ok=True)
    for name in CONTRACT_FILES:
        (directory / name).write_text(render(contracts[name]), encoding="utf-8")
    return directory


def stale_files(version: str, contracts: Mapping[str, Any], root: Path = ROOT) -> list[str]:
    """The snapshot files of `version` whose bytes differ from the live contracts."""
    directory = root / "contracts" / version
    stale = []
    for name in CONTRACT_FILES:
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != render(contracts[name]):
            stale.append(name)
    return stale


# -- diff -----------------------------------------------------------------------------------------

@dataclass(frozen=True, order=True)
class Change:
    """One contract change. `token` is what the upgrade notes must name (backticks ignored)."""

    contract: str
    token: str
    kind: str  # added | removed | changed
    detail: str

    @property
    def breaking(self) -> bool:
        return self.kind != "added" or "required" in self.detail

    def line(self) -> str:
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.kind}: {self.token} ({self.contract}{detail})"


def _compare(contract: str, old: Mapping[str, Any], new: Mapping[str, Any],
             token: Any, describe: Any = None) -> list[Change]:
    """Added, removed and changed keys of two flat mappings, each named by `token(key)`."""
    changes = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            detail = describe(new[key]) if describe else ""
            changes.append(Change(contract, token(key), "added", detail))
        elif key not in new:
            changes.append(Change(contract, token(key), "removed", ""))
        elif old[key] != new[key]:
            changes.append(Change(contract, token(key), "changed",
                                  _what_changed(old[key], new[key])))
    return changes


def _what_changed(old: Any, new: Any) -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        parts = [f"{k}: {json.dumps(old.get(k))} -> {json.dumps(new.get(k))}"
                 for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
        return "; ".join(parts)
    return f"{json.dumps(old)} -> {json.dumps(new)}"


def _flat_cli(cli: Mapping[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for option, spec in (cli.get("options") or {}).items():
        flat[f"changegate {option}"] = spec

    def command(prefix: str, spec: Mapping[str, Any]) -> None:
        flat[prefix] = {"available": spec.get("available", True),
                        "mutually_exclusive": spec.get("mutually_exclusive", [])}
        for option, option_spec in (spec.get("options") or {}).items():
            flat[f"{prefix} {option}"] = option_spec
        for index, positional in enumerate(spec.get("positionals") or []):
            flat[f"{prefix} <{positional['name']}>"] = {**positional, "position": index}
        for name, sub in (spec.get("subcommands") or {}).items():
            command(f"{prefix} {name}", sub)

    for name, spec in (cli.get("commands") or {}).items():
        command(f"changegate {name}", spec)
    return flat


def _flat_exit_codes(codes: Mapping[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for code, meaning in (codes.get("cli") or {}).items():
        flat[f"exit code {code}"] = meaning
    for code, meaning in (codes.get("gitlab-templates") or {}).items():
        flat[f"template exit code {code}"] = meaning
    for status in codes.get("status") or []:
        flat[f"status {status}"] = True
    for severity in codes.get("severity") or []:
        flat[f"severity {severity}"] = True
    return flat


def _flat_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    flat = dict(fields.get("every-gate") or {})
    for gate, paths in (fields.get("gates") or {}).items():
        for path, kind in paths.items():
            flat[f"{gate}.{path}"] = kind
    return flat


def _resolve(schema: Mapping[str, Any], node: Any) -> Any:
    seen = set()
    while isinstance(node, dict) and "$ref" in node and node["$ref"] not in seen:
        seen.add(node["$ref"])
        target: Any = schema
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        extra = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **extra} if extra else target
    return node


SIGNATURE_KEYS = ("type", "enum", "const", "default", "pattern", "minimum", "maximum",
                  "minLength", "maxLength", "format", "additionalProperties", "required")


def _flat_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Policy keys (`gates.audit.fail_on`, `environments.*.gates[]`) and their constraints."""
    flat: dict[str, Any] = {}

    def visit(path: str, node: Any, depth: int) -> None:
        node = _resolve(schema, node)
        if not isinstance(node, dict) or depth > 12:
            return
        if path:
            flat[path] = {k: node[k] for k in SIGNATURE_KEYS
                          if k in node and not isinstance(node[k], dict)}
        for variant in ("oneOf", "anyOf", "allOf"):
            for option in node.get(variant, []) or []:
                visit(path, option, depth + 1)
        for name, child in (node.get("properties") or {}).items():
            visit(f"{path}.{name}" if path else name, child, depth + 1)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            visit(f"{path}.*" if path else "*", extra, depth + 1)
        items = node.get("items")
        if isinstance(items, dict):
            visit(f"{path}[]", items, depth + 1)

    visit("", schema, 0)
    return flat


def _flat_actions(actions: Mapping[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, spec in actions.items():
        flat[name] = {"using": spec.get("using")}
        for inp, inp_spec in (spec.get("inputs") or {}).items():
            flat[f"{name} input {inp}"] = inp_spec
        for out in spec.get("outputs") or []:
            flat[f"{name} output {out}"] = True
    return flat


def _flat_templates(templates: Mapping[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, spec in templates.items():
        flat[name] = {"jobs": sorted(spec.get("jobs") or {})}
        for inp, inp_spec in (spec.get("inputs") or {}).items():
            flat[f"{name} input {inp}"] = inp_spec
        for job, job_spec in (spec.get("jobs") or {}).items():
            flat[f"{name} job {job}"] = job_spec
    return flat


def _required_note(spec: Any) -> str:
    return "required" if isinstance(spec, dict) and spec.get("required") else ""


FLATTENERS: dict[str, Any] = {
    "cli.json": _flat_cli,
    "exit-codes.json": _flat_exit_codes,
    "json-fields.json": _flat_fields,
    "policy.schema.json": _flat_schema,
    "action-io.json": _flat_actions,
    "template-inputs.json": _flat_templates,
}


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Every change between two contract sets, each with the token the notes must name."""
    changes: list[Change] = []
    for name in CONTRACT_FILES:
        flatten = FLATTENERS[name]
        before = flatten(old.get(name) or {})
        after = flatten(new.get(name) or {})
        changes += _compare(name.removesuffix(".json"), before, after, lambda k: k,
                            _required_note)
    return sorted(changes)


# -- the CHANGELOG --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Release:
    version: str
    date: str
    body: str

    def section(self, title: str) -> str | None:
        """The text of `### <title>` (case-insensitive), None when the release has none."""
        match = re.search(rf"^###\s+{re.escape(title)}\s*$(.*?)(?=^###?\s|\Z)", self.body,
                          re.MULTILINE | re.DOTALL | re.IGNORECASE)
        return match.group(1).strip() if match else None


RELEASE_HEADING = re.compile(r"^## \[?(\d+\.\d+\.\d+)\]?\s*(?:-\s*(\S+))?\s*$", re.MULTILINE)


def changelog_releases(text: str) -> dict[str, Release]:
    """Each `## [x.y.z] - date` section of a Keep a Changelog style file."""
    releases: dict[str, Release] = {}
    headings = list(RELEASE_HEADING.finditer(text))
    for index, heading in enumerate(headings):
        end = headings[index + 1].start() if index + 1 < len(headings) else len(text)
        following = re.search(r"^## ", text[heading.end():end], re.MULTILINE)
        stop = heading.end() + following.start() if following else end
        releases[heading.group(1)] = Release(heading.group(1), heading.group(2) or "",
                                             text[heading.end():stop])
    return releases


def undocumented(changes: Iterable[Change], notes: str) -> list[Change]:
    """The changes whose token the upgrade notes do not mention (backticks ignored)."""
    plain = notes.replace("`", "")
    return [c for c in changes if not re.search(
        rf"(?<![\w.-]){re.escape(c.token)}(?![\w\[-]|\.[\w\[])", plain)]


def check(version: str, root: Path = ROOT, contracts: Mapping[str, Any] | None = None
          ) -> list[str]:
    """Problems with `version`'s contracts: a stale snapshot, or changes the notes omit."""
    problems: list[str] = []
    contracts = contracts if contracts is not None else live(root)
    stale = stale_files(version, contracts, root)
    if stale:
        problems.append(f"contracts/{version}/ differs from the code for {', '.join(stale)}: "
                        f"run `python scripts/release_contracts.py write` and name each change "
                        f"in CHANGELOG.md's upgrade notes")
    previous = previous_version(version, root)
    if previous is None:
        return problems
    changes = diff(load_snapshot(previous, root), contracts)
    changelog = (root / "CHANGELOG.md").read_text(encoding="utf-8")
    release = changelog_releases(changelog).get(version)
    notes = release.section("Upgrade notes") if release else None
    if notes is None:
        problems.append(f"CHANGELOG.md has no '### Upgrade notes' for {version}")
        notes = ""
    for change in undocumented(changes, notes):
        problems.append(f"{version} upgrade notes do not name {change.line()}")
    return problems


def _project_version(root: Path) -> str:
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if not match:
        raise SystemExit("pyproject.toml has no static version")
    return match.group(1)


def _tagged(version: str, root: Path) -> bool:
    proc = subprocess.run(["git", "-C", str(root), "tag", "--list", f"v{version}"],
                          capture_output=True, text=True, check=False)
    return bool(proc.stdout.strip())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_dump-cli"]:
        print(json.dumps(_dump_cli(Path(argv[1]))))
        return 0
    parser = argparse.ArgumentParser(prog="release_contracts.py",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["write", "check", "diff"])
    parser.add_argument("versions", nargs="*", help="diff: OLD NEW")
    parser.add_argument("--version", help="default: pyproject.toml's version")
    parser.add_argument("--force", action="store_true",
                        help="write: overwrite the snapshot of a version already tagged")
    args = parser.parse_args(argv)
    version = args.version or _project_version(ROOT)
    if args.command == "write":
        if _tagged(version, ROOT) and not args.force:
            print(f"v{version} is tagged: its contracts are released and frozen; bump the "
                  "version instead (or --force)", file=sys.stderr)
            return 1
        contracts = live(ROOT)
        directory = write_snapshot(version, contracts, ROOT)
        print(f"wrote {directory.relative_to(ROOT)}/")
        previous = previous_version(version, ROOT)
        if previous:
            for change in diff(load_snapshot(previous, ROOT), contracts):
                print(f"  {change.line()}")
        return 0
    if args.command == "diff":
        if len(args.versions) != 2:
            parser.error("diff needs OLD and NEW versions")
        for change in diff(load_snapshot(args.versions[0]), load_snapshot(args.versions[1])):
            print(change.line())
        return 0
    problems = check(version, ROOT)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not problems:
        print(f"contracts/{version}/ matches the code")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
