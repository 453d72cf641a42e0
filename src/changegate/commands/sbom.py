"""`changegate sbom`: generate a validated CycloneDX SBOM, write it, check it against the policy."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from changegate.commands import RunContext
    from changegate.result import GateResult

HELP = "generate and check a CycloneDX SBOM"


def configure(parser: argparse.ArgumentParser) -> None:
    """The source (one of three), the output, and the document's format and spec version.

    Every option defaults to None so `changegate check` can run the gate with the policy's
    `gates.sbom` settings (source, output, format, spec_version) filling in.
    """
    source = parser.add_argument_group("source (default: the policy's source, else the first of "
                                       "uv.lock, poetry.lock, pylock.toml, Pipfile.lock, "
                                       "requirements.txt found here)")
    choice = source.add_mutually_exclusive_group()
    choice.add_argument("--python", metavar="PATH",
                        help="an installed environment: its interpreter or venv directory")
    choice.add_argument("--requirements", metavar="FILE",
                        help="a requirements file (pins, --hash, -r includes)")
    choice.add_argument("--lock", metavar="FILE",
                        help="pylock.toml, uv.lock, poetry.lock or Pipfile.lock")
    source.add_argument("--pyproject", metavar="FILE",
                        help="the project's pyproject.toml, the SBOM's root (default: beside "
                             "the source, else in the repository root)")
    out = parser.add_argument_group("document")
    out.add_argument("--output", "-o", metavar="FILE",
                     help="where to write the SBOM (default: sbom.cdx.json / sbom.cdx.xml)")
    out.add_argument("--format", choices=["json", "xml"],
                     help="document format (default: from --output's extension, else json)")
    out.add_argument("--spec-version", choices=["1.5", "1.6"], dest="spec_version",
                     help="CycloneDX specification version (default: the policy's, else 1.6)")


def execute(args: argparse.Namespace, run: RunContext) -> GateResult:
    from changegate.gates.sbom.gate import SbomRequest
    from changegate.gates.sbom.gate import run as run_gate

    request = SbomRequest(
        workdir=run.workdir, environ=run.environ,
        python=getattr(args, "python", None), requirements=getattr(args, "requirements", None),
        lock=getattr(args, "lock", None), pyproject=getattr(args, "pyproject", None),
        output=getattr(args, "output", None), format=getattr(args, "format", None),
        spec_version=getattr(args, "spec_version", None))
    return run_gate(request, run.gate_settings("sbom"))
