"""`changegate policy`: validate a policy file, or print the JSON Schema for editors."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path

HELP = "validate a policy file or print its JSON Schema"


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    validate = actions.add_parser("validate", help="validate a policy file")
    validate.add_argument("file", nargs="?", default=".changegate.yml")
    actions.add_parser("schema", help="print the policy JSON Schema")


def execute(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from changegate.errors import ChangegateError
    from changegate.policy.loader import parse_policy, schema

    if args.action == "schema":
        sys.stdout.write(json.dumps(schema(), indent=2) + "\n")
        return 0
    path = Path(args.file)
    if not path.is_file():
        sys.stderr.write(f"{args.file}: no such file\n")
        return 2
    try:
        policy = parse_policy(path.read_bytes(), args.file)
    except ChangegateError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    envs = ", ".join(policy.environments()) or "none"
    sys.stderr.write(f"{args.file}: valid (sha256 {policy.sha256}; environments: {envs})\n")
    return 0
